package state

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestReplayFilterBloom: no false negatives, and few false positives at a
// replay's scale.
func TestReplayFilterBloom(t *testing.T) {
	f := newReplayFilter()
	const n = 200_000
	for i := range n {
		f.add(fmt.Appendf(nil, "d/\x011in-%d", i))
	}
	for i := range n {
		if !f.mayHave(fmt.Appendf(nil, "d/\x011in-%d", i)) {
			t.Fatalf("item %d added but ruled out", i)
		}
	}
	fp := 0
	for i := range n {
		if f.mayHave(fmt.Appendf(nil, "d/\x011out-%d", i)) {
			fp++
		}
	}
	if fp > n/1000 { // expected ~0 at 200k items in 2^28 bits
		t.Fatalf("%d false positives in %d", fp, n)
	}
}

// TestReplayFilterSeesStoredKeys: enabling the filter on a store that
// holds keys learns them, so nothing stored is ever ruled out; what was
// never written reads as absent or empty.
func TestReplayFilterSeesStoredKeys(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			must(t, s.SetReplayFilter(false)) // the case may have it on: start without
			p := unionfind.ImplicitPersonID("1", "a")
			g := unionfind.ImplicitPersonID("1", "g")
			k := unionfind.KeyRef{DistinctID: "a", Gen: 1}
			row := unionfind.MergeRow{Team: "1", Rule: unionfind.RuleAlias, Survivor: p, Absorbed: g,
				Moved: []string{"b"}, Log: unionfind.LogPos{Offset: 9}}
			update(t, s, func(tx Tx) error {
				must(t, tx.PutMapping("1", "a", unionfind.Mapping{PersonID: p, Version: 1}))
				must(t, tx.PutMember("1", p, "a"))
				must(t, tx.PutMember("1", p, "b"))
				must(t, tx.PutRef("1", p, k))
				must(t, tx.PutKey("1", k, unionfind.KeyState{Holders: 1}))
				must(t, tx.PutLineage(row))
				return tx.PutAbsorbed("1", p, g)
			})
			must(t, s.SetReplayFilter(true))
			update(t, s, func(tx Tx) error {
				if st, ok, err := tx.Key("1", k); err != nil || !ok || st.Holders != 1 {
					t.Fatalf("stored key record through the filter: %+v %v %v", st, ok, err)
				}
				if has, err := tx.HasRef("1", p, k); err != nil || !has {
					t.Fatalf("stored ref through the filter: %v %v", has, err)
				}
				if has, err := tx.HasRef("1", g, k); err != nil || has {
					t.Fatalf("never-written ref: %v %v", has, err)
				}
				if _, ok, err := tx.Key("1", unionfind.KeyRef{DistinctID: "never", Gen: 1}); ok || err != nil {
					t.Fatalf("never-written key record: %v %v", ok, err)
				}
				// The op's next row goes after the stored one (index 1), and
				// the stored row again (a retried op) adds nothing.
				second := row
				second.Moved = []string{"c"}
				must(t, tx.PutLineage(second))
				return tx.PutLineage(row)
			})
			var moved []string
			must(t, s.EachLineage(func(r unionfind.MergeRow, _ uint64) error { moved = append(moved, r.Moved...); return nil }))
			if !slices.Equal(moved, []string{"b", "c"}) {
				t.Fatalf("lineage rows moved %v, want [b c]: a stored row was overwritten or repeated", moved)
			}
			other := unionfind.ImplicitPersonID("1", "z")
			update(t, s, func(tx Tx) error {
				if m, ok, err := tx.Mapping("1", "a"); err != nil || !ok || m.PersonID != p {
					t.Fatalf("stored mapping read through the filter: %+v %v %v", m, ok, err)
				}
				if got := members(t, tx, "1", p); !slices.Equal(got, []string{"a", "b"}) {
					t.Fatalf("stored members through the filter: %v", got)
				}
				var refs []unionfind.KeyRef
				must(t, tx.Refs("1", p, func(r unionfind.KeyRef) error { refs = append(refs, r); return nil }))
				if len(refs) != 1 || refs[0] != k {
					t.Fatalf("stored refs through the filter: %v", refs)
				}
				var abs []unionfind.PersonID
				must(t, tx.Absorbed("1", p, func(id unionfind.PersonID) error { abs = append(abs, id); return nil }))
				if len(abs) != 1 || abs[0] != g {
					t.Fatalf("stored tombstones through the filter: %v", abs)
				}
				if _, ok, err := tx.Mapping("1", "never"); ok || err != nil {
					t.Fatalf("never-written mapping: %v %v", ok, err)
				}
				if got := members(t, tx, "1", other); len(got) != 0 {
					t.Fatalf("never-written members: %v", got)
				}
				// A set written in this transaction is read back at once.
				must(t, tx.PutMember("1", other, "z"))
				must(t, tx.PutRef("1", other, k))
				must(t, tx.PutMapping("1", "never", unionfind.Mapping{PersonID: other, Version: 1}))
				if got := members(t, tx, "1", other); !slices.Equal(got, []string{"z"}) {
					t.Fatalf("own members: %v", got)
				}
				refs = refs[:0]
				must(t, tx.Refs("1", other, func(r unionfind.KeyRef) error { refs = append(refs, r); return nil }))
				if len(refs) != 1 {
					t.Fatalf("own refs: %v", refs)
				}
				if _, ok, err := tx.Mapping("1", "never"); !ok || err != nil {
					t.Fatalf("own mapping: %v %v", ok, err)
				}
				return nil
			})
		})
	}
}

