package state

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// rawMemberKeys returns the distinct_ids of person id's m/ keys as stored.
func rawMemberKeys(t *testing.T, s *Store, team string, id unionfind.PersonID) []string {
	t.Helper()
	prefix := memberPrefix(nil, team, id)
	var out []string
	must(t, s.eng.view(func(r kvReader) error {
		return r.scan(prefix, nil, true, func(key, _ []byte) (bool, error) {
			out = append(out, string(key[len(prefix):]))
			return true, nil
		})
	}))
	return out
}

// storedFounder returns person id's p/ value's version byte and founder.
func storedFounder(t *testing.T, s *Store, team string, id unionfind.PersonID) (byte, string) {
	t.Helper()
	var ver byte
	var founder string
	must(t, s.eng.view(func(r kvReader) error {
		found, err := r.get(personKey(nil, team, id), func(v []byte) (err error) {
			ver = v[0]
			_, founder, err = decodeFounder(id, v)
			return err
		})
		if !found && err == nil {
			t.Fatalf("no p/ value of %s", id)
		}
		return err
	}))
	return ver, founder
}

// TestFounderKeptWithPerson, on every engine: a person's founder is a
// member kept in its p/ value (v3), not as an m/ key; Members gives it in
// distinct_id order among the others, in Updates and Views, once; it
// leaves by DeleteMember; and a founder change without a PutPerson in the
// same Update is still written (with the person's value, or as an m/ key
// for a person without one).
func TestFounderKeptWithPerson(t *testing.T) {
	pb := unionfind.ImplicitPersonID("1", "b") // founded by b
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			update(t, s, func(tx Tx) error {
				for _, d := range []string{"a", "b", "c"} {
					must(t, tx.PutMapping("1", d, unionfind.Mapping{PersonID: pb}))
				}
				must(t, tx.PutMember("1", pb, "c"))
				must(t, tx.PutMember("1", pb, "b"))
				must(t, tx.PutMember("1", pb, "a"))
				require.Equal(t, []string{"a", "b", "c"}, members(t, tx, "1", pb), "own writes")
				return tx.PutPerson("1", unionfind.Person{ID: pb, Size: 3})
			})
			require.NoError(t, s.Sync())
			require.Equal(t, []string{"a", "c"}, rawMemberKeys(t, s, "1", pb))
			ver, f := storedFounder(t, s, "1", pb)
			require.Equal(t, byte(codecV3), ver)
			require.Equal(t, "b", f)
			view(t, s, func(tx Tx) error {
				require.Equal(t, []string{"a", "b", "c"}, members(t, tx, "1", pb))
				return nil
			})
			update(t, s, func(tx Tx) error {
				require.Equal(t, []string{"a", "b", "c"}, members(t, tx, "1", pb), "committed")
				// A property change keeps the founder.
				p, ok, err := tx.Person("1", pb)
				require.True(t, ok)
				require.NoError(t, err)
				p.Version++
				return tx.PutPerson("1", p)
			})
			_, f = storedFounder(t, s, "1", pb)
			require.Equal(t, "b", f, "kept by a later PutPerson")

			// The founder leaves.
			update(t, s, func(tx Tx) error {
				must(t, tx.DeleteMember("1", pb, "b"))
				require.Equal(t, []string{"a", "c"}, members(t, tx, "1", pb))
				return tx.PutPerson("1", unionfind.Person{ID: pb, Size: 2})
			})
			ver, f = storedFounder(t, s, "1", pb)
			require.Equal(t, byte(codecV2), ver)
			require.Empty(t, f)
			view(t, s, func(tx Tx) error {
				require.Equal(t, []string{"a", "c"}, members(t, tx, "1", pb))
				return nil
			})

			// It comes back without a PutPerson: flushPersons writes it.
			update(t, s, func(tx Tx) error { return tx.PutMember("1", pb, "b") })
			_, f = storedFounder(t, s, "1", pb)
			require.Equal(t, "b", f)
			require.Equal(t, []string{"a", "c"}, rawMemberKeys(t, s, "1", pb))
			// And leaves without one.
			update(t, s, func(tx Tx) error { return tx.DeleteMember("1", pb, "b") })
			_, f = storedFounder(t, s, "1", pb)
			require.Empty(t, f)

			// A founder of a person without a value: an m/ key.
			pz := unionfind.ImplicitPersonID("1", "z")
			update(t, s, func(tx Tx) error { return tx.PutMember("1", pz, "z") })
			require.Equal(t, []string{"z"}, rawMemberKeys(t, s, "1", pz))
			update(t, s, func(tx Tx) error {
				require.Equal(t, []string{"z"}, members(t, tx, "1", pz))
				return tx.DeleteMember("1", pz, "z")
			})
			require.Empty(t, rawMemberKeys(t, s, "1", pz))
		})
	}
}

