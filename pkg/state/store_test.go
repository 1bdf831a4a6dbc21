package state

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

func TestOpenLockedDir(t *testing.T) {
	s, dir := openTest(t, testOptions(t))
	_, err := Open(dir, testOptions(t))
	if !IsLocked(err) {
		t.Fatalf("second Open: %v, want IsLocked", err)
	}
	if !strings.Contains(err.Error(), dir) {
		t.Fatalf("lock error does not name the dir: %v", err)
	}
	must(t, s.Close())
	s2, err := Open(dir, testOptions(t))
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	must(t, s2.Close())
	if IsLocked(errors.New("other")) || IsLocked(nil) {
		t.Fatal("IsLocked too eager")
	}
}

func TestReopenKeepsState(t *testing.T) {
	o := testOptions(t)
	s, dir := openTest(t, o)
	fp := writeReopenState(t, s)
	must(t, s.Close())
	must(t, s.Close()) // idempotent
	if _, _, err := s.Find("1", "user-1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Find after Close: %v", err)
	}
	if err := s.Update(func(Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Update after Close: %v", err)
	}
	s, err := Open(dir, o)
	must(t, err)
	defer s.Close()
	checkReopenState(t, s, fp)
}

// writeReopenState writes the state the reopen tests expect back (ops and
// an applied offset) and returns its fingerprint.
func writeReopenState(t *testing.T, s *Store) string {
	t.Helper()
	applyOps(t, s, opsForFingerprint())
	update(t, s, func(tx Tx) error { return tx.SetApplied(2, 42) })
	return fingerprint(t, s)
}

// checkReopenState checks that s holds what writeReopenState wrote.
func checkReopenState(t *testing.T, s *Store, fp string) {
	t.Helper()
	if got := fingerprint(t, s); got != fp {
		t.Fatal("fingerprint changed across reopen")
	}
	offs, err := s.AppliedOffsets()
	must(t, err)
	if offs[2] != 42 {
		t.Fatalf("applied offsets after reopen: %v", offs)
	}
}

// An Update too big for one Badger transaction fails with IsTxnTooBig and
// writes nothing; half the batch fits. The same with pipelined and with
// sorted commits: a replay must refuse exactly the ops the live applier
// refuses.
func TestUpdateTxnTooBig(t *testing.T) {
	for _, mode := range []string{"sync", "pipelined", "sorted"} {
		t.Run(mode, func(t *testing.T) { testUpdateTxnTooBig(t, mode) })
	}
}

func testUpdateTxnTooBig(t *testing.T, mode string) {
	o := testOptions(t)
	o.MemTableBytes = 1 << 20 // a transaction may hold ~150 KB
	s, _ := openTest(t, o)
	must(t, s.SetPipelined(mode != "sync"))
	must(t, s.SetSortedCommits(mode == "sorted"))
	g := unionfind.Graph{}
	ops := func(n int) func(Tx) error {
		return func(tx Tx) error {
			for i := range n {
				op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: fmt.Sprintf("some-long-distinct-id-%06d", i), Timestamp: 1}
				if _, err := g.Apply(tx, &op); err != nil {
					return err
				}
			}
			return tx.SetApplied(0, int64(n))
		}
	}
	err := s.Update(ops(4000))
	if !IsTxnTooBig(err) || !errors.Is(err, ErrTxnTooBig) {
		t.Fatalf("big update: %v, want IsTxnTooBig", err)
	}
	if fp := fingerprint(t, s); fp != emptyFingerprint(t) {
		t.Fatal("a too-big update left state behind")
	}
	if offs, _ := s.AppliedOffsets(); len(offs) != 0 {
		t.Fatalf("a too-big update left offsets: %v", offs)
	}
	if _, explicit, _ := s.Find("1", "some-long-distinct-id-000000"); explicit {
		t.Fatal("the cache kept a write of a failed update")
	}
	if err := s.Update(ops(400)); err != nil {
		t.Fatalf("smaller update: %v", err)
	}
	must(t, s.SetSortedCommits(false))
	must(t, s.Sync())
	if _, explicit, _ := s.Find("1", "some-long-distinct-id-000399"); !explicit {
		t.Fatal("the smaller update's last op is not stored")
	}
}

// Badger logs through the injected zap logger, named "badger".
func TestBadgerLogsThroughZap(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	o := testOptions(t)
	o.Logger = zap.New(core)
	s, _ := openTest(t, o)
	must(t, s.Close())
	if logs.Len() == 0 {
		t.Fatal("no badger logs")
	}
	for _, e := range logs.All() {
		if e.LoggerName != "badger" {
			t.Fatalf("logger name %q", e.LoggerName)
		}
		if strings.HasSuffix(e.Message, "\n") {
			t.Fatalf("message keeps its newline: %q", e.Message)
		}
	}
}
