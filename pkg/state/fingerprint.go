package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Fingerprint returns a hex SHA-256 over the whole identity state: every
// d/, k/, m/, p/, r/ and t/ key and value (all teams), in key order, each
// as uvarint len(key) ‖ key ‖ uvarint len(value) ‖ value. Offsets, the
// outbox, lineage and billing are not part of it. Two replicas that
// applied the same ops have equal fingerprints, whatever their engine or
// batch boundaries; any difference in a mapping, person or property
// changes it.
//
// Mapping and person values are hashed in the encodings every replica
// wrote before 2026-12-07 (appendMappingFull, Person v1), whichever the
// store holds: a replica written since (mapping v3, person v2) and one
// written before, or upgraded midway, have equal fingerprints when their
// state is equal.
func (s *Store) Fingerprint() (string, error) {
	if s.closed.Load() {
		return "", ErrClosed
	}
	h := sha256.New()
	var lb [binary.MaxVarintLen64]byte
	var vb []byte
	err := s.eng.view(func(r kvReader) error {
		for _, tag := range identityTags {
			err := r.scan(tag, nil, false, func(key, val []byte) (bool, error) {
				v, built, err := fingerprintValue(vb[:0], tag, key, val)
				if err != nil {
					return false, wrapKey(err, key)
				}
				if built {
					vb = v // reused for the next; never val, which is the engine's
				}
				h.Write(binary.AppendUvarint(lb[:0], uint64(len(key))))
				h.Write(key)
				h.Write(binary.AppendUvarint(lb[:0], uint64(len(v))))
				h.Write(v)
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fingerprintValue is the value Fingerprint hashes for key: val, or a
// mapping or person re-encoded in its pre-2026-12-07 form, appended to b
// (built).
func fingerprintValue(b []byte, tag, key, val []byte) (v []byte, built bool, err error) {
	switch string(tag) {
	case string(tagMapping):
		if len(val) > 0 && val[0] != codecV3 {
			return val, false, nil // already v1 or v2
		}
		team, did, ok := mappingKeyIDs(key)
		if !ok {
			return nil, false, corrupt("mapping key", "bad key")
		}
		m, err := decodeMapping(team, did, val)
		if err != nil {
			return nil, false, err
		}
		return appendMappingFull(b, m), true, nil
	case string(tagPerson):
		if len(val) > 0 && val[0] == codecV1 {
			return val, false, nil
		}
		id, ok := personKeyID(key)
		if !ok {
			return nil, false, corrupt("person key", "bad key")
		}
		p, err := decodePersonValue(id, val)
		if err != nil {
			return nil, false, err
		}
		return appendPerson(b, &p), true, nil
	}
	return val, false, nil
}
