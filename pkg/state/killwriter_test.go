package state

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// killWriterEnv names the directory of the store a child process of
// TestKilledWriterReopens writes to until it is killed (TestMain).
const killWriterEnv = "RESOLVER_STATE_TEST_KILL_WRITER"

// killOp is the i-th op of the killed writer: a function of i alone, so the
// parent can apply the same ones to a reference store. Anonymous ids are
// seen, some set properties, and every third is identified into one of 40
// users: persons are created, merged and changed.
func killOp(i int) unionfind.Op {
	op := unionfind.Op{Kind: unionfind.OpEvent, Team: strconv.Itoa(1 + i%3), DistinctID: fmt.Sprintf("anon-%d", i), Timestamp: int64(1_700_000_000_000 + i)}
	if i%2 == 0 {
		op.Set = []unionfind.KV{{Key: "n", Value: json.RawMessage(strconv.Itoa(i))}}
	}
	if i%3 == 0 {
		op.DistinctID = fmt.Sprintf("user-%d", i%40)
		op.Merge = &unionfind.Merge{Other: fmt.Sprintf("anon-%d", i-3), Guarded: true}
	}
	return op
}

// killProgressOps is how often the killed writer says how far it got.
const killProgressOps = 50

// killWriterOptions rotate Badger's memtables (a new write-ahead log file
// each time) every few hundred ops.
func killWriterOptions() Options {
	return Options{MemTableBytes: 1 << 20, BlockCacheBytes: 1 << 20, CacheBytes: 1 << 20, NumCompactors: 2}
}

// killWriterChild opens dir and applies killOp from the store's applied
// offset on, each in its own Update with the offset after it, until it is
// killed, printing on stdout how many it has applied every
// killProgressOps. It returns only on an error.
func killWriterChild(dir string) int {
	s, err := Open(dir, killWriterOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	offs, err := s.AppliedOffsets()
	if err != nil {
		fmt.Fprintln(os.Stderr, "offsets:", err)
		return 1
	}
	var g unionfind.Graph
	start := int(offs[0])
	for i := start; ; i++ {
		if (i-start)%killProgressOps == 0 {
			fmt.Println(i - start) // TestKilledWriterReopens waits on these
		}
		op := killOp(i)
		if err := s.Update(func(tx Tx) error {
			if _, err := g.Apply(tx, &op); err != nil {
				return err
			}
			return tx.SetApplied(0, int64(i+1))
		}); err != nil {
			fmt.Fprintln(os.Stderr, "update:", err)
			return 1
		}
	}
}

// killRef is what the killed writer's store must hold: a memory store that
// has applied killOp(0) … killOp(applied-1).
type killRef struct {
	s       *Memory
	g       unionfind.Graph
	applied int
}

func newKillRef() *killRef { return &killRef{s: NewMemory()} }

func (r *killRef) close() { r.s.Close() }

// at returns the fingerprint of the state after the first n ops; n never
// goes back (the stores it is compared with only move on).
func (r *killRef) at(t *testing.T, n int) string {
	t.Helper()
	if n < r.applied {
		t.Fatalf("the applied offset went back: %d after %d", n, r.applied)
	}
	update(t, r.s.Store, func(tx Tx) error {
		for ; r.applied < n; r.applied++ {
			op := killOp(r.applied)
			if _, err := r.g.Apply(tx, &op); err != nil {
				return err
			}
		}
		return nil
	})
	return fingerprint(t, r.s.Store)
}
