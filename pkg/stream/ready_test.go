package stream

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestReadyAfterCatchUp pins readiness (issue 4): a fresh instance joining
// after others have filled identity_log must not stamp from a stale
// replica. identity_log holds thousands of merges (user-i into anon-i) when
// the instance starts, and events_raw already holds personless events of
// some user-i, which the instance's workers can fetch the moment they join
// the group. Ready must close only once the applier has reached the log's
// end as of start-up, and every one of those events must be stamped with
// its merged person (anon-i's), never user-i's implicit one.
func TestReadyAfterCatchUp(t *testing.T) {
	const merges = 20000
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()
	adm := kadm.NewClient(h.client())
	require.NoError(t, EnsureTopics(ctx, adm, h.cfg.Topics.All(), h.cfg.TopicPartitions, -1, time.Second, h.log))

	// What other instances logged before this one starts.
	base := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ops := make([]*kgo.Record, 0, merges)
	for i := range merges {
		op := unionfind.Op{
			Kind:       unionfind.OpEvent,
			Source:     unionfind.Source{Topic: "earlier", Partition: 0, Offset: int64(i)},
			Team:       "1",
			DistinctID: fmt.Sprintf("user-%d", i),
			EventUUID:  uuid.NewString(),
			Timestamp:  base.UnixMilli() + int64(i),
			Merge:      &unionfind.Merge{Other: fmt.Sprintf("anon-%d", i), Guarded: true},
		}
		b, err := encodeOp(&op)
		require.NoError(t, err)
		ops = append(ops, &kgo.Record{Topic: h.cfg.Topics.IdentityLog, Key: []byte("1"), Value: b})
	}
	require.NoError(t, h.client().ProduceSync(ctx, ops...).FirstErr())
	_, err := topicPartitions(ctx, adm, h.cfg.Topics.IdentityLog)
	require.NoError(t, err)
	endsAtStart, err := adm.ListEndOffsets(ctx, h.cfg.Topics.IdentityLog)
	require.NoError(t, err)
	want := map[int32]int64{}
	endsAtStart.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })

	// Events waiting for the instance: personless, so stamping them is a
	// pure read of the replica.
	var evs []*kgo.Record
	wantPerson := map[string]string{}
	for i := 0; i < merges; i += merges / 200 {
		u := uuid.NewString()
		did := fmt.Sprintf("user-%d", i)
		evs = append(evs, &kgo.Record{Key: []byte("1:" + did), Value: fmt.Appendf(nil,
			`{"uuid":%q,"event":"$pageview","distinct_id":%q,"team_id":1,"timestamp":%q,"properties":{"$process_person_profile":false}}`,
			u, did, base.Add(time.Hour).Format(time.RFC3339))})
		wantPerson[u] = unionfind.ImplicitPersonID("1", fmt.Sprintf("anon-%d", i)).String()
	}
	h.produce(evs)

	start := time.Now()
	inst := h.start(t.TempDir())
	defer inst.stop(t)
	offs := inst.p.Applier().Offsets()
	t.Logf("ready after %v with %d merges in identity_log", time.Since(start), merges)
	for p, end := range want {
		if end > 0 {
			assert.GreaterOrEqual(t, offs[p], end, "partition %d: ready before the applier reached the end of identity_log as of start-up", p)
		}
	}

	out := h.readCommitted(len(evs), 60*time.Second, h.cfg.Topics.Person)
	require.Len(t, out[h.cfg.Topics.Person], len(evs))
	stale := 0
	for _, r := range out[h.cfg.Topics.Person] {
		s := decodeStamped(t, r)
		if s.PersonID != wantPerson[s.UUID] {
			stale++
		}
	}
	assert.Zero(t, stale, "events stamped from a replica that had not caught up")
}
