package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// lineageRows is the lineage rows (l/) and index (h/) of st, counted.
func lineageRows(t *testing.T, st *state.Store) map[string]state.RowKind {
	t.Helper()
	kinds, err := st.RowStats()
	require.NoError(t, err)
	out := map[string]state.RowKind{}
	for _, k := range kinds {
		if k.Tag == "l/" || k.Tag == "h/" {
			out[k.Tag] = k
		}
	}
	return out
}

func billingOf(t *testing.T, st *state.Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	require.NoError(t, st.BillingTotals(func(team, month, class string, n int64) error {
		out[team+"/"+month+"/"+class] = n
		return nil
	}))
	return out
}

// TestRebuild: after a run, replaying the topics into an empty replica
// gives the same fingerprint, offsets and billing totals; progress rises
// to its total; a rebuild of a replica that is already there does nothing;
// and a truncated identity_log is refused.
func TestRebuild(t *testing.T) {
	h := newHarness(t)
	cfg := gen.DefaultConfig()
	cfg.Seed = 5
	cfg.Users = 60
	cfg.PadBytes = 0
	recs, in := mixedStream(t, cfg)
	dir := t.TempDir()
	inst := h.start(dir)
	h.produce(recs)
	out := h.collect(t, in)
	wait(t, 20*time.Second, "billing view", func() bool {
		var n int64
		_ = inst.st.BillingTotals(func(_, _, _ string, c int64) error { n += c; return nil })
		return n == int64(len(out.stamped))
	})
	inst.stop(t)

	orig, err := state.Open(dir, state.Options{Logger: h.log})
	require.NoError(t, err)
	wantFP, err := orig.Fingerprint()
	require.NoError(t, err)
	wantApplied, err := orig.AppliedOffsets()
	require.NoError(t, err)
	wantBilling := billingOf(t, orig)

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	st, err := state.Open(t.TempDir(), state.Options{Logger: h.log})
	require.NoError(t, err)
	defer st.Close()
	var last RebuildProgress
	calls := 0
	res, err := Rebuild(ctx, h.cfg, st, h.log, func(p RebuildProgress) {
		assert.GreaterOrEqual(t, p.Done(), last.Done(), "progress never goes back")
		last = p
		calls++
	})
	require.NoError(t, err)
	t.Logf("rebuild: %d identity records, %d billing offsets in %v (%d progress calls)", last.IdentityTotal, last.BillingTotal, res.Took, calls)
	assert.Equal(t, last.Total(), last.Done())
	assert.NotZero(t, last.IdentityTotal)
	assert.NotZero(t, last.BillingTotal)
	assert.Equal(t, res.Applied+res.Skipped+res.Malformed+res.Rejected, last.IdentityTotal)
	assert.Zero(t, res.Malformed+res.Rejected, "the pipeline logs only ops every replica can apply")

	fp, err := st.Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, wantFP, fp, "rebuilt fingerprint")
	assert.Equal(t, wantApplied, res.IdentityLog)
	assert.Equal(t, wantBilling, billingOf(t, st), "billing totals")
	bo, err := orig.BillingOffsets()
	require.NoError(t, err)
	assert.Equal(t, bo, res.BillingUsage, "billing offsets: the instance's view had caught up too")

	// As a long rebuild runs, with the lineage index held back and written
	// at the end (state.Store.SetDeferredIndex): the same state, lineage
	// index included, row for row.
	saved := deferIndexFrom
	defer func() { deferIndexFrom = saved }()
	deferIndexFrom = 0
	// rebuildInto rebuilds into a new store opened with o and checks that
	// it holds what the first rebuild made.
	rebuildInto := func(how string, o state.Options) *state.Store {
		t.Helper()
		into, err := state.Open(t.TempDir(), o)
		require.NoError(t, err)
		t.Cleanup(func() { into.Close() })
		_, err = Rebuild(ctx, h.cfg, into, h.log, nil)
		require.NoError(t, err)
		fp, err := into.Fingerprint()
		require.NoError(t, err)
		assert.Equal(t, wantFP, fp, "rebuilt fingerprint, %s", how)
		assert.Equal(t, lineageRows(t, st), lineageRows(t, into), "lineage rows and index, %s", how)
		assert.Equal(t, billingOf(t, st), billingOf(t, into), "billing totals, %s", how)
		return into
	}
	deferred := rebuildInto("index deferred", state.Options{Logger: h.log})
	assert.NotZero(t, lineageRows(t, deferred)["h/"].Rows)
	require.NoError(t, orig.EachLineage(func(row unionfind.MergeRow, _ uint64) error {
		for _, id := range []string{row.Into, row.Other} {
			if id == "" {
				continue
			}
			want, err := orig.Lineage(row.Team, id)
			require.NoError(t, err)
			got, err := deferred.Lineage(row.Team, id)
			require.NoError(t, err)
			require.Equal(t, want, got, "explain %s/%s, index deferred", row.Team, id)
		}
		return nil
	}))

	// As `resolver rebuild` runs it: into a store opened with
	// state.Options.Replay, level 0 compacted once at the end
	// (CompactLevelZero), small memtables so that it holds several tables,
	// the index held back too: the same state and lineage.
	rebuildInto("Replay store", state.Options{Logger: h.log, Replay: true, MemTableBytes: 1 << 20})
	deferIndexFrom = saved

	// Again on the rebuilt replica: nothing to do.
	res, err = Rebuild(ctx, h.cfg, st, h.log, func(p RebuildProgress) { last = p })
	require.NoError(t, err)
	assert.Zero(t, last.Total())
	assert.Zero(t, res.Applied)
	fp2, err := st.Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, wantFP, fp2)

	// A truncated identity_log cannot rebuild an empty replica, but the
	// original replica, which applied past the deleted records, may catch up.
	adm := kadm.NewClient(h.client())
	ends, err := adm.ListEndOffsets(ctx, h.cfg.Topics.IdentityLog)
	require.NoError(t, err)
	del := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 && len(del) == 0 {
			del.AddOffset(o.Topic, o.Partition, 1, -1)
		}
	})
	dr, err := adm.DeleteRecords(ctx, del)
	require.NoError(t, err)
	require.NoError(t, dr.Error())
	empty, err := state.Open(t.TempDir(), state.Options{Logger: h.log})
	require.NoError(t, err)
	defer empty.Close()
	_, err = Rebuild(ctx, h.cfg, empty, h.log, nil)
	require.True(t, errors.Is(err, ErrLogTruncated), "%v", err)
	_, err = Rebuild(ctx, h.cfg, orig, h.log, nil)
	require.NoError(t, err)
	require.NoError(t, orig.Close())
}
