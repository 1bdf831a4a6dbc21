package state

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// sortedStore opens a Badger store in dir with pipelined, sorted commits.
func sortedStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.SetPipelined(true))
	must(t, s.SetSortedCommits(true))
	return s
}

// putMappings writes n new mappings of team in one Update.
func putMappings(team string, n int) func(Tx) error {
	return func(tx Tx) error {
		for i := range n {
			did := fmt.Sprintf("id-%05d", (i*7919)%n) // not in key order
			if err := tx.PutMapping(team, did, unionfind.Mapping{PersonID: unionfind.ImplicitPersonID(team, did), Version: 1}); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestSortedCommitsCutInKeyOrder: a sorted commit is the Update's writes in
// key order, cut into transactions of sortedCommitKeys keys, sent in that
// order; a delete is one of the writes; what lands is what the Update
// wrote.
func TestSortedCommitsCutInKeyOrder(t *testing.T) {
	s := sortedStore(t, t.TempDir())
	defer s.Close()
	gone := unionfind.ImplicitPersonID("0", "gone")
	update(t, s, func(tx Tx) error { return tx.PutMapping("0", "gone", unionfind.Mapping{PersonID: gone, Version: 1}) })
	must(t, s.Sync())

	const n = 1000 // 1,001 writes with the delete: 4 transactions
	var (
		mu   sync.Mutex
		sent [][]string // per transaction, its team-1 mapping keys
	)
	e := s.eng.(*badgerEngine)
	e.pipe.commit = func(txn *badger.Txn, done func(error)) {
		// An update transaction's iterator shows its pending writes (over
		// the snapshot, which holds no team-1 key).
		prefix := mappingKey(nil, "1", "")
		opt := badger.DefaultIteratorOptions
		opt.PrefetchValues = false
		it := txn.NewIterator(opt)
		var keys []string
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			keys = append(keys, string(it.Item().KeyCopy(nil)))
		}
		it.Close()
		mu.Lock()
		sent = append(sent, keys)
		mu.Unlock()
		txn.CommitWith(done)
	}
	update(t, s, func(tx Tx) error {
		if err := putMappings("1", n)(tx); err != nil {
			return err
		}
		return tx.PutMapping("0", "gone", unionfind.Mapping{PersonID: gone, Version: 2, Deleted: true})
	})
	must(t, s.Sync())
	e.pipe.commit = nil

	if want := (n + 1 + sortedCommitKeys - 1) / sortedCommitKeys; len(sent) != want {
		t.Fatalf("%d transactions sent, want %d of at most %d keys", len(sent), want, sortedCommitKeys)
	}
	var all []string
	for i, keys := range sent {
		if len(keys) > sortedCommitKeys {
			t.Fatalf("transaction %d holds %d keys, over %d", i, len(keys), sortedCommitKeys)
		}
		if i > 0 && len(all) > 0 && len(keys) > 0 && keys[0] <= all[len(all)-1] {
			t.Fatalf("transaction %d starts at %q, not after the last key of the one before (%q): not cut in key order", i, keys[0], all[len(all)-1])
		}
		all = append(all, keys...)
	}
	if len(all) != n {
		t.Fatalf("%d team-1 mappings in the transactions, want %d", len(all), n)
	}
	view(t, s, func(tx Tx) error {
		for i := range n {
			did := fmt.Sprintf("id-%05d", i)
			if m, ok, err := tx.Mapping("1", did); err != nil || !ok || m.Version != 1 {
				t.Fatalf("%s after the sorted commit: %+v %v %v", did, m, ok, err)
			}
		}
		if m, ok, err := tx.Mapping("0", "gone"); err != nil || !ok || !m.Deleted {
			t.Fatalf("the overwritten mapping after the sorted commit: %+v %v %v", m, ok, err)
		}
		return nil
	})
}

// TestSortedCommitsMarkTheStore: while sorted commits are on the store is
// marked, and Open refuses a marked store — the process stopped without
// ending them. Ending them (SetSortedCommits off, or Close) unmarks it.
func TestSortedCommitsMarkTheStore(t *testing.T) {
	for _, c := range []struct {
		name, missing string
		end           func(t *testing.T, s *Store) // before Close
	}{
		{"off unmarks", "a sorted commit's write is missing", func(t *testing.T, s *Store) {
			must(t, s.SetSortedCommits(false))
			must(t, s.Update(putMappings("2", 10))) // pipelined, not sorted
		}},
		// The commit is in flight as Close starts.
		{"close unmarks", "the commit in flight at Close is missing", func(*testing.T, *Store) {}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := sortedStore(t, dir)
			must(t, s.Update(putMappings("1", 600)))
			c.end(t, s)
			must(t, s.Close())
			s, err := Open(dir, testOptions(t))
			if err != nil {
				t.Fatalf("open after sorted commits ended (%s): %v", c.name, err)
			}
			defer s.Close()
			if !hasMapping(t, s, "1", "id-00599") {
				t.Fatal(c.missing)
			}
		})
	}
	t.Run("stopped without ending", func(t *testing.T) {
		dir := t.TempDir()
		s := sortedStore(t, dir)
		must(t, s.Update(putMappings("1", 600)))
		must(t, s.Sync())
		// As if the process died here: Close, but without ending them.
		s.eng.(*badgerEngine).pipe.sorted = false
		must(t, s.Close())
		for range 2 { // the refusal releases the directory
			_, err := Open(dir, testOptions(t))
			if !errors.Is(err, ErrUnfinishedReplay) {
				t.Fatalf("open of a store left marked: %v, want ErrUnfinishedReplay", err)
			}
			for _, want := range []string{dir, "resolver rebuild", "sorted commits"} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("the refusal %q does not say %q", err, want)
				}
			}
		}
		must(t, Wipe(dir))
		s, err := Open(dir, testOptions(t))
		if err != nil {
			t.Fatalf("open after the wipe: %v", err)
		}
		must(t, s.Close())
	})
}

