package state

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// The conformance suite: every engine (Badger with and without cache,
// memory) must behave the same as a unionfind.Store and as a Store.

func TestConformance(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			t.Run("absent", func(t *testing.T) { testAbsent(t, ec.make(t)) })
			t.Run("read-your-writes", func(t *testing.T) { testReadYourWrites(t, ec.make(t)) })
			t.Run("members-order", func(t *testing.T) { testMembersOrder(t, ec.make(t)) })
			t.Run("tombstones", func(t *testing.T) { testTombstones(t, ec.make(t)) })
			t.Run("atomicity", func(t *testing.T) { testAtomicity(t, ec.make(t)) })
			t.Run("view-read-only", func(t *testing.T) { testViewReadOnly(t, ec.make(t)) })
			t.Run("tx-after-return", func(t *testing.T) { testTxAfterReturn(t, ec.make(t)) })
			t.Run("offsets", func(t *testing.T) { testOffsets(t, ec.make(t)) })
			t.Run("outbox", func(t *testing.T) { testOutbox(t, ec.make(t)) })
			t.Run("outbox-batches", func(t *testing.T) { testOutboxBatches(t, ec.make(t)) })
			t.Run("billing", func(t *testing.T) { testBilling(t, ec.make(t)) })
			t.Run("find", func(t *testing.T) { testFind(t, ec.make(t)) })
			t.Run("refs-keys-absorbed", func(t *testing.T) { testRefsKeysAbsorbed(t, ec.make(t)) })
		})
	}
	t.Run("fingerprint-equal-across-engines", testFingerprintAcrossEngines)
	t.Run("fingerprint-sensitive", testFingerprintSensitive)
}

