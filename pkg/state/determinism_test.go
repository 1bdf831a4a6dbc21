package state

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// logOps makes n random ops as if read from identity_log partition 0 at
// offsets 0..n-1, from 4 source partitions in source order. Deletes name the
// implicit id of a distinct_id, which is the person's id whenever that id
// created it. The universe is large (50k ids per team) so that persons stay
// small, as they do in real traffic: random $merge_dangerously over a small
// universe makes one giant person that every merge relabels.
func logOps(n int, seed uint64) []unionfind.Op {
	r := rand.New(rand.NewPCG(seed, 7))
	c := randChooser{r}
	u := bigUniverse(50_000)
	ops := make([]unionfind.Op, n)
	for i := range ops {
		src := unionfind.Source{Topic: "events_raw", Partition: int32(i % 4), Offset: int64(i / 4)}
		ops[i] = genOp(c, u, src, unionfind.ImplicitPersonID)
	}
	return ops
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }

var errCrash = errors.New("simulated crash")

// applyLog is the applier's loop in miniature: from the recorded applied
// offset (max_merge_move 200), ops in batches of one Update each, skipping sources at or below
// the high water mark, storing outbox rows, and recording the next offset
// in the same transaction. With crashAt >= 0 it stops at that op in the
// middle of a batch, without committing the batch, and returns errCrash.
// A batch too big for one transaction is halved and retried.
func applyLog(t testing.TB, s *Store, ops []unionfind.Op, batch, crashAt int) error {
	t.Helper()
	g := unionfind.Graph{MaxMergeMove: 200}
	offs, err := s.AppliedOffsets()
	if err != nil {
		t.Fatal(err)
	}
	next := int(offs[0])
	size := batch
	for next < len(ops) {
		end := min(next+size, len(ops))
		err := s.Update(func(tx Tx) error {
			for i := next; i < end; i++ {
				if i == crashAt {
					return errCrash
				}
				op := &ops[i]
				hw, ok, err := tx.HighWater(0, op.Source.Topic, op.Source.Partition)
				if err != nil {
					return err
				}
				if ok && !hw.Less(op.Source) {
					continue // a duplicate: already applied
				}
				res, err := g.Apply(tx, op)
				if err != nil {
					return err
				}
				if err := tx.PutOutbox(op.Source, res); err != nil {
					return err
				}
				if err := tx.SetHighWater(0, op.Source); err != nil {
					return err
				}
			}
			return tx.SetApplied(0, int64(end))
		})
		if IsTxnTooBig(err) && size > 1 {
			size /= 2 // as the applier does: halve the batch and retry
			continue
		}
		if err != nil {
			return err
		}
		next, size = end, batch
	}
	return nil
}

func fingerprint(t testing.TB, s *Store) string {
	t.Helper()
	fp, err := s.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestDeterminism: the same 100k random ops applied to two fresh Badger
// stores in batches of 500 give equal fingerprints; a third store that
// crashes in the middle of a batch, is closed without committing it,
// reopened, and resumes from AppliedOffsets (with other batch boundaries)
// ends with the same fingerprint. Replaying already-applied ops (a retried
// batch) changes nothing.
//
// 100k ops take ~30 s; with -short the test uses 20k, under -race 10k;
// RESOLVER_DETERMINISM_OPS overrides.
func TestDeterminism(t *testing.T) {
	n := 100_000
	switch {
	case raceEnabled:
		n = 10_000
	case testing.Short():
		n = 20_000
	}
	n = envInt("RESOLVER_DETERMINISM_OPS", n)
	ops := logOps(n, 1)
	o := testOptions(t)
	o.MemTableBytes = 32 << 20
	o.CacheBytes = 0 // the default

	run := func(batch int) string {
		s, _ := openTest(t, o)
		if err := applyLog(t, s, ops, batch, -1); err != nil {
			t.Fatal(err)
		}
		return fingerprint(t, s)
	}
	a := run(500)
	if b := run(500); b != a {
		t.Fatalf("two fresh stores, same ops: %s vs %s", a, b)
	}
	// Pipelined commits (Store.SetPipelined, as stream.Rebuild replays):
	// every batch reads the one before it from the overlay while that
	// one's commit is in flight. Small batches make that the common case.
	// With the replay filter too (Store.SetReplayFilter), and sorted
	// commits (Store.SetSortedCommits: a batch of 500 is many Badger
	// transactions), as Rebuild has them.
	for _, batch := range []int{500, 7} {
		for _, mode := range []struct{ filter, sorted bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
			s, _ := openTest(t, o)
			must(t, s.SetPipelined(true))
			must(t, s.SetReplayFilter(mode.filter))
			must(t, s.SetSortedCommits(mode.sorted))
			if err := applyLog(t, s, ops, batch, -1); err != nil {
				t.Fatal(err)
			}
			must(t, s.SetSortedCommits(false))
			must(t, s.Sync())
			if p := fingerprint(t, s); p != a {
				t.Fatalf("pipelined (replay filter %v, sorted %v), batches of %d: %s, synchronous: %s", mode.filter, mode.sorted, batch, p, a)
			}
		}
	}

	// Crash mid-batch, reopen, resume.
	dir := t.TempDir()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	crashAt := n/2 + 123
	if err := applyLog(t, s, ops, 500, crashAt); !errors.Is(err, errCrash) {
		t.Fatalf("crash run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	offs, err := s.AppliedOffsets()
	if err != nil {
		t.Fatal(err)
	}
	if offs[0] > int64(crashAt) || offs[0] < int64(crashAt-500) {
		t.Fatalf("after the crash at %d applied offset is %d, want the last committed batch", crashAt, offs[0])
	}
	if err := applyLog(t, s, ops, 777, -1); err != nil {
		t.Fatal(err)
	}
	if d := fingerprint(t, s); d != a {
		t.Fatalf("crash and resume: %s vs %s", d, a)
	}
	checkInvariants(t, takeSnapshot(t, s))

	// A retried batch: the log is read again from an earlier offset.
	if err := s.Update(func(tx Tx) error { return tx.SetApplied(0, int64(n-1500)) }); err != nil {
		t.Fatal(err)
	}
	if err := applyLog(t, s, ops, 500, -1); err != nil {
		t.Fatal(err)
	}
	if e := fingerprint(t, s); e != a {
		t.Fatalf("replaying applied ops changed the state: %s vs %s", e, a)
	}
}