// TestSortedCommitFails: a sorted commit whose second transaction fails
// (the others land) is reported like any failed pipelined commit, and the
// store stays marked: part of the commit is written.
func TestSortedCommitFails(t *testing.T) {
	dir := t.TempDir()
	s := sortedStore(t, dir)
	e := s.eng.(*badgerEngine)
	disk := errors.New("disk on fire")
	var (
		mu    sync.Mutex
		calls int
	)
	e.pipe.commit = func(txn *badger.Txn, done func(error)) {
		mu.Lock()
		calls++
		second := calls == 2
		mu.Unlock()
		if second {
			txn.Discard()
			done(disk)
			return
		}
		txn.CommitWith(done)
	}
	must(t, s.Update(putMappings("1", 1000))) // handed off; its commit is torn
	if err := s.Sync(); !errors.Is(err, disk) {
		t.Fatalf("Sync after a torn sorted commit: %v, want the commit's error", err)
	}
	e.pipe.commit = nil
	// Part of it landed: the first transaction's keys, not the second's.
	view(t, s, func(tx Tx) error {
		if _, ok, _ := tx.Mapping("1", "id-00000"); !ok {
			t.Fatal("the first transaction of the torn commit did not land")
		}
		if _, ok, _ := tx.Mapping("1", fmt.Sprintf("id-%05d", sortedCommitKeys)); ok {
			t.Fatal("the failed second transaction landed")
		}
		return nil
	})
	err := s.SetSortedCommits(false)
	if !errors.Is(err, ErrUnfinishedReplay) {
		t.Fatalf("ending sorted commits after a torn one: %v, want ErrUnfinishedReplay", err)
	}
	must(t, s.Close())
	if _, err := Open(dir, testOptions(t)); !errors.Is(err, ErrUnfinishedReplay) {
		t.Fatalf("open after a torn sorted commit: %v, want ErrUnfinishedReplay", err)
	}
}

// Sorted commits are Badger's: on Memory SetSortedCommits does nothing.
func TestSortedCommitsMemory(t *testing.T) {
	s := NewMemory().Store
	must(t, s.SetSortedCommits(true))
	must(t, s.Update(putMappings("1", 600)))
	must(t, s.SetSortedCommits(false))
	if !hasMapping(t, s, "1", "id-00599") {
		t.Fatal("write missing")
	}
	var marked bool
	must(t, s.eng.view(func(r kvReader) error {
		var err error
		marked, err = r.get(unfinishedKey, func([]byte) error { return nil })
		return err
	}))
	if marked {
		t.Fatal("Memory store marked")
	}
}

// hasMapping reports whether the store holds a mapping of (team, did).
func hasMapping(t *testing.T, s *Store, team, did string) bool {
	t.Helper()
	var ok bool
	view(t, s, func(tx Tx) error {
		var err error
		_, ok, err = tx.Mapping(team, did)
		return err
	})
	return ok
}

// TestTxnBoundMatchesBadger: the bound a sorted commit's update counts
// (txnBound) refuses the same write as Badger's own transaction, write by
// write — over big and small memtables (the size bound and the count
// bound), values over the value threshold, deletes and rewrites of a key.
// If a Badger upgrade changes its bound, this fails: a replay must refuse
// exactly the ops the live applier refuses.
func TestTxnBoundMatchesBadger(t *testing.T) {
	for _, mem := range []int64{1 << 20, 4 << 20, 64 << 20} {
		o := testOptions(t)
		o.MemTableBytes = mem
		s, _ := openTest(t, o)
		db := s.eng.(*badgerEngine).db
		for seed := range int64(4) {
			rng := rand.New(rand.NewSource(seed))
			big := seed%2 == 1 // big values: the size bound; small: the count bound
			b := newTxnBound(db.Opts())
			if b == nil {
				t.Fatal("no bound for the store's options")
			}
			txn := db.NewTransaction(true)
			var keys [][]byte
			for i := 0; ; i++ {
				var key []byte
				if len(keys) > 0 && rng.Intn(10) == 0 {
					key = keys[rng.Intn(len(keys))] // written again
				} else {
					key = make([]byte, 1+rng.Intn(200))
					rng.Read(key)
					key[0] = 'd' // never Badger's own prefix
					keys = append(keys, key)
				}
				var val []byte
				if rng.Intn(5) > 0 {
					n := rng.Intn(40)
					if big {
						th := int(db.Opts().ValueThreshold)
						n = rng.Intn(th * 2) // some over the threshold
						if rng.Intn(3) == 0 {
							n = th - 1 + rng.Intn(3) // at its edge
						}
					}
					val = make([]byte, n)
				}
				var want, got error
				if val == nil && rng.Intn(2) == 0 {
					want, got = txn.Delete(key), b.add(len(key), 0)
				} else {
					want, got = txn.Set(key, val), b.add(len(key), len(val))
				}
				if !errors.Is(got, want) && !(got == nil && want == nil) {
					t.Fatalf("memtable %d, seed %d, write %d (key %d B, value %d B): Badger says %v, the bound %v", mem, seed, i, len(key), len(val), want, got)
				}
				if want != nil {
					if !errors.Is(want, badger.ErrTxnTooBig) {
						t.Fatalf("write %d: %v", i, want)
					}
					break
				}
				if i > 1_000_000 {
					t.Fatal("no bound reached")
				}
			}
			txn.Discard()
		}
	}
}