func update(t *testing.T, s *Store, fn func(tx Tx) error) {
	t.Helper()
	if err := s.Update(fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, s *Store, fn func(tx Tx) error) {
	t.Helper()
	if err := s.View(fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var (
	pidA = unionfind.ImplicitPersonID("1", "a")
	pidB = unionfind.ImplicitPersonID("1", "b")
	pidC = unionfind.ImplicitPersonID("1", "c")
)

func testPerson(id unionfind.PersonID) unionfind.Person {
	return unionfind.Person{ID: id, CreatedAt: 1700000000000, Identified: true, Version: 3, Size: 2,
		Props: []unionfind.Property{{Key: "email", Value: json.RawMessage(`"a@b.c"`), Time: 10}, {Key: "n", Value: json.RawMessage(`1`), Time: 11}}}
}

func members(t *testing.T, tx Tx, team string, id unionfind.PersonID) []string {
	t.Helper()
	var out []string
	must(t, tx.Members(team, id, func(d string) error { out = append(out, d); return nil }))
	return out
}

func testAbsent(t *testing.T, s *Store) {
	view(t, s, func(tx Tx) error {
		if _, ok, err := tx.Mapping("1", "a"); ok || err != nil {
			t.Fatalf("absent mapping: ok=%v err=%v", ok, err)
		}
		if _, ok, err := tx.Person("1", pidA); ok || err != nil {
			t.Fatalf("absent person: ok=%v err=%v", ok, err)
		}
		if m := members(t, tx, "1", pidA); len(m) != 0 {
			t.Fatalf("members of nobody: %q", m)
		}
		if _, ok, err := tx.Applied(0); ok || err != nil {
			t.Fatalf("absent applied: %v %v", ok, err)
		}
		if _, ok, err := tx.HighWater(0, "events", 1); ok || err != nil {
			t.Fatalf("absent high water: %v %v", ok, err)
		}
		return nil
	})
}

func testReadYourWrites(t *testing.T, s *Store) {
	update(t, s, func(tx Tx) error {
		m := unionfind.Mapping{PersonID: pidA, Version: 2}
		must(t, tx.PutMapping("1", "a", m))
		if got, ok, err := tx.Mapping("1", "a"); !ok || err != nil || got != m {
			t.Fatalf("mapping after put: %+v %v %v", got, ok, err)
		}
		p := testPerson(pidA)
		must(t, tx.PutPerson("1", p))
		if got, ok, err := tx.Person("1", pidA); !ok || err != nil || !samePerson(got, p) {
			t.Fatalf("person after put: %+v %v %v", got, ok, err)
		}
		// Overwrite within the same transaction.
		p.Version = 4
		must(t, tx.PutPerson("1", p))
		if got, _, _ := tx.Person("1", pidA); got.Version != 4 {
			t.Fatalf("second put not read back: %d", got.Version)
		}
		must(t, tx.PutMember("1", pidA, "a"))
		must(t, tx.PutMember("1", pidA, "b"))
		if got := members(t, tx, "1", pidA); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("members after put: %q", got)
		}
		must(t, tx.DeleteMember("1", pidA, "a"))
		if got := members(t, tx, "1", pidA); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("members after delete: %q", got)
		}
		must(t, tx.SetApplied(3, 77))
		if n, ok, err := tx.Applied(3); !ok || err != nil || n != 77 {
			t.Fatalf("applied after set: %d %v %v", n, ok, err)
		}
		return nil
	})
	// Committed: visible to views and later updates.
	view(t, s, func(tx Tx) error {
		if got, ok, _ := tx.Mapping("1", "a"); !ok || got.PersonID != pidA || got.Version != 2 {
			t.Fatalf("mapping after commit: %+v", got)
		}
		if got, _, _ := tx.Person("1", pidA); got.Version != 4 {
			t.Fatalf("person after commit: %+v", got)
		}
		if got := members(t, tx, "1", pidA); !slices.Equal(got, []string{"b"}) {
			t.Fatalf("members after commit: %q", got)
		}
		return nil
	})
	update(t, s, func(tx Tx) error {
		if got, ok, _ := tx.Mapping("1", "a"); !ok || got.Version != 2 {
			t.Fatalf("mapping in next update: %+v", got)
		}
		return nil
	})
}

func testMembersOrder(t *testing.T, s *Store) {
	dids := []string{"zeta", "a", "B", "\x00", "ä", "a\x00", "ab", "1", " null", "\xff"}
	update(t, s, func(tx Tx) error {
		for _, d := range dids {
			must(t, tx.PutMember("1", pidA, d))
		}
		// Neighbours that must not leak in: another person, another team
		// whose name extends this one, and a mapping/person key.
		must(t, tx.PutMember("1", pidB, "other"))
		must(t, tx.PutMember("12", pidA, "team12"))
		must(t, tx.PutMember("", pidA, "empty-team"))
		must(t, tx.PutPerson("1", testPerson(pidA)))
		// Inside the writing transaction, too.
		want := slices.Clone(dids)
		slices.Sort(want)
		if got := members(t, tx, "1", pidA); !slices.Equal(got, want) {
			t.Fatalf("members in update:\n got %q\nwant %q", got, want)
		}
		return nil
	})
	want := slices.Clone(dids)
	slices.Sort(want)
	view(t, s, func(tx Tx) error {
		if got := members(t, tx, "1", pidA); !slices.Equal(got, want) {
			t.Fatalf("members:\n got %q\nwant %q", got, want)
		}
		if got := members(t, tx, "12", pidA); !slices.Equal(got, []string{"team12"}) {
			t.Fatalf("team 12 members: %q", got)
		}
		// fn's error stops the iteration and comes back.
		stop := errors.New("stop")
		n := 0
		err := tx.Members("1", pidA, func(string) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Fatalf("Members error: %v after %d", err, n)
		}
		return nil
	})
}

func testTombstones(t *testing.T, s *Store) {
	update(t, s, func(tx Tx) error {
		must(t, tx.PutMapping("1", "a", unionfind.Mapping{PersonID: pidA, Version: 5, Deleted: true}))
		p := testPerson(pidA)
		p.Deleted, p.Version, p.Size = true, 103, 0
		return tx.PutPerson("1", p)
	})
	view(t, s, func(tx Tx) error {
		if m, ok, _ := tx.Mapping("1", "a"); !ok || !m.Deleted || m.Version != 5 || m.PersonID != pidA {
			t.Fatalf("mapping tombstone: %+v %v", m, ok)
		}
		if p, ok, _ := tx.Person("1", pidA); !ok || !p.Deleted || p.Version != 103 {
			t.Fatalf("person tombstone: %+v %v", p, ok)
		}
		// unionfind.Find treats a tombstoned mapping as implicit.
		p, explicit, err := unionfind.Find(tx, "1", "a")
		if err != nil || explicit || p.ID != unionfind.ImplicitPersonID("1", "a") {
			t.Fatalf("find over tombstone: %+v %v %v", p, explicit, err)
		}
		return nil
	})
	p, explicit, err := s.Find("1", "a")
	if err != nil || explicit || p.ID != unionfind.ImplicitPersonID("1", "a") || p.Size != 1 {
		t.Fatalf("Store.Find over tombstone: %+v %v %v", p, explicit, err)
	}
}

func testAtomicity(t *testing.T, s *Store) {
	var g unionfind.Graph
	// Some committed state first.
	update(t, s, func(tx Tx) error {
		_, err := g.Apply(tx, &unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 5,
			Set: []unionfind.KV{{Key: "k", Value: json.RawMessage(`1`)}}})
		must(t, err)
		return tx.SetApplied(0, 1)
	})
	fp0, err := s.Fingerprint()
	must(t, err)
	// Warm the cache for "u" and "a".
	before, _, err := s.Find("1", "u")
	must(t, err)
	_, _, err = s.Find("1", "a")
	must(t, err)

	boom := errors.New("boom")
	err = s.Update(func(tx Tx) error {
		_, err := g.Apply(tx, &unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 6,
			Merge: &unionfind.Merge{Other: "a", Guarded: true}, Set: []unionfind.KV{{Key: "k", Value: json.RawMessage(`2`)}}})
		must(t, err)
		must(t, tx.SetApplied(0, 2))
		must(t, tx.SetApplied(9, 1))
		must(t, tx.SetHighWater(0, unionfind.Source{Topic: "ev", Partition: 1, Offset: 9}))
		must(t, tx.PutOutbox(unionfind.Source{Topic: "ev", Partition: 1, Offset: 9}, unionfind.Result{Warnings: []unionfind.Warning{{Type: "w"}}}))
		// Inside, the writes are visible.
		if p, _, _ := unionfind.Find(tx, "1", "a"); p.ID != before.ID {
			t.Fatalf("merge not visible inside its update")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("update error: %v, want boom", err)
	}
	fp1, err := s.Fingerprint()
	must(t, err)
	if fp1 != fp0 {
		t.Fatal("failed update changed the fingerprint")
	}
	offs, err := s.AppliedOffsets()
	must(t, err)
	if !reflect.DeepEqual(offs, map[int32]int64{0: 1}) {
		t.Fatalf("failed update changed applied offsets: %v", offs)
	}
	view(t, s, func(tx Tx) error {
		if _, ok, _ := tx.HighWater(0, "ev", 1); ok {
			t.Fatal("failed update left a high water mark")
		}
		return nil
	})
	n := 0
	must(t, outbox(s, "ev", 1, 0, 100, func(unionfind.Source, unionfind.Result) error { n++; return nil }))
	if n != 0 {
		t.Fatal("failed update left outbox rows")
	}
	// And the cache did not keep the uncommitted values.
	if p, _, _ := s.Find("1", "a"); p.ID == before.ID {
		t.Fatal("Find sees the merge of a failed update")
	}
	if p, _, _ := s.Find("1", "u"); !samePerson(p, before) {
		t.Fatalf("Find sees a failed update's person: %+v", p)
	}
	// A panic in fn leaves nothing behind either.
	func() {
		defer func() { recover() }()
		s.Update(func(tx Tx) error {
			must(t, tx.PutMapping("1", "panic", unionfind.Mapping{PersonID: pidA}))
			panic("fn panics")
		})
	}()
	if fp, _ := s.Fingerprint(); fp != fp0 {
		t.Fatal("panicking update changed the fingerprint")
	}
}

func testViewReadOnly(t *testing.T, s *Store) {
	view(t, s, func(tx Tx) error {
		for name, err := range map[string]error{
			"PutMapping":   tx.PutMapping("1", "a", unionfind.Mapping{}),
			"PutPerson":    tx.PutPerson("1", testPerson(pidA)),
			"PutMember":    tx.PutMember("1", pidA, "a"),
			"DeleteMember": tx.DeleteMember("1", pidA, "a"),
			"SetApplied":   tx.SetApplied(0, 1),
			"SetHighWater": tx.SetHighWater(0, unionfind.Source{}),
			"PutOutbox":    tx.PutOutbox(unionfind.Source{}, unionfind.Result{Warnings: []unionfind.Warning{{}}}),
		} {
			if !errors.Is(err, ErrReadOnly) {
				t.Errorf("%s in view: %v", name, err)
			}
		}
		return nil
	})
}

func testTxAfterReturn(t *testing.T, s *Store) {
	var kept Tx
	update(t, s, func(tx Tx) error { kept = tx; return nil })
	if _, _, err := kept.Mapping("1", "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("read through a finished tx: %v", err)
	}
	if err := kept.PutMapping("1", "a", unionfind.Mapping{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("write through a finished tx: %v", err)
	}
}

func testOffsets(t *testing.T, s *Store) {
	src := unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 41, Index: 2}
	update(t, s, func(tx Tx) error {
		must(t, tx.SetApplied(0, 10))
		must(t, tx.SetApplied(5, 20))
		must(t, tx.SetApplied(0, 11))
		must(t, tx.SetHighWater(0, src))
		must(t, tx.SetHighWater(1, unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 7}))
		return nil
	})
	offs, err := s.AppliedOffsets()
	must(t, err)
	if !reflect.DeepEqual(offs, map[int32]int64{0: 11, 5: 20}) {
		t.Fatalf("applied offsets: %v", offs)
	}
	view(t, s, func(tx Tx) error {
		got, ok, err := tx.HighWater(0, "events_raw", 3)
		if !ok || err != nil || got != src {
			t.Fatalf("high water: %+v %v %v", got, ok, err)
		}
		if got, _, _ := tx.HighWater(1, "events_raw", 3); got.Offset != 7 {
			t.Fatalf("high water of log partition 1: %+v", got)
		}
		if _, ok, _ := tx.HighWater(0, "events_raw", 4); ok {
			t.Fatal("high water of another source partition")
		}
		return nil
	})
}

