package state

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// loadPeople writes n people of two ids each (d/, m/, p/) through b in the
// order BulkLoad wants, for teams "1" and "t2".
func loadPeople(b *BulkLoader, n int) error {
	for _, team := range []string{"1", "t2"} {
		did := func(i, k int) string { return fmt.Sprintf("%s-%06d-%d", team, i, k) }
		pid := func(i int) unionfind.PersonID { return unionfind.ImplicitPersonID(team, did(i, 0)) }
		for i := range n { // distinct ids ascending: i, then k
			for k := range 2 {
				if err := b.PutMapping(team, did(i, k), unionfind.Mapping{PersonID: pid(i), Version: uint64(k)}); err != nil {
					return err
				}
			}
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		sortByPerson(order, pid)
		for _, i := range order {
			if err := b.PutMember(team, pid(i), did(i, 1)); err != nil { // did(i, 0) is the founder
				return err
			}
		}
		for _, i := range order {
			p := unionfind.Person{ID: pid(i), CreatedAt: int64(i), Identified: true, Version: 1, Size: 2}
			if err := b.PutPerson(team, p, did(i, 0)); err != nil {
				return err
			}
		}
	}
	return nil
}

func sortByPerson(order []int, pid func(int) unionfind.PersonID) {
	slices.SortFunc(order, func(a, b int) int {
		pa, pb := pid(a), pid(b)
		return bytes.Compare(pa[:], pb[:])
	})
}

// TestBulkLoad: on every engine, a bulk-loaded store holds what Update
// would have written for the same records (same fingerprint as a store
// built by Update), lookups find every id; a second load is refused
// (ErrNotEmpty), and records out of order, repeated, or of a stream
// resumed are refused with ErrUnsorted, never a panic.
func TestBulkLoad(t *testing.T) {
	const n = 300
	viaUpdate := NewMemory() // the same records through Update
	update(t, viaUpdate.Store, func(tx Tx) error {
		for _, team := range []string{"1", "t2"} {
			for i := range n {
				d0 := fmt.Sprintf("%s-%06d-%d", team, i, 0)
				id := unionfind.ImplicitPersonID(team, d0)
				for k := range 2 {
					d := fmt.Sprintf("%s-%06d-%d", team, i, k)
					if err := tx.PutMapping(team, d, unionfind.Mapping{PersonID: id, Version: uint64(k)}); err != nil {
						return err
					}
					if err := tx.PutMember(team, id, d); err != nil {
						return err
					}
				}
				if err := tx.PutPerson(team, unionfind.Person{ID: id, CreatedAt: int64(i), Identified: true, Version: 1, Size: 2}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	want, err := viaUpdate.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			var written int64
			err := s.BulkLoad(func(b *BulkLoader) error {
				err := loadPeople(b, n)
				written = b.Written()
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if written != 2*(2*n+n+n) { // mappings, members but the founders, persons
				t.Fatalf("%d records written", written)
			}
			fp, err := s.Fingerprint()
			if err != nil || fp != want {
				t.Fatalf("fingerprint %s (%v), Update's %s", fp, err, want)
			}
			p, explicit, err := s.Find("t2", "t2-000042-1")
			if err != nil || !explicit || p.Size != 2 || p.ID != unionfind.ImplicitPersonID("t2", "t2-000042-0") {
				t.Fatalf("find: %+v %v %v", p, explicit, err)
			}
			if err := s.BulkLoad(func(*BulkLoader) error { return nil }); !errors.Is(err, ErrNotEmpty) {
				t.Fatalf("second load: %v", err)
			}
		})
	}
	bad := []struct {
		name string
		fn   func(b *BulkLoader) error
	}{
		{"descending", func(b *BulkLoader) error {
			if err := b.PutMapping("1", "b", unionfind.Mapping{}); err != nil {
				return err
			}
			return b.PutMapping("1", "a", unionfind.Mapping{})
		}},
		{"repeated", func(b *BulkLoader) error {
			if err := b.PutMapping("1", "a", unionfind.Mapping{}); err != nil {
				return err
			}
			return b.PutMapping("1", "a", unionfind.Mapping{})
		}},
		{"resumed", func(b *BulkLoader) error {
			if err := b.PutMapping("1", "a", unionfind.Mapping{}); err != nil {
				return err
			}
			if err := b.PutMapping("2", "a", unionfind.Mapping{}); err != nil {
				return err
			}
			return b.PutMapping("1", "b", unionfind.Mapping{})
		}},
		{"persons", func(b *BulkLoader) error {
			if err := b.PutPerson("1", unionfind.Person{ID: unionfind.PersonID{2}}, ""); err != nil {
				return err
			}
			return b.PutPerson("1", unionfind.Person{ID: unionfind.PersonID{1}}, "")
		}},
	}
	for _, ec := range engineCases() {
		for _, c := range bad {
			t.Run(ec.name+"/"+c.name, func(t *testing.T) {
				s := ec.make(t)
				if err := s.BulkLoad(c.fn); !errors.Is(err, ErrUnsorted) {
					t.Fatalf("got %v, want ErrUnsorted", err)
				}
			})
		}
	}
	// A key over its bound is refused like in Update.
	s := NewMemory()
	err = s.BulkLoad(func(b *BulkLoader) error {
		return b.PutMapping("1", strings.Repeat("x", MaxKeyBytes), unionfind.Mapping{})
	})
	if !IsInvalidWrite(err) {
		t.Fatalf("oversized key: %v", err)
	}
}
