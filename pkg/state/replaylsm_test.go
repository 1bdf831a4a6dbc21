package state

import (
	"fmt"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// levelZeroTables is how many level-0 tables s holds.
func levelZeroTables(s *Store) int {
	for _, l := range s.db.Levels() {
		if l.Level == 0 {
			return l.NumTables
		}
	}
	return 0
}

// TestReplayKeepsLevelZero: a store opened with Options.Replay lets its
// level-0 tables wait (a default store compacts them at 5), and
// CompactLevelZero then compacts them all, leaving what was written: the
// same fingerprint as a store written without Replay, and finds that see
// it, also after a reopen without Replay.
func TestReplayKeepsLevelZero(t *testing.T) {
	write := func(s *Store) {
		for i := range 200 {
			update(t, s, func(tx Tx) error {
				for j := range 500 {
					did := fmt.Sprintf("anon-%03d-%04d-%s", i, j, "0123456789abcdef0123456789abcdef")
					id := unionfind.ImplicitPersonID("1", did)
					if err := tx.PutMapping("1", did, unionfind.Mapping{PersonID: id, Version: 1}); err != nil {
						return err
					}
					if err := tx.PutMember("1", id, did); err != nil {
						return err
					}
					if err := tx.PutPerson("1", unionfind.Person{ID: id, Size: 1, CreatedAt: int64(i*1000 + j), Version: 1}); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	o := testOptions(t)
	o.MemTableBytes = 1 << 20 // many small level-0 tables
	o.CacheBytes = -1         // every find reads the tables
	plain, _ := openTest(t, o)
	write(plain)
	o.Replay = true
	s, dir := openTest(t, o)
	write(s)
	must(t, s.Sync())
	if n := levelZeroTables(s); n <= 5 {
		t.Fatalf("%d level-0 tables after the writes: Badger's default would compact at 5, Replay should let them wait", n)
	}
	must(t, s.CompactLevelZero())
	if n := levelZeroTables(s); n != 0 {
		t.Fatalf("%d level-0 tables after CompactLevelZero", n)
	}
	want, err := plain.Fingerprint()
	must(t, err)
	check := func(s *Store) {
		t.Helper()
		got, err := s.Fingerprint()
		must(t, err)
		if got != want {
			t.Fatalf("fingerprint %s, want %s (the same writes without Replay)", got, want)
		}
		did := "anon-042-0123-0123456789abcdef0123456789abcdef"
		p, explicit, err := s.Find("1", did)
		if err != nil || !explicit || p.ID != unionfind.ImplicitPersonID("1", did) || p.CreatedAt != 42123 {
			t.Fatalf("find %s: %+v explicit=%v err=%v", did, p, explicit, err)
		}
	}
	check(s)
	must(t, s.Close())
	o.Replay = false
	again, err := Open(dir, o)
	must(t, err)
	defer again.Close()
	check(again)
}

// TestCompactLevelZeroMemory: nothing to compact on a Memory store.
func TestCompactLevelZeroMemory(t *testing.T) {
	if err := NewMemory().CompactLevelZero(); err != nil {
		t.Fatal(err)
	}
}
