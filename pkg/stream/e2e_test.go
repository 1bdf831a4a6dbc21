package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/resolve"
	"github.com/resolver-dev/resolver/pkg/shred"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// mixedStream is a realistic generated stream: anonymous browsing, logins,
// aliases, personless traffic, illegal ids, malformed records.
func mixedStream(t *testing.T, cfg gen.Config) ([]*kgo.Record, []gen.Record) {
	t.Helper()
	g := gen.New(cfg)
	var recs []*kgo.Record
	var gr []gen.Record
	for {
		r, ok := g.Next()
		if !ok {
			break
		}
		// Written by capture when the event happened: the Kafka
		// timestamp bills it (docs/SEMANTICS.md §7).
		recs = append(recs, &kgo.Record{Key: r.Key, Value: r.Value, Timestamp: r.Time})
		gr = append(gr, r)
	}
	require.NotEmpty(t, recs)
	return recs, gr
}

// outputs are the committed outputs of a run, checked for exactly-once.
type outputs struct {
	stamped map[string]stamped // by uuid
	dead    map[string]string  // original value → reason
}

// collect reads events_person and events_dead_letter until every input is
// accounted for, and checks that none appears twice.
func (h *harness) collect(t *testing.T, in []gen.Record) outputs {
	t.Helper()
	out := h.readCommitted(len(in), 120*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	o := outputs{stamped: map[string]stamped{}, dead: map[string]string{}}
	for _, r := range out[h.cfg.Topics.Person] {
		s := decodeStamped(t, r)
		_, dup := o.stamped[s.UUID]
		require.False(t, dup, "uuid %s stamped twice", s.UUID)
		o.stamped[s.UUID] = s
	}
	for _, r := range out[h.cfg.Topics.DeadLetter] {
		_, dup := o.dead[string(r.Value)]
		require.False(t, dup, "record dead-lettered twice: %s", r.Value)
		o.dead[string(r.Value)] = header(r, "error")
	}
	require.Equal(t, len(in), len(o.stamped)+len(o.dead), "count(stamped)+count(dead letters) = count(input)")
	for _, r := range in {
		if r.Kind == gen.KindMalformed {
			assert.Equal(t, r.Reason, o.dead[string(r.Value)], "dead-letter reason of %s", r.Value)
			continue
		}
		s, ok := o.stamped[r.UUID]
		require.True(t, ok, "input %s (%s) not stamped", r.UUID, r.Kind)
		assert.Equal(t, r.DistinctID, s.DistinctID)
	}
	return o
}

// folded is the persons and distinct-id feeds folded by version, as a
// ReplacingMergeTree would.
type folded struct {
	persons map[string]PersonRow     // team:id
	dids    map[string]DistinctIDRow // team:distinct_id
}

func (h *harness) fold(t *testing.T) folded {
	t.Helper()
	f := folded{persons: map[string]PersonRow{}, dids: map[string]DistinctIDRow{}}
	for _, r := range h.readAll(h.cfg.Topics.Persons) {
		var p PersonRow
		require.NoError(t, json.Unmarshal(r.Value, &p))
		k := p.Team + ":" + p.ID
		if cur, ok := f.persons[k]; !ok || p.Version > cur.Version {
			f.persons[k] = p
		} else if p.Version == cur.Version {
			require.Equal(t, cur, p, "two person rows with one version must be equal")
		}
	}
	for _, r := range h.readAll(h.cfg.Topics.DistinctIDs) {
		var d DistinctIDRow
		require.NoError(t, json.Unmarshal(r.Value, &d))
		k := d.Team + ":" + d.DistinctID
		if cur, ok := f.dids[k]; !ok || d.Version > cur.Version {
			f.dids[k] = d
		} else if d.Version == cur.Version {
			require.Equal(t, cur, d, "two distinct-id rows with one version must be equal")
		}
	}
	return f
}

// replayLog applies identity_log, as stored in Kafka, to a fresh in-memory
// store with the applier's duplicate rule: the identity core's answer for
// the stream of ops.
func (h *harness) replayLog(t *testing.T) *state.Memory {
	t.Helper()
	mem := state.NewMemory()
	g := unionfind.Graph{MaxMergeMove: h.cfg.MaxMergeMove, MaxPersonPropertiesBytes: h.cfg.MaxPersonPropertiesBytes}
	recs := h.readAll(h.cfg.Topics.IdentityLog)
	// Sealed values open with the keys of identity_keys, as the applier
	// opens them (every key was written before the ops sealed with it).
	ring, err := shred.NewRing(shred.RingConfig{Topic: h.cfg.Topics.Keys, Opts: []kgo.Opt{kgo.SeedBrokers(h.addr)}})
	require.NoError(t, err)
	defer ring.Close()
	require.NoError(t, ring.CatchUp(context.Background()))
	opener := &Applier{keys: ring, log: zap.NewNop()}
	byPart := map[int32][]*kgo.Record{}
	for _, r := range recs {
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	require.NoError(t, mem.Update(func(tx state.Tx) error {
		for p, rs := range byPart {
			hw := map[string]unionfind.Source{}
			for _, r := range rs {
				op, err := oplog.Decode(r.Value)
				require.NoError(t, err)
				k := fmt.Sprintf("%s/%d", op.Source.Topic, op.Source.Partition)
				if last, ok := hw[k]; ok && !last.Less(op.Source) {
					continue
				}
				hw[k] = op.Source
				op, err = opener.open(tx, &op)
				require.NoError(t, err)
				_, err = g.Apply(tx, &op)
				require.NoError(t, err, "log partition %d offset %d", p, r.Offset)
			}
		}
		return nil
	}))
	return mem
}

// checkFeedMatchesReplica checks that the folded feeds describe exactly the
// replica's identity state.
func checkFeedMatchesReplica(t *testing.T, f folded, st interface {
	Find(team, did string) (unionfind.Person, bool, error)
}) {
	t.Helper()
	require.NotEmpty(t, f.dids)
	for k, d := range f.dids {
		p, explicit, err := st.Find(d.Team, d.DistinctID)
		require.NoError(t, err)
		if d.IsDeleted {
			assert.False(t, explicit, "%s deleted in the feed but mapped in the replica", k)
			continue
		}
		require.True(t, explicit, "%s has a feed row but no person in the replica", k)
		assert.Equal(t, p.ID.String(), d.PersonID, "person of %s", k)
		row, ok := f.persons[d.Team+":"+d.PersonID]
		require.True(t, ok, "person %s of %s has no person row", d.PersonID, k)
		assert.False(t, row.IsDeleted, "person %s of %s folded as deleted", d.PersonID, k)
		assert.Equal(t, p.Version, row.Version, "version of person %s", d.PersonID)
		assert.Equal(t, p.Identified, row.IsIdentified, "is_identified of person %s", d.PersonID)
		assert.JSONEq(t, string(p.AppendPropertiesJSON(nil)), string(row.Properties), "properties of person %s", d.PersonID)
	}
}

// sequentialGroups runs the input through the identity core one event at a
// time, in input order, and returns each distinct id's person.
func sequentialGroups(t *testing.T, in []gen.Record, maxMove int) map[string]string {
	t.Helper()
	mem := state.NewMemory()
	g := unionfind.Graph{MaxMergeMove: maxMove}
	dec := event.NewDecoder(event.Options{})
	out := map[string]string{}
	for i, r := range in {
		ev, err := dec.Decode(r.Value, event.Source{Topic: "events_raw", Offset: int64(i), Timestamp: time.Now()})
		if err != nil {
			continue
		}
		if op, ok := resolve.Op(ev, unionfind.Source{Topic: "events_raw", Offset: int64(i)}); ok {
			require.NoError(t, mem.Update(func(tx state.Tx) error { _, err := g.Apply(tx, &op); return err }))
		}
		out[ev.Team+":"+ev.DistinctID] = ""
	}
	for k := range out {
		team, did := splitKey(k)
		p, _, err := mem.Find(team, did)
		require.NoError(t, err)
		out[k] = p.ID.String()
	}
	return out
}

func splitKey(k string) (string, string) {
	team, did, _ := strings.Cut(k, ":")
	return team, did
}

// TestPipelineMixedStream is the end-to-end test of issue 3: a realistic
// mixed stream through one instance; every input accounted for exactly once,
// the folded feeds equal the replica, the replica equals a replay of the
// identity log through the identity core, and (with no shared-device races
// in the stream) every id ends with the person that processing the input
// sequentially gives.
func TestPipelineMixedStream(t *testing.T) {
	h := newHarness(t)
	cfg := gen.DefaultConfig()
	cfg.Seed = 42
	cfg.Users = 120
	cfg.SharedDeviceRate = gen.None
	cfg.MalformedRate = 0.01
	cfg.IllegalIDRate = 0.01
	recs, in := mixedStream(t, cfg)
	t.Logf("%d input records", len(recs))

	inst := h.start(t.TempDir())
	h.produce(recs)
	out := h.collect(t, in)

	modes := map[string]int{}
	for _, s := range out.stamped {
		modes[s.PersonMode+"/"+s.BillingClass]++
	}
	t.Logf("stamped by mode/class: %v; dead letters: %d", modes, len(out.dead))
	assert.NotZero(t, modes["propertyless/anonymous"])
	assert.NotZero(t, modes["full/identified"])

	f := h.fold(t)
	checkFeedMatchesReplica(t, f, inst.st)

	wait(t, 10*time.Second, "billing view", func() bool {
		var n int64
		_ = inst.st.BillingTotals(func(_, _, _ string, c int64) error { n += c; return nil })
		return n == int64(len(out.stamped))
	})

	fpReplica, err := inst.st.Fingerprint()
	require.NoError(t, err)
	fpLog, err := h.replayLog(t).Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, fpLog, fpReplica, "replica fingerprint equals a replay of identity_log")

	seq := sequentialGroups(t, in, h.cfg.MaxMergeMove)
	var diffs []string
	for k, want := range seq {
		team, did := splitKey(k)
		p, _, err := inst.st.Find(team, did)
		require.NoError(t, err)
		if p.ID.String() != want {
			diffs = append(diffs, fmt.Sprintf("%s: pipeline %s, sequential %s", k, p.ID, want))
		}
	}
	sort.Strings(diffs)
	assert.Empty(t, diffs, "persons differ from sequential processing")
	inst.stop(t)
}

// TestPipelineAbortedTransaction pins exactly-once through aborts: the first
// transactions are aborted by an injected failure, their records are
// processed again, and every output appears once.
func TestPipelineAbortedTransaction(t *testing.T) {
	h := newHarness(t)
	cfg := gen.DefaultConfig()
	cfg.Seed = 3
	cfg.Users = 40
	recs, in := mixedStream(t, cfg)

	fails := 3
	inst := h.start(t.TempDir(), func(p *Pipeline) {
		p.failBeforeEnd = func() error {
			if fails > 0 {
				fails--
				return fmt.Errorf("injected failure")
			}
			return nil
		}
	})
	h.produce(recs)
	h.collect(t, in)
	assert.GreaterOrEqual(t, inst.p.Stats().Aborted.Load(), int64(3))
	checkFeedMatchesReplica(t, h.fold(t), inst.st)
	inst.stop(t)
}

// TestPipelineRestart stops the resolver cleanly mid-stream, restarts the
// embedded broker on its data dir and the pipeline on its state dir, and
// checks nothing is lost or duplicated.
func TestPipelineRestart(t *testing.T) {
	brokerDir, stateDir := t.TempDir(), t.TempDir()
	h := newHarness(t)
	h.broker.Close()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", DataDir: brokerDir, MinSessionTimeout: time.Second, Logger: h.log})
	require.NoError(t, err)
	h.broker, h.addr = b, b.Addrs()[0]
	h.cfg.Kafka.Brokers = []string{h.addr}

	cfg := gen.DefaultConfig()
	cfg.Seed = 11
	cfg.Users = 80
	recs, in := mixedStream(t, cfg)
	half := len(recs) / 2

	inst := h.start(stateDir)
	h.produce(recs[:half])
	wait(t, 60*time.Second, "some batches committed", func() bool { return inst.p.Stats().Consumed.Load() > int64(half/4) })
	inst.stop(t)

	h.broker.Close()
	b, err = broker.Start(broker.Config{Listen: h.addr, DataDir: brokerDir, MinSessionTimeout: time.Second, Logger: h.log})
	require.NoError(t, err)
	h.broker = b
	t.Cleanup(b.Close)

	inst = h.start(stateDir)
	h.produce(recs[half:])
	h.collect(t, in)
	checkFeedMatchesReplica(t, h.fold(t), inst.st)
	fpReplica, err := inst.st.Fingerprint()
	require.NoError(t, err)
	fpLog, err := h.replayLog(t).Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, fpLog, fpReplica)
	inst.stop(t)
}

// TestPipelineWorkers runs one instance with three worker sessions: every
// input is still accounted for exactly once, and the replica still equals a
// replay of the identity log.
func TestPipelineWorkers(t *testing.T) {
	h := newHarness(t)
	h.cfg.Workers = 3
	cfg := gen.DefaultConfig()
	cfg.Seed = 21
	cfg.Users = 60
	recs, in := mixedStream(t, cfg)
	inst := h.start(t.TempDir())
	h.produce(recs)
	h.collect(t, in)
	checkFeedMatchesReplica(t, h.fold(t), inst.st)
	fpReplica, err := inst.st.Fingerprint()
	require.NoError(t, err)
	fpLog, err := h.replayLog(t).Fingerprint()
	require.NoError(t, err)
	assert.Equal(t, fpLog, fpReplica)
	inst.stop(t)
}