// TestFounderOldMemberKey: a store written before person v3 keeps a
// founder as an m/ key beside a v2 p/ value. Members gives it once (also
// if a store held both forms), DeleteMember removes the key, and the
// fingerprint is that of the same membership kept in the p/ value.
func TestFounderOldMemberKey(t *testing.T) {
	pb := unionfind.ImplicitPersonID("1", "b")
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			newer, older := ec.make(t), ec.make(t)
			update(t, newer, func(tx Tx) error {
				must(t, tx.PutMapping("1", "b", unionfind.Mapping{PersonID: pb}))
				must(t, tx.PutMember("1", pb, "b"))
				return tx.PutPerson("1", unionfind.Person{ID: pb, Size: 1})
			})
			require.NoError(t, newer.Sync())
			p := unionfind.Person{ID: pb, Size: 1}
			must(t, older.eng.update(func(w kvWriter) error {
				must(t, w.set(mappingKey(nil, "1", "b"), appendMapping(nil, "1", "b", unionfind.Mapping{PersonID: pb})))
				must(t, w.set(memberKey(nil, "1", pb, "b"), nil))
				return w.set(personKey(nil, "1", pb), encodePersonValue(&p, personMeta{}))
			}))
			if older.filter != nil {
				must(t, older.SetReplayFilter(false))
				must(t, older.SetReplayFilter(true))
			}
			require.Equal(t, fingerprint(t, newer), fingerprint(t, older))
			view(t, older, func(tx Tx) error {
				require.Equal(t, []string{"b"}, members(t, tx, "1", pb))
				return nil
			})

			// Both forms at once: one member, one fingerprint entry.
			both := ec.make(t)
			must(t, both.eng.update(func(w kvWriter) error {
				must(t, w.set(mappingKey(nil, "1", "b"), appendMapping(nil, "1", "b", unionfind.Mapping{PersonID: pb})))
				must(t, w.set(memberKey(nil, "1", pb, "b"), nil))
				return w.set(personKey(nil, "1", pb), encodePersonValue(&p, founderMeta("b")))
			}))
			if both.filter != nil {
				must(t, both.SetReplayFilter(false))
				must(t, both.SetReplayFilter(true))
			}
			require.Equal(t, fingerprint(t, newer), fingerprint(t, both))
			view(t, both, func(tx Tx) error {
				require.Equal(t, []string{"b"}, members(t, tx, "1", pb))
				return nil
			})

			update(t, older, func(tx Tx) error {
				must(t, tx.DeleteMember("1", pb, "b"))
				return tx.PutPerson("1", unionfind.Person{ID: pb, Deleted: true})
			})
			require.Empty(t, rawMemberKeys(t, older, "1", pb))
			view(t, older, func(tx Tx) error {
				require.Empty(t, members(t, tx, "1", pb))
				return nil
			})
		})
	}
}

