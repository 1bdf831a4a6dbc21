package state

import (
	"errors"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestPipelinedOverlay: with pipelined commits an Update reads the writes
// of the one before it, whose commit is in flight, over its own snapshot —
// values, deletes and scans — and a reader waits for that commit to land.
func TestPipelinedOverlay(t *testing.T) {
	for _, cache := range []int64{0, -1} {
		o := testOptions(t)
		o.CacheBytes = cache
		s := openPipelined(t, o)
		pid := unionfind.ImplicitPersonID("1", "x")
		// Every commit is held until the next Update has read over it.
		e := s.eng.(*badgerEngine)
		var held []func()
		e.pipe.commit = func(txn *badger.Txn, done func(error)) {
			held = append(held, func() { txn.CommitWith(done) })
		}
		release := func() {
			for _, f := range held {
				f()
			}
			held = nil
		}
		update(t, s, func(tx Tx) error {
			must(t, tx.PutMapping("1", "x", unionfind.Mapping{PersonID: pid, Version: 1}))
			must(t, tx.PutMember("1", pid, "x"))
			must(t, tx.PutMember("1", pid, "y"))
			return tx.PutPerson("1", unionfind.Person{ID: pid, CreatedAt: 5, Size: 2})
		})
		if len(held) != 1 {
			t.Fatalf("%d commits sent, want 1 in flight", len(held))
		}
		// The second Update's snapshot lacks the first commit: it must read
		// it from the overlay.
		update(t, s, func(tx Tx) error {
			m, ok, err := tx.Mapping("1", "x")
			if err != nil || !ok || m.PersonID != pid || m.Version != 1 {
				t.Fatalf("mapping over the commit in flight: %+v %v %v", m, ok, err)
			}
			p, ok, err := tx.Person("1", pid)
			if err != nil || !ok || p.CreatedAt != 5 {
				t.Fatalf("person over the commit in flight: %+v %v %v", p, ok, err)
			}
			if got := members(t, tx, "1", pid); len(got) != 2 || got[0] != "x" || got[1] != "y" {
				t.Fatalf("members over the commit in flight: %v", got)
			}
			must(t, tx.DeleteMember("1", pid, "x"))
			must(t, tx.PutMember("1", pid, "w"))
			if got := members(t, tx, "1", pid); len(got) != 2 || got[0] != "w" || got[1] != "y" {
				t.Fatalf("members with own writes over the commit in flight: %v", got)
			}
			if got := scanned(t, tx, memberPrefix(nil, "1", pid)); got != "w,y" {
				t.Fatalf("scan with own writes over the commit in flight: %s", got)
			}
			release() // the handoff waits for the commit in flight
			return nil
		})
		// The third reads the second's delete over a snapshot that holds
		// the first commit's member.
		update(t, s, func(tx Tx) error {
			if got := members(t, tx, "1", pid); len(got) != 2 || got[0] != "w" || got[1] != "y" {
				t.Fatalf("members over the second commit in flight: %v", got)
			}
			if _, ok, err := tx.Mapping("1", "x"); err != nil || !ok {
				t.Fatalf("mapping of x over the second commit in flight: %v %v", ok, err)
			}
			must(t, tx.PutMember("1", pid, "z"))
			if got := scanned(t, tx, memberPrefix(nil, "1", pid)); got != "w,y,z" {
				t.Fatalf("scan with own writes over the second commit in flight: %s", got)
			}
			release()
			return nil
		})
		release() // the third's own commit
		e.pipe.commit = nil
		view(t, s, func(tx Tx) error {
			if got := members(t, tx, "1", pid); len(got) != 3 || got[0] != "w" || got[1] != "y" || got[2] != "z" {
				t.Fatalf("members after the commits landed: %v", got)
			}
			return nil
		})
		must(t, s.Sync())
	}
}

// TestPipelinedCommitFails: a commit that fails after its Update returned
// fails the next Update, whose writes (made over it) are dropped too, and
// empties the cache; the Update after that starts again from what is
// committed.
func TestPipelinedCommitFails(t *testing.T) {
	s := openPipelined(t, testOptions(t))
	e := s.eng.(*badgerEngine)
	pid := unionfind.ImplicitPersonID("1", "a")
	put := func(did string, v uint64) error {
		return s.Update(func(tx Tx) error {
			return tx.PutMapping("1", did, unionfind.Mapping{PersonID: pid, Version: v})
		})
	}
	must(t, put("a", 1))
	must(t, s.Sync())
	disk := errors.New("disk on fire")
	e.pipe.commit = func(txn *badger.Txn, done func(error)) { txn.Discard(); done(disk) }
	must(t, put("a", 2)) // handed off; its commit fails
	e.pipe.commit = nil
	// The cache holds version 2 until the failure is learnt.
	if h, hit := s.cache.getMapping(mappingKey(nil, "1", "a")); !hit || h.m.Version != 2 {
		t.Fatalf("before the failure is learnt, the cache has %+v (hit %v), want the handed-off version 2", h.m, hit)
	}
	err := put("b", 1)
	if !errors.Is(err, disk) {
		t.Fatalf("the Update after a failed commit: %v, want it to fail with the commit's error", err)
	}
	view(t, s, func(tx Tx) error {
		if m, ok, _ := tx.Mapping("1", "a"); !ok || m.Version != 1 {
			t.Fatalf("a: %+v %v, want version 1 (the failed commit's 2 is not stored)", m, ok)
		}
		if _, ok, _ := tx.Mapping("1", "b"); ok {
			t.Fatal("b is stored: the Update made over the failed commit was committed")
		}
		return nil
	})
	if h, hit := s.cache.getMapping(mappingKey(nil, "1", "a")); hit && h.m.Version != 1 {
		t.Fatalf("after the failure the cache has version %d: it kept the failed commit's value", h.m.Version)
	}
	must(t, put("b", 1))
	must(t, s.Sync())
	view(t, s, func(tx Tx) error {
		if _, ok, _ := tx.Mapping("1", "b"); !ok {
			t.Fatal("b is not stored by the Update after the failure")
		}
		return nil
	})
	// Sync reports a failure too.
	e.pipe.commit = func(txn *badger.Txn, done func(error)) { txn.Discard(); done(disk) }
	must(t, put("c", 1))
	e.pipe.commit = nil
	if err := s.Sync(); !errors.Is(err, disk) {
		t.Fatalf("Sync after a failed commit: %v", err)
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync reports a failure once: %v", err)
	}
}

// scanned is the distinct_ids under a member prefix, read by the
// transaction's scan (own writes over the commit in flight over the
// snapshot), comma-joined.
func scanned(t *testing.T, x Tx, prefix []byte) string {
	t.Helper()
	var ids []string
	must(t, x.(*tx).r.scan(prefix, nil, false, func(key, _ []byte) (bool, error) {
		ids = append(ids, string(key[len(prefix):]))
		return true, nil
	}))
	return strings.Join(ids, ",")
}
