package state

import (
	"encoding/json"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// interleavedOps are the ops of two source partitions whose order in the
// log changes versions but not content: partition 0 writes to anon, then
// partition 1 merges anon into user. In order A anon's person gets
// color=red before it is absorbed; in order B the merge comes first and
// color=red lands on the survivor: one more version on the survivor, one
// fewer on the tombstone, the same persons.
func interleavedOps() (a, b []unionfind.Op) {
	kv := func(k, v string) []unionfind.KV { return []unionfind.KV{{Key: k, Value: json.RawMessage(v)}} }
	op1 := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "anon", Timestamp: 10, Set: kv("name", `"x"`)}
	op2 := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "user", Timestamp: 11, Set: kv("plan", `"free"`)}
	op3 := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "anon", Timestamp: 12, Set: kv("color", `"red"`)}
	op4 := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "user", Timestamp: 13, Merge: &unionfind.Merge{Other: "anon", Guarded: true}}
	return []unionfind.Op{op1, op2, op3, op4}, []unionfind.Op{op1, op2, op4, op3}
}

// TestContentDigestIgnoresOrder: two interleavings of the same ops give
// different fingerprints (versions differ) but equal content digests, on
// every engine.
func TestContentDigestIgnoresOrder(t *testing.T) {
	a, b := interleavedOps()
	var digests []string
	for _, ec := range engineCases() {
		sa, sb := ec.make(t), ec.make(t)
		applyOps(t, sa, a)
		applyOps(t, sb, b)
		fa, err := sa.Fingerprint()
		must(t, err)
		fb, err := sb.Fingerprint()
		must(t, err)
		if fa == fb {
			t.Fatalf("%s: fingerprints equal: the ops do not exercise an order-dependent version", ec.name)
		}
		da, err := sa.ContentDigest()
		must(t, err)
		db, err := sb.ContentDigest()
		must(t, err)
		if da != db {
			t.Fatalf("%s: content digests differ between interleavings:\n%v\n%v", ec.name, dumpPersons(t, sa), dumpPersons(t, sb))
		}
		digests = append(digests, da)
	}
	for _, d := range digests {
		if d != digests[0] {
			t.Fatalf("content digests differ across engines: %q", digests)
		}
	}
	empty, err := NewMemory().ContentDigest()
	must(t, err)
	if digests[0] == empty {
		t.Fatal("content digest did not change with state")
	}
}

// TestContentDigestSensitive: every part of the content changes the digest:
// a mapping's person, a person's created_at, is_identified, a property
// value, a property key; a version or a property time alone does not.
func TestContentDigestSensitive(t *testing.T) {
	base, _ := interleavedOps()
	digest := func(mutate func(tx Tx) error) string {
		t.Helper()
		s := NewMemory().Store
		applyOps(t, s, base)
		if mutate != nil {
			update(t, s, mutate)
		}
		d, err := s.ContentDigest()
		must(t, err)
		return d
	}
	user := unionfind.ImplicitPersonID("1", "user")
	person := func(tx Tx) unionfind.Person {
		p, ok, err := tx.Person("1", user)
		must(t, err)
		if !ok {
			t.Fatal("no person for user")
		}
		p.Props = append([]unionfind.Property(nil), p.Props...)
		return p
	}
	d0 := digest(nil)
	for _, c := range []struct {
		name    string
		changes bool
		mutate  func(tx Tx) error
	}{
		{"mapping", true, func(tx Tx) error {
			return tx.PutMapping("1", "anon", unionfind.Mapping{PersonID: unionfind.ImplicitPersonID("1", "other"), Version: 1})
		}},
		{"created_at", true, func(tx Tx) error { p := person(tx); p.CreatedAt++; return tx.PutPerson("1", p) }},
		{"is_identified", true, func(tx Tx) error { p := person(tx); p.Identified = !p.Identified; return tx.PutPerson("1", p) }},
		{"property value", true, func(tx Tx) error {
			p := person(tx)
			p.Props[0].Value = json.RawMessage(`"y"`)
			return tx.PutPerson("1", p)
		}},
		{"property key", true, func(tx Tx) error { p := person(tx); p.Props[0].Key += "2"; return tx.PutPerson("1", p) }},
		{"deleted person", true, func(tx Tx) error { p := person(tx); p.Deleted = true; return tx.PutPerson("1", p) }},
		{"person version", false, func(tx Tx) error { p := person(tx); p.Version += 7; return tx.PutPerson("1", p) }},
		{"property time", false, func(tx Tx) error { p := person(tx); p.Props[0].Time += 5; return tx.PutPerson("1", p) }},
		{"mapping version", false, func(tx Tx) error {
			m, _, err := tx.Mapping("1", "anon")
			must(t, err)
			m.Version += 3
			return tx.PutMapping("1", "anon", m)
		}},
	} {
		if got := digest(c.mutate) != d0; got != c.changes {
			t.Errorf("%s: digest changed = %v, want %v", c.name, got, c.changes)
		}
	}
}