// TestFingerprintMembersChunks: the m/ keys and the founders are merged
// in key order across the cursors' chunks (more persons than one chunk).
func TestFingerprintMembersChunks(t *testing.T) {
	s := NewMemory().Store
	const n = 2*scanCursorChunk + 17
	update(t, s, func(tx Tx) error {
		for i := range n {
			f := "f" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
			id := unionfind.ImplicitPersonID("1", f)
			must(t, tx.PutMember("1", id, f))
			if i%3 == 0 {
				must(t, tx.PutMember("1", id, "0first"))
				must(t, tx.PutMember("1", id, "zlast"))
			}
			must(t, tx.PutPerson("1", unionfind.Person{ID: id, Size: 1}))
		}
		return nil
	})
	var keys [][]byte
	must(t, s.eng.view(func(r kvReader) error {
		return fingerprintMembers(r, func(k, _ []byte) { keys = append(keys, slices.Clone(k)) })
	}))
	require.Len(t, keys, n+2*((n+2)/3))
	require.True(t, slices.IsSortedFunc(keys, func(a, b []byte) int { return bytes.Compare(a, b) }))
	for i := 1; i < len(keys); i++ {
		require.NotEqual(t, keys[i-1], keys[i])
	}
}

// TestFounderBothFormsDeleted: a membership a store holds both as an m/
// key and in the p/ value (the id rejoined a person whose founder key an
// older binary, or flushPersons for a person without a value, wrote) is
// gone after DeleteMember, in both forms (found by review).
func TestFounderBothFormsDeleted(t *testing.T) {
	pz := unionfind.ImplicitPersonID("1", "z")
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			update(t, s, func(tx Tx) error { return tx.PutMember("1", pz, "z") }) // no value: an m/ key
			update(t, s, func(tx Tx) error {
				must(t, tx.PutMember("1", pz, "z"))
				return tx.PutPerson("1", unionfind.Person{ID: pz, Size: 1})
			})
			update(t, s, func(tx Tx) error {
				must(t, tx.DeleteMember("1", pz, "z"))
				return tx.PutPerson("1", unionfind.Person{ID: pz})
			})
			require.NoError(t, s.Sync())
			require.Empty(t, rawMemberKeys(t, s, "1", pz))
			view(t, s, func(tx Tx) error {
				require.Empty(t, members(t, tx, "1", pz))
				return nil
			})
		})
	}
}

// countingWriter counts the reads of p/ keys.
type countingWriter struct {
	kvWriter
	personGets *int
}

func (c countingWriter) get(k []byte, fn func([]byte) error) (bool, error) {
	if bytes.HasPrefix(k, tagPerson) {
		*c.personGets++
	}
	return c.kvWriter.get(k, fn)
}

// TestFounderNoExtraReads: keeping founders in p/ values reads no p/ key
// more than before (no cache, where every read reaches the engine): an
// event that sets a property of a known person reads it once, a merge of
// two known persons three times (found by review: PutPerson and Members
// read the person again).
func TestFounderNoExtraReads(t *testing.T) {
	var g unionfind.Graph
	count := func(s *Store, op *unionfind.Op) int {
		n := 0
		must(t, s.eng.update(func(w kvWriter) error {
			cw := countingWriter{w, &n}
			_, err := g.Apply(&tx{r: cw, w: cw}, op)
			return err
		}))
		return n
	}
	s := NewMemory().Store
	for _, d := range []string{"u", "a"} {
		update(t, s, func(tx Tx) error {
			_, err := g.Apply(tx, &unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: d, Timestamp: 5})
			return err
		})
	}
	set := &unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 6,
		Set: []unionfind.KV{{Key: "k", Value: json.RawMessage(`2`)}}}
	require.Equal(t, 1, count(s, set), "p/ reads of a property change")
	merge := &unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 7,
		Merge: &unionfind.Merge{Other: "a", Guarded: true}}
	require.Equal(t, 3, count(s, merge), "p/ reads of a merge")
}

