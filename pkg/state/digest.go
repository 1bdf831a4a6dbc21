package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// ContentDigest returns a hex SHA-256 over what the identity state says,
// leaving out how it got there:
//
//   - every live distinct_id → person id mapping (tombstones are left out:
//     a deleted mapping means "its implicit person", as does no mapping —
//     except a deleted mapping that is blocked or names a fresh person,
//     docs/SEMANTICS.md §8, which is included as such);
//   - every live person's created_at, is_identified and property values
//     (key and JSON bytes).
//
// It leaves out versions (of persons and of distinct-id rows), property
// times, person sizes, membership keys (they repeat the mappings) and the
// tombstones of absorbed or deleted persons.
//
// Why it exists beside Fingerprint: Fingerprint hashes the stored bytes, so
// it includes versions — the number of changes a person or distinct_id went
// through — which legitimately depend on the order in which different source
// partitions' ops reached identity_log. Two replicas of one log agree on that
// order and compare by Fingerprint; two runs over the same input (one
// instance or three, with or without crashes) each write their own log, in
// a different interleaving, and may differ in versions and tombstones while
// agreeing on every person. docs/SEMANTICS.md makes the content independent of
// that interleaving (persons by deterministic ids, properties by event time,
// created_at the earliest event time), so runs compare by ContentDigest.
//
// Like Fingerprint it is computed in one snapshot, in key order, with every
// field length-prefixed, so equal digests mean equal content.
func (s *Store) ContentDigest() (string, error) {
	if s.closed.Load() {
		return "", ErrClosed
	}
	h := sha256.New()
	w := digestWriter{h: h}
	err := s.eng.view(func(r kvReader) error {
		err := r.scan(tagMapping, nil, false, func(key, val []byte) (bool, error) {
			kr := newKeyReader(key, tagMapping)
			team, did := kr.str(), kr.rest()
			if !kr.ok {
				return false, wrapKey(corrupt("mapping key", "bad key"), key)
			}
			m, err := decodeMapping(team, did, val)
			if err != nil {
				return false, wrapKey(err, key)
			}
			if m.Deleted {
				// A deleted mapping means its implicit person, unless it
				// names a fresh one or is blocked (docs/SEMANTICS.md §8):
				// those say where the id's next event goes.
				if m.Fresh != (unionfind.PersonID{}) || m.Blocked {
					w.byte('f')
					w.str(team)
					w.str(did)
					w.raw(m.Fresh[:])
					if m.Blocked {
						w.byte(1)
					} else {
						w.byte(0)
					}
				}
				return true, nil
			}
			w.byte('d')
			w.str(team)
			w.str(did)
			w.raw(m.PersonID[:])
			return true, nil
		})
		if err != nil {
			return err
		}
		return r.scan(tagPerson, nil, false, func(key, val []byte) (bool, error) {
			kr := newKeyReader(key, tagPerson)
			team := kr.str()
			id, ok := personKeyID(key)
			if !kr.ok || !ok {
				return false, wrapKey(corrupt("person key", "bad key"), key)
			}
			p, err := decodePersonValue(id, val)
			if err != nil {
				return false, wrapKey(err, key)
			}
			if p.Deleted {
				return true, nil
			}
			w.byte('p')
			w.str(team)
			w.raw(p.ID[:])
			w.uvarint(uint64(p.CreatedAt))
			if p.Identified {
				w.byte(1)
			} else {
				w.byte(0)
			}
			w.uvarint(uint64(len(p.Props)))
			for _, pr := range p.Props {
				w.str(pr.Key)
				w.str(string(pr.Value))
			}
			return true, nil
		})
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// digestWriter writes length-prefixed fields into a hash.
type digestWriter struct {
	h  hash.Hash
	lb [binary.MaxVarintLen64]byte
}

func (w *digestWriter) byte(b byte)      { w.lb[0] = b; w.h.Write(w.lb[:1]) }
func (w *digestWriter) raw(b []byte)     { w.h.Write(b) }
func (w *digestWriter) uvarint(v uint64) { w.h.Write(binary.AppendUvarint(w.lb[:0], v)) }

func (w *digestWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.h.Write([]byte(s))
}