// TestReplayFilterMemberLists: random member writes and deletes across a
// few persons, with a failing Update now and then, on a store with the
// filter (pipelined, as Rebuild has it) and one without: every Members
// read agrees, inside each Update and after it, and a list past its bound
// falls back to scanning.
func TestReplayFilterMemberLists(t *testing.T) {
	on := openReplay(t, testOptions(t))
	on.filter.maxBytes = 2 << 10 // small: lists are evicted as they grow
	off, _ := openTest(t, testOptions(t))
	r := rand.New(rand.NewPCG(7, 7))
	persons := make([]unionfind.PersonID, 40)
	for i := range persons {
		persons[i] = unionfind.ImplicitPersonID("1", fmt.Sprint("p", i))
	}
	boom := errors.New("fn fails")
	for round := range 400 {
		if on.filter.memberBytes > on.filter.maxBytes {
			t.Fatalf("round %d: member lists hold ~%d bytes, bound %d", round, on.filter.memberBytes, on.filter.maxBytes)
		}
		fail := r.IntN(10) == 0
		type w struct {
			p   int
			did string
			del bool
		}
		var ws []w
		for range 1 + r.IntN(6) {
			p := r.IntN(len(persons))
			n := 8
			if p == 0 {
				n = maxListedMembers + 10 // this one outgrows its list
			}
			did := fmt.Sprint("d", r.IntN(n))
			if r.IntN(4) == 0 {
				did = fmt.Sprint("p", p) // the founder: kept with the person, or an m/ key when it has no value
			}
			ws = append(ws, w{p, did, r.IntN(3) == 0})
		}
		for _, st := range []*Store{on, off} {
			err := st.Update(func(tx Tx) error {
				for _, x := range ws {
					if x.del {
						must(t, tx.DeleteMember("1", persons[x.p], x.did))
					} else {
						must(t, tx.PutMember("1", persons[x.p], x.did))
					}
				}
				if fail {
					return boom
				}
				return nil
			})
			if fail != errors.Is(err, boom) || (!fail && err != nil) {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		for _, p := range persons {
			var a, b []string
			view(t, off, func(tx Tx) error { b = members(t, tx, "1", p); return nil })
			update(t, on, func(tx Tx) error { a = members(t, tx, "1", p); return nil })
			if !slices.Equal(a, b) {
				t.Fatalf("round %d (failed: %v): members %v with the filter, %v without", round, fail, a, b)
			}
		}
	}
	if _, listed := on.filter.members[string(memberPrefix(nil, "1", persons[0]))]; listed {
		t.Fatalf("a person with up to %d members is still listed (bound %d)", maxListedMembers+10, maxListedMembers)
	}
}

// memberReads counts the engine reads of m/ keys.
type memberReads struct {
	kvWriter
	n *int
}

func (c memberReads) get(k []byte, fn func([]byte) error) (bool, error) {
	if hasTag(k, tagMember) {
		*c.n++
	}
	return c.kvWriter.get(k, fn)
}

// TestReplayFilterFounderDelete: deleting a person's founder asks whether
// an m/ key holds it too (TestFounderBothFormsDeleted). When the replay
// filter lists the person's members, the list answers, with no read, and
// the answer is right both ways: an m/ key of the founder (written for a
// person without a value) is deleted with it.
func TestReplayFilterFounderDelete(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		t.Run(fmt.Sprint("founder-m-key=", keyed), func(t *testing.T) {
			s := NewMemory().Store
			must(t, s.SetReplayFilter(true))
			p := unionfind.ImplicitPersonID("1", "a")
			if keyed { // no person value yet: the founder becomes an m/ key
				update(t, s, func(tx Tx) error { return tx.PutMember("1", p, "a") })
			}
			update(t, s, func(tx Tx) error {
				must(t, tx.PutMember("1", p, "a"))
				must(t, tx.PutMember("1", p, "b"))
				return tx.PutPerson("1", unionfind.Person{ID: p, Size: 2})
			})
			if got := len(rawMemberKeys(t, s, "1", p)); got != 1+b2i(keyed) {
				t.Fatalf("%d m/ keys before the delete, want %d", got, 1+b2i(keyed))
			}
			reads := 0
			must(t, s.eng.update(func(w kvWriter) error {
				cw := memberReads{w, &reads}
				x := &tx{r: cw, w: cw, filter: s.filter}
				must(t, x.DeleteMember("1", p, "a"))
				return x.PutPerson("1", unionfind.Person{ID: p, Size: 1})
			}))
			if reads != 0 {
				t.Fatalf("deleting the founder of a listed person read %d m/ keys", reads)
			}
			if got := rawMemberKeys(t, s, "1", p); len(got) != 1 {
				t.Fatalf("m/ keys after the delete: %q, want only b's", got)
			}
			view(t, s, func(tx Tx) error {
				if got := members(t, tx, "1", p); !slices.Equal(got, []string{"b"}) {
					t.Fatalf("members after the delete: %v", got)
				}
				return nil
			})
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestReplayFilterCommitFails: a pipelined commit that fails after its
// Update returned drops the member lists, which held its writes.
func TestReplayFilterCommitFails(t *testing.T) {
	s := openReplay(t, testOptions(t))
	e := s.eng.(*badgerEngine)
	p := unionfind.ImplicitPersonID("1", "a")
	update(t, s, func(tx Tx) error { return tx.PutMember("1", p, "a") })
	must(t, s.Sync())
	disk := errors.New("disk on fire")
	e.pipe.commit = func(txn *badger.Txn, done func(error)) { txn.Discard(); done(disk) }
	update(t, s, func(tx Tx) error { return tx.PutMember("1", p, "b") }) // its commit fails
	e.pipe.commit = nil
	if err := s.Update(func(Tx) error { return nil }); !errors.Is(err, disk) {
		t.Fatalf("the Update after a failed commit: %v", err)
	}
	update(t, s, func(tx Tx) error {
		if got := members(t, tx, "1", p); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("members after the failed commit: %v, want [a]", got)
		}
		return nil
	})
}

// TestBulkLoadTurnsReplayFilterOff: the filter would not know the loaded
// keys.
func TestBulkLoadTurnsReplayFilterOff(t *testing.T) {
	s, _ := openTest(t, testOptions(t))
	must(t, s.SetReplayFilter(true))
	p := unionfind.ImplicitPersonID("1", "a")
	must(t, s.BulkLoad(func(b *BulkLoader) error {
		for _, d := range []string{"a", "b"} {
			if err := b.PutMapping("1", d, unionfind.Mapping{PersonID: p}); err != nil {
				return err
			}
		}
		if err := b.PutMember("1", p, "b"); err != nil {
			return err
		}
		return b.PutPerson("1", unionfind.Person{ID: p, Size: 2}, "a") // a founded p
	}))
	update(t, s, func(tx Tx) error {
		if _, ok, err := tx.Mapping("1", "a"); !ok || err != nil {
			t.Fatalf("bulk-loaded mapping: %v %v", ok, err)
		}
		if got := members(t, tx, "1", p); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("bulk-loaded members: %v", got)
		}
		return nil
	})
}

// TestReplayFilterListBound: the member lists stay within their byte
// bound whether they are many new ones or a few that grow.
func TestReplayFilterListBound(t *testing.T) {
	f := newReplayFilter()
	f.maxBytes = 4 << 10
	prefixes := make([][]byte, 30)
	for i := range prefixes {
		prefixes[i] = memberPrefix(nil, "1", unionfind.ImplicitPersonID("1", fmt.Sprint("p", i)))
		f.putMember(prefixes[i], "m00") // 30 new lists: under the bound
	}
	for j := 1; j < 40; j++ { // then each grows
		for _, p := range prefixes {
			f.putMember(p, fmt.Sprintf("m%02d", j))
			if f.memberBytes > f.maxBytes {
				t.Fatalf("member lists hold ~%d bytes, bound %d", f.memberBytes, f.maxBytes)
			}
		}
	}
	// An evicted set is never listed again (the Bloom filter has it); a
	// list that is left got every put: complete and in order.
	for p, list := range f.members {
		if len(list) != 40 || !slices.IsSorted(list) {
			t.Fatalf("list of %x: %v", p, list)
		}
	}
}
