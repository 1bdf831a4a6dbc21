package state

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// upgradeState writes a small identity state through Update: ids whose
// person is their implicit one (mapping v3 since 2026-12-07) and ids of
// another person, tombstones, a blocked id, a fresh person, and persons
// with and without properties.
func upgradeState(t *testing.T, s *Store) {
	t.Helper()
	alice := unionfind.ImplicitPersonID("1", "alice")
	anon := unionfind.ImplicitPersonID("1", "anon-1")
	fresh := unionfind.ImplicitPersonID("1", "fresh")
	must(t, s.Update(func(tx Tx) error {
		for _, err := range []error{
			tx.PutMapping("1", "alice", unionfind.Mapping{PersonID: alice, Version: 0}),
			tx.PutMapping("1", "anon-0", unionfind.Mapping{PersonID: alice, Version: 1, Gen: 2, Held: true}),
			tx.PutMapping("1", "anon-1", unionfind.Mapping{PersonID: anon, Version: 0}),
			tx.PutMapping("1", "gone", unionfind.Mapping{PersonID: unionfind.ImplicitPersonID("1", "gone"), Version: 3, Deleted: true, Blocked: true, Gen: 1}),
			tx.PutMapping("1", "moved", unionfind.Mapping{PersonID: alice, Version: 4, Deleted: true, Gen: 1, Fresh: fresh}),
			tx.PutMapping("t2", "alice", unionfind.Mapping{PersonID: unionfind.ImplicitPersonID("t2", "alice"), Version: 7}),
			tx.PutMember("1", alice, "alice"), tx.PutMember("1", alice, "anon-0"), tx.PutMember("1", anon, "anon-1"),
			tx.PutMember("t2", unionfind.ImplicitPersonID("t2", "alice"), "alice"),
			tx.PutPerson("1", unionfind.Person{ID: alice, CreatedAt: 1_700_000_000_000, Identified: true, Version: 2, Size: 2, Props: []unionfind.Property{
				{Key: "email", Value: json.RawMessage(`"a@example.com"`), Time: 1_700_000_000_001},
				{Key: "plan", Value: json.RawMessage(`{"tier": "pro"}`), Time: -5},
			}}),
			tx.PutPerson("1", unionfind.Person{ID: anon, CreatedAt: -1, Version: 0, Size: 1}),
			tx.PutPerson("t2", unionfind.Person{ID: unionfind.ImplicitPersonID("t2", "alice"), Version: 9, Size: 1}),
			tx.PutPerson("t2", unionfind.Person{ID: unionfind.ImplicitPersonID("t2", "bob"), Deleted: true, Version: 3}),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}))
}

// upgradeFingerprint is Fingerprint of upgradeState, as every replica
// computed it before mapping v3 and person v2 (2026-12-07): measured on
// the code before them. The new encodings must not move it.
const upgradeFingerprint = "c9914da774e45e0a032a6545fd3ecc80e78c220f2be05038cbeb73b7704569c7"

func TestFingerprintStableAcrossEncodings(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			upgradeState(t, s)
			fp, err := s.Fingerprint()
			require.NoError(t, err)
			require.Equal(t, upgradeFingerprint, fp)
		})
	}
}