// outbox reads the outbox rows of one partition's span.
func outbox(s *Store, topic string, partition int32, from, to int64, fn func(unionfind.Source, unionfind.Result) error) error {
	return s.OutboxSpans(topic, []OutboxSpan{{Partition: partition, From: from, To: to}}, fn)
}

func testOutbox(t *testing.T, s *Store) {
	row := func(i int64) unionfind.Result {
		return unionfind.Result{DistinctIDs: []unionfind.DistinctIDRow{{Team: "1", DistinctID: "d", PersonID: pidA, Version: uint64(i)}}}
	}
	update(t, s, func(tx Tx) error {
		for _, off := range []int64{5, 1, 300, 2, 256} {
			for idx := uint32(0); idx < 2; idx++ {
				must(t, tx.PutOutbox(unionfind.Source{Topic: "ev", Partition: 0, Offset: off, Index: idx}, row(off)))
			}
		}
		must(t, tx.PutOutbox(unionfind.Source{Topic: "ev", Partition: 1, Offset: 3}, row(3)))
		must(t, tx.PutOutbox(unionfind.Source{Topic: "ev2", Partition: 0, Offset: 3}, row(3)))
		must(t, tx.PutOutbox(unionfind.Source{Topic: "ev", Partition: 0, Offset: 4}, unionfind.Result{})) // empty: not stored
		return nil
	})
	read := func(from, to int64) []unionfind.Source {
		var out []unionfind.Source
		must(t, outbox(s, "ev", 0, from, to, func(src unionfind.Source, r unionfind.Result) error {
			if r.DistinctIDs[0].Version != uint64(src.Offset) {
				t.Fatalf("rows of %+v: %+v", src, r)
			}
			out = append(out, src)
			return nil
		}))
		return out
	}
	src := func(off int64, idx uint32) unionfind.Source {
		return unionfind.Source{Topic: "ev", Offset: off, Index: idx}
	}
	if got, want := read(2, 256), []unionfind.Source{src(2, 0), src(2, 1), src(5, 0), src(5, 1), src(256, 0), src(256, 1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("outbox 2..256:\n got %+v\nwant %+v", got, want)
	}
	// The sources were put out of order: one batch row holds them sorted,
	// under the last (300), and stays until all of them are trimmed.
	must(t, s.TrimOutbox("ev", 0, 5))
	if got, want := read(0, 1000), []unionfind.Source{src(1, 0), src(1, 1), src(2, 0), src(2, 1), src(5, 0), src(5, 1), src(256, 0), src(256, 1), src(300, 0), src(300, 1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("outbox after trim:\n got %+v\nwant %+v", got, want)
	}
	// Several partitions in one call: span by span, each in source order,
	// each bounded by its own range.
	var spans []unionfind.Source
	must(t, s.OutboxSpans("ev", []OutboxSpan{{Partition: 1, From: 0, To: 10}, {Partition: 0, From: 6, To: 300}, {Partition: 7, From: 0, To: 9}},
		func(src unionfind.Source, _ unionfind.Result) error { spans = append(spans, src); return nil }))
	if want := []unionfind.Source{{Topic: "ev", Partition: 1, Offset: 3}, src(256, 0), src(256, 1), src(300, 0), src(300, 1)}; !reflect.DeepEqual(spans, want) {
		t.Fatalf("outbox spans:\n got %+v\nwant %+v", spans, want)
	}
	n := 0
	must(t, outbox(s, "ev", 1, 0, 10, func(unionfind.Source, unionfind.Result) error { n++; return nil }))
	must(t, outbox(s, "ev2", 0, 0, 10, func(unionfind.Source, unionfind.Result) error { n++; return nil }))
	if n != 2 {
		t.Fatalf("trim touched other partitions: %d rows left, want 2", n)
	}
	must(t, s.TrimOutbox("ev", 0, 301))
	if got := read(0, 1000); len(got) != 0 {
		t.Fatalf("outbox after the trim past its last source: %+v", got)
	}
}

func testBilling(t *testing.T, s *Store) {
	must(t, s.ApplyBilling([]BillingDelta{
		{Team: "1", Month: "2026-11", Class: "anonymous", Count: 5},
		{Team: "1", Month: "2026-11", Class: "identified", Count: 2},
		{Team: "1", Month: "2026-11", Class: "anonymous", Count: 1},
		{Team: "12", Month: "2026-11", Class: "anonymous", Count: 9},
	}, map[int32]int64{0: 10, 1: 4}))
	must(t, s.ApplyBilling([]BillingDelta{{Team: "1", Month: "2026-12", Class: "anonymous", Count: 3}}, map[int32]int64{0: 12}))
	type total struct {
		team, month, class string
		n                  int64
	}
	var got []total
	must(t, s.BillingTotals(func(team, month, class string, n int64) error {
		got = append(got, total{team, month, class, n})
		return nil
	}))
	want := []total{
		{"1", "2026-11", "anonymous", 6}, {"1", "2026-11", "identified", 2}, {"1", "2026-12", "anonymous", 3},
		{"12", "2026-11", "anonymous", 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("totals:\n got %v\nwant %v", got, want)
	}
	offs, err := s.BillingOffsets()
	must(t, err)
	if !reflect.DeepEqual(offs, map[int32]int64{0: 12, 1: 4}) {
		t.Fatalf("billing offsets: %v", offs)
	}
	// Billing is not identity state.
	if fp, _ := s.Fingerprint(); fp != emptyFingerprint(t) {
		t.Fatal("billing changed the fingerprint")
	}
}

func emptyFingerprint(t *testing.T) string {
	fp, err := NewMemory().Fingerprint()
	must(t, err)
	return fp
}

// testFind: Store.Find agrees with unionfind.Find in a snapshot, through
// explicit, implicit, merged and deleted persons, before and after caching.
func testFind(t *testing.T, s *Store) {
	var g unionfind.Graph
	apply := func(op unionfind.Op) {
		update(t, s, func(tx Tx) error { _, err := g.Apply(tx, &op); return err })
	}
	check := func(dids ...string) {
		t.Helper()
		for range 2 { // cold, then cached
			for _, d := range dids {
				got, gotExp, err := s.Find("1", d)
				must(t, err)
				var want unionfind.Person
				var wantExp bool
				view(t, s, func(tx Tx) (err error) { want, wantExp, err = unionfind.Find(tx, "1", d); return err })
				if gotExp != wantExp || !samePerson(got, want) {
					t.Fatalf("Find(%q) = %+v %v, want %+v %v", d, got, gotExp, want, wantExp)
				}
			}
		}
	}
	check("a", "b", "c")
	apply(unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", Timestamp: 1, Set: []unionfind.KV{{Key: "k", Value: json.RawMessage(`1`)}}})
	check("a", "b", "c")
	apply(unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "b", Timestamp: 2, Merge: &unionfind.Merge{Other: "a", Guarded: true}})
	check("a", "b", "c")
	apply(unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "c", Timestamp: 3, Merge: &unionfind.Merge{Other: "b"}})
	check("a", "b", "c")
	p, _, _ := s.Find("1", "a")
	apply(unionfind.Op{Kind: unionfind.OpDeletePerson, Team: "1", PersonID: p.ID})
	check("a", "b", "c")
	apply(unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", Timestamp: 4})
	check("a", "b", "c")
}

// opsForFingerprint: a fixed op sequence that touches every kind of state.
func opsForFingerprint() []unionfind.Op {
	kv := func(k, v string) []unionfind.KV { return []unionfind.KV{{Key: k, Value: json.RawMessage(v)}} }
	return []unionfind.Op{
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "anon-1", Timestamp: 10, Set: kv("plan", `"free"`)},
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-1", Timestamp: 11, Merge: &unionfind.Merge{Other: "anon-1", Guarded: true}, Set: kv("email", `"u@x"`)},
		{Kind: unionfind.OpEvent, Team: "2", DistinctID: "user-1", Timestamp: 12, SetOnce: kv("name", `"n"`)},
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "anon-2", Timestamp: 13},
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-1", Timestamp: 14, Merge: &unionfind.Merge{Other: "anon-2", Guarded: true}},
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "gone", Timestamp: 15},
	}
}