// TestFounderOddStrings, on every engine: founders of every shape — a
// canonical UUID (stored as 16 bytes), the same UUID in upper case (a
// different distinct_id, stored as it is), a near-UUID, NUL bytes, invalid
// UTF-8 — come back exactly from Members, leave by DeleteMember, and give
// the fingerprint of a store that holds the same memberships as m/ keys,
// the layout before person v3. (From the review of c38f4fd.)
func TestFounderOddStrings(t *testing.T) {
	anon := "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	ids := []string{anon, strings.ToUpper(anon), anon[:35] + "B", anon[:35] + "\x00", "x\xff\xfe", "\x00"}
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			newer, older := ec.make(t), ec.make(t)
			update(t, newer, func(tx Tx) error {
				for _, d := range ids {
					pid := unionfind.ImplicitPersonID("1", d)
					must(t, tx.PutMapping("1", d, unionfind.Mapping{PersonID: pid}))
					must(t, tx.PutMember("1", pid, d))
					must(t, tx.PutMember("1", pid, "zz-other"))
					must(t, tx.PutPerson("1", unionfind.Person{ID: pid, Size: 2}))
				}
				return nil
			})
			must(t, older.eng.update(func(w kvWriter) error {
				for _, d := range ids {
					pid := unionfind.ImplicitPersonID("1", d)
					p := unionfind.Person{ID: pid, Size: 2}
					must(t, w.set(mappingKey(nil, "1", d), appendMapping(nil, "1", d, unionfind.Mapping{PersonID: pid})))
					must(t, w.set(memberKey(nil, "1", pid, d), nil))
					must(t, w.set(memberKey(nil, "1", pid, "zz-other"), nil))
					must(t, w.set(personKey(nil, "1", pid), appendPerson(nil, &p)))
				}
				return nil
			}))
			if older.filter != nil {
				must(t, older.SetReplayFilter(false))
				must(t, older.SetReplayFilter(true))
			}
			require.Equal(t, fingerprint(t, older), fingerprint(t, newer))
			for _, d := range ids {
				pid := unionfind.ImplicitPersonID("1", d)
				ver, f := storedFounder(t, newer, "1", pid)
				require.Equal(t, byte(codecV3), ver)
				require.Equal(t, d, f)
				view(t, newer, func(tx Tx) error {
					require.Equal(t, []string{d, "zz-other"}, members(t, tx, "1", pid))
					return nil
				})
			}
			update(t, newer, func(tx Tx) error {
				for _, d := range ids {
					pid := unionfind.ImplicitPersonID("1", d)
					must(t, tx.DeleteMember("1", pid, d))
					must(t, tx.PutPerson("1", unionfind.Person{ID: pid, Size: 1}))
				}
				return nil
			})
			for _, d := range ids {
				ver, f := storedFounder(t, newer, "1", unionfind.ImplicitPersonID("1", d))
				require.Equal(t, byte(codecV2), ver, d)
				require.Empty(t, f)
			}
		})
	}
}

// TestFounderEncodings: every founder string round-trips through the p/
// value exactly, and only a canonical (lower-case) UUID takes the 16-byte
// form.
func TestFounderEncodings(t *testing.T) {
	p := unionfind.Person{ID: unionfind.ImplicitPersonID("1", "x"), Size: 1}
	anon := "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	for _, f := range []string{anon, strings.ToUpper(anon), "00000000-0000-0000-0000-000000000000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff", "FFFFFFFF-ffff-ffff-ffff-ffffffffffff", anon + " ", " " + anon,
		"\x00", "\xff", anon[:8] + "_" + anon[9:], "urn:uuid:" + anon, anon[:35] + "g"} {
		v := encodePersonValue(&p, founderMeta(f))
		_, got, err := decodeFounder(p.ID, v)
		require.NoError(t, err, "%q", f)
		require.Equal(t, f, got)
		_, canonical := parseCanonicalUUID(f)
		require.Equal(t, canonical, v[1]&personFounderUUID != 0, "%q", f)
	}
}

// TestFingerprintRefusesForeignFounder: a p/ value whose founder is not the
// person's implicit id (damage: the applier never writes one) fails the
// fingerprint as corrupt instead of hashing a membership nobody made.
func TestFingerprintRefusesForeignFounder(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			pid := unionfind.ImplicitPersonID("1", "alice")
			must(t, s.eng.update(func(w kvWriter) error {
				p := unionfind.Person{ID: pid, Size: 1}
				return w.set(personKey(nil, "1", pid), encodePersonValue(&p, founderMeta("mallory")))
			}))
			_, err := s.Fingerprint()
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
}