// TestReadOldEncodings: a replica written before 2026-12-07 holds every
// mapping in v1 or v2 and every person in v1. The new code reads such a
// store as the same state (finds, fingerprint, content digest), and
// Updates on it write the new encodings beside the old ones without
// changing either digest: a store upgraded midway equals one written
// by the new code throughout.
func TestReadOldEncodings(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			fresh := ec.make(t)
			upgradeState(t, fresh)
			old := ec.make(t)
			// The same rows, each value in the encoding of before.
			must(t, fresh.eng.view(func(r kvReader) error {
				return old.eng.update(func(w kvWriter) error {
					for _, tag := range identityTags {
						err := r.scan(tag, nil, false, func(key, val []byte) (bool, error) {
							v := val
							switch {
							case hasTag(key, tagMapping):
								team, did, _ := mappingKeyIDs(key)
								m, err := decodeMapping(team, did, val)
								if err != nil {
									return false, err
								}
								v = appendMappingFull(nil, m)
							case hasTag(key, tagPerson):
								id, _ := personKeyID(key)
								p, founder, err := decodeFounder(id, val)
								if err != nil {
									return false, err
								}
								v = appendPerson(nil, &p)
								if founder != "" { // its m/ key, as before person v3
									kr := newKeyReader(key, tagPerson)
									team := kr.str()
									if err := w.set(memberKey(nil, team, id, founder), nil); err != nil {
										return false, err
									}
								}
							}
							return true, w.set(append([]byte(nil), key...), v)
						})
						if err != nil {
							return err
						}
					}
					return nil
				})
			}))
			if old.filter != nil {
				// The rows were written behind the filter's back (as an
				// older binary wrote them): turn it on again, which reads
				// what is stored, as a rebuild over an old store would.
				must(t, old.SetReplayFilter(false))
				must(t, old.SetReplayFilter(true))
			}
			var oldV3, freshV3 int
			must(t, old.eng.view(func(r kvReader) error {
				return r.scan(tagMapping, nil, false, func(_, val []byte) (bool, error) {
					if val[0] == codecV3 {
						oldV3++
					}
					return true, nil
				})
			}))
			must(t, fresh.eng.view(func(r kvReader) error {
				return r.scan(tagMapping, nil, false, func(_, val []byte) (bool, error) {
					if val[0] == codecV3 {
						freshV3++
					}
					return true, nil
				})
			}))
			require.Zero(t, oldV3, "the old store holds no v3 mapping")
			require.Equal(t, 4, freshV3, "the new store writes v3 for the ids of their implicit persons")

			same := func() {
				t.Helper()
				for _, s := range []*Store{fresh, old} {
					fp, err := s.Fingerprint()
					require.NoError(t, err)
					require.Equal(t, upgradeFingerprint, fp)
				}
				require.Equal(t, dumpMappings(t, fresh), dumpMappings(t, old))
				require.Equal(t, dumpPersons(t, fresh), dumpPersons(t, old))
				d1, err := fresh.ContentDigest()
				require.NoError(t, err)
				d2, err := old.ContentDigest()
				require.NoError(t, err)
				require.Equal(t, d1, d2)
				for _, id := range [][2]string{{"1", "alice"}, {"1", "anon-0"}, {"1", "anon-1"}, {"1", "gone"}, {"1", "moved"}, {"t2", "alice"}, {"1", "never"}} {
					p1, e1, err1 := fresh.Find(id[0], id[1])
					p2, e2, err2 := old.Find(id[0], id[1])
					require.NoError(t, err1)
					require.NoError(t, err2)
					require.Equal(t, e1, e2, id)
					require.True(t, samePerson(p1, p2), "%v: %+v, %+v", id, p1, p2)
				}
			}
			same()

			// The same Update on both: old values are rewritten in the
			// new encodings, and the stores stay equal.
			alice := unionfind.ImplicitPersonID("1", "alice")
			change := func(tx Tx) error {
				p, ok, err := tx.Person("1", alice)
				if err != nil || !ok {
					return fmt.Errorf("alice: %v %w", ok, err)
				}
				p.Version++
				p.Size++
				if err := tx.PutPerson("1", p); err != nil {
					return err
				}
				m, ok, err := tx.Mapping("1", "anon-1")
				if err != nil || !ok {
					return fmt.Errorf("anon-1: %v %w", ok, err)
				}
				m.PersonID, m.Version = alice, m.Version+1
				if err := tx.PutMapping("1", "anon-1", m); err != nil {
					return err
				}
				a, ok, err := tx.Mapping("1", "alice")
				if err != nil || !ok {
					return fmt.Errorf("alice's mapping: %v %w", ok, err)
				}
				a.Version++
				return tx.PutMapping("1", "alice", a)
			}
			must(t, fresh.Update(change))
			must(t, old.Update(change))
			fp1, err := fresh.Fingerprint()
			require.NoError(t, err)
			fp2, err := old.Fingerprint()
			require.NoError(t, err)
			require.Equal(t, fp1, fp2)
			require.NotEqual(t, upgradeFingerprint, fp1)
			require.Equal(t, dumpMappings(t, fresh), dumpMappings(t, old))
			require.Equal(t, dumpPersons(t, fresh), dumpPersons(t, old))
			must(t, old.eng.view(func(r kvReader) error {
				found, err := r.get(mappingKey(nil, "1", "alice"), func(v []byte) error {
					require.Equal(t, byte(codecV3), v[0], "a rewritten mapping of its own person is v3")
					return nil
				})
				require.True(t, found)
				return err
			}))
		})
	}
}