func applyOps(t *testing.T, s *Store, ops []unionfind.Op) {
	t.Helper()
	var g unionfind.Graph
	update(t, s, func(tx Tx) error {
		for i := range ops {
			if _, err := g.Apply(tx, &ops[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func testFingerprintAcrossEngines(t *testing.T) {
	var fps []string
	for _, ec := range engineCases() {
		s := ec.make(t)
		ops := opsForFingerprint()
		applyOps(t, s, ops[:2]) // different batch boundaries must not matter
		applyOps(t, s, ops[2:])
		fp, err := s.Fingerprint()
		must(t, err)
		fps = append(fps, fp)
	}
	for i := range fps {
		if fps[i] != fps[0] {
			t.Fatalf("fingerprints differ across engines: %q", fps)
		}
	}
	if fps[0] == emptyFingerprint(t) {
		t.Fatal("fingerprint did not change with state")
	}
}

// testFingerprintSensitive: changing any one mapping, person, property or
// membership changes the fingerprint; offsets, outbox and billing do not.
func testFingerprintSensitive(t *testing.T) {
	base := func() *Store {
		s := NewMemory().Store
		applyOps(t, s, opsForFingerprint())
		return s
	}
	fp0, err := base().Fingerprint()
	must(t, err)
	user := unionfind.ImplicitPersonID("1", "anon-1") // the survivor of the first merge
	mutations := map[string]func(tx Tx) error{
		"mapping person": func(tx Tx) error {
			m, _, _ := tx.Mapping("1", "anon-2")
			m.PersonID = pidB
			return tx.PutMapping("1", "anon-2", m)
		},
		"mapping version": func(tx Tx) error {
			m, _, _ := tx.Mapping("1", "anon-2")
			m.Version++
			return tx.PutMapping("1", "anon-2", m)
		},
		"mapping deleted": func(tx Tx) error {
			m, _, _ := tx.Mapping("1", "anon-2")
			m.Deleted = true
			return tx.PutMapping("1", "anon-2", m)
		},
		"new mapping in other team": func(tx Tx) error {
			return tx.PutMapping("3", "anon-2", unionfind.Mapping{PersonID: user})
		},
		"person identified": func(tx Tx) error {
			p, _, _ := tx.Person("1", user)
			p.Identified = !p.Identified
			return tx.PutPerson("1", p)
		},
		"person created_at": func(tx Tx) error {
			p, _, _ := tx.Person("1", user)
			p.CreatedAt++
			return tx.PutPerson("1", p)
		},
		"property value": func(tx Tx) error {
			p, _, _ := tx.Person("1", user)
			p.Props = slices.Clone(p.Props)
			p.Props[0].Value = json.RawMessage(`"v@x"`)
			return tx.PutPerson("1", p)
		},
		"property time": func(tx Tx) error {
			p, _, _ := tx.Person("1", user)
			p.Props = slices.Clone(p.Props)
			p.Props[0].Time++
			return tx.PutPerson("1", p)
		},
		"property removed": func(tx Tx) error {
			p, _, _ := tx.Person("1", user)
			p.Props = p.Props[1:]
			return tx.PutPerson("1", p)
		},
		"membership": func(tx Tx) error { return tx.DeleteMember("1", user, "anon-2") },
		"mapping generation": func(tx Tx) error {
			m, _, _ := tx.Mapping("1", "anon-2")
			m.Gen++
			return tx.PutMapping("1", "anon-2", m)
		},
		"mapping blocked": func(tx Tx) error {
			m, _, _ := tx.Mapping("1", "anon-2")
			m.Deleted, m.Blocked = true, true
			return tx.PutMapping("1", "anon-2", m)
		},
		"key ref": func(tx Tx) error {
			return tx.PutRef("1", user, unionfind.KeyRef{DistinctID: "anon-2"})
		},
		"key record": func(tx Tx) error {
			return tx.PutKey("1", unionfind.KeyRef{DistinctID: "anon-2", Gen: 1}, unionfind.KeyState{Erased: true})
		},
		"absorbed tombstone": func(tx Tx) error { return tx.PutAbsorbed("1", user, pidB) },
	}
	for name, mut := range mutations {
		s := base()
		update(t, s, mut)
		fp, err := s.Fingerprint()
		must(t, err)
		if fp == fp0 {
			t.Errorf("%s: fingerprint unchanged", name)
		}
	}
	s := base()
	update(t, s, func(tx Tx) error {
		must(t, tx.SetApplied(0, 99))
		must(t, tx.SetHighWater(0, unionfind.Source{Topic: "t", Offset: 3}))
		return tx.PutOutbox(unionfind.Source{Topic: "t", Offset: 3}, unionfind.Result{Warnings: []unionfind.Warning{{Type: "x"}}})
	})
	must(t, s.ApplyBilling([]BillingDelta{{Team: "1", Month: "m", Class: "c", Count: 1}}, nil))
	if fp, _ := s.Fingerprint(); fp != fp0 {
		t.Error("offsets, outbox or billing changed the fingerprint")
	}
}

// testRefsKeysAbsorbed: the key refs, data key records and absorbed
// tombstones of docs/SEMANTICS.md §8 read back, in a fixed order, without
// leaking across persons or teams, inside the writing transaction too.
func testRefsKeysAbsorbed(t *testing.T, s *Store) {
	refs := []unionfind.KeyRef{{DistinctID: "b", Gen: 2}, {DistinctID: "a", Gen: 1}, {DistinctID: "ab", Gen: 0}, {DistinctID: "a", Gen: 0}, {DistinctID: "\xff"}}
	// Key order: the id length-prefixed, then the generation.
	want := []unionfind.KeyRef{{DistinctID: "a", Gen: 0}, {DistinctID: "a", Gen: 1}, {DistinctID: "b", Gen: 2}, {DistinctID: "\xff"}, {DistinctID: "ab", Gen: 0}}
	readRefs := func(tx Tx, team string, id unionfind.PersonID) []unionfind.KeyRef {
		var got []unionfind.KeyRef
		must(t, tx.Refs(team, id, func(k unionfind.KeyRef) error {
			got = append(got, k)
			return nil
		}))
		return got
	}
	readAbsorbed := func(tx Tx, team string, id unionfind.PersonID) []unionfind.PersonID {
		var got []unionfind.PersonID
		must(t, tx.Absorbed(team, id, func(g unionfind.PersonID) error {
			got = append(got, g)
			return nil
		}))
		return got
	}
	check := func(tx Tx) {
		if got := readRefs(tx, "1", pidA); !slices.Equal(got, want) {
			t.Fatalf("refs:\n got %v\nwant %v", got, want)
		}
		if got := readRefs(tx, "12", pidA); !slices.Equal(got, []unionfind.KeyRef{{DistinctID: "team12"}}) {
			t.Fatalf("team 12 refs: %v", got)
		}
		if got := readRefs(tx, "1", pidB); got != nil {
			t.Fatalf("person B refs: %v", got)
		}
		has, err := tx.HasRef("1", pidA, unionfind.KeyRef{DistinctID: "b", Gen: 2})
		must(t, err)
		hasNot, err := tx.HasRef("1", pidA, unionfind.KeyRef{DistinctID: "b", Gen: 1})
		must(t, err)
		if !has || hasNot {
			t.Fatalf("HasRef: %v %v", has, hasNot)
		}
		st, ok, err := tx.Key("1", unionfind.KeyRef{DistinctID: "a", Gen: 1})
		must(t, err)
		if !ok || st != (unionfind.KeyState{Holders: 3, Erased: true}) {
			t.Fatalf("key: %+v %v", st, ok)
		}
		if _, ok, _ := tx.Key("1", unionfind.KeyRef{DistinctID: "a", Gen: 2}); ok {
			t.Fatal("absent key found")
		}
		if erased, err := unionfind.KeyErased(tx, "1", unionfind.KeyRef{DistinctID: "a", Gen: 1}); err != nil || !erased {
			t.Fatalf("KeyErased: %v %v", erased, err)
		}
		if got := readAbsorbed(tx, "1", pidA); !slices.Equal(got, []unionfind.PersonID{pidB, pidC}) && !slices.Equal(got, []unionfind.PersonID{pidC, pidB}) {
			t.Fatalf("absorbed: %v", got)
		}
		if got := readAbsorbed(tx, "1", pidB); got != nil {
			t.Fatalf("absorbed of B: %v", got)
		}
	}
	update(t, s, func(tx Tx) error {
		for _, k := range refs {
			must(t, tx.PutRef("1", pidA, k))
		}
		must(t, tx.PutRef("1", pidA, unionfind.KeyRef{DistinctID: "gone"}))
		must(t, tx.DeleteRef("1", pidA, unionfind.KeyRef{DistinctID: "gone"}))
		must(t, tx.PutRef("12", pidA, unionfind.KeyRef{DistinctID: "team12"}))
		must(t, tx.PutKey("1", unionfind.KeyRef{DistinctID: "a", Gen: 1}, unionfind.KeyState{Holders: 3, Erased: true}))
		must(t, tx.PutAbsorbed("1", pidA, pidB))
		must(t, tx.PutAbsorbed("1", pidA, pidC))
		must(t, tx.PutAbsorbed("1", pidA, pidA))
		must(t, tx.DeleteAbsorbed("1", pidA, pidA))
		check(tx)
		return nil
	})
	view(t, s, func(tx Tx) error {
		check(tx)
		if err := tx.PutRef("1", pidA, unionfind.KeyRef{}); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("PutRef in a view: %v", err)
		}
		if err := tx.PutKey("1", unionfind.KeyRef{}, unionfind.KeyState{}); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("PutKey in a view: %v", err)
		}
		if err := tx.PutAbsorbed("1", pidA, pidB); !errors.Is(err, ErrReadOnly) {
			t.Fatalf("PutAbsorbed in a view: %v", err)
		}
		return nil
	})
}
