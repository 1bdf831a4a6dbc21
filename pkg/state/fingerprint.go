package state

import (
	"bytes"
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
// state is equal. Likewise a person's founder kept in its value (person
// v3, founder.go) is hashed as the m/ key it was kept as before.
func (s *Store) Fingerprint() (string, error) {
	if s.closed.Load() {
		return "", ErrClosed
	}
	h := sha256.New()
	var lb [binary.MaxVarintLen64]byte
	var vb []byte
	write := func(key, v []byte) {
		h.Write(binary.AppendUvarint(lb[:0], uint64(len(key))))
		h.Write(key)
		h.Write(binary.AppendUvarint(lb[:0], uint64(len(v))))
		h.Write(v)
	}
	err := s.eng.view(func(r kvReader) error {
		for _, tag := range identityTags {
			if string(tag) == string(tagMember) {
				if err := fingerprintMembers(r, write); err != nil {
					return err
				}
				continue
			}
			err := r.scan(tag, nil, false, func(key, val []byte) (bool, error) {
				v, built, err := fingerprintValue(vb[:0], tag, key, val)
				if err != nil {
					return false, wrapKey(err, key)
				}
				if built {
					vb = v // reused for the next; never val, which is the engine's
				}
				write(key, v)
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

// fingerprintMembers writes the m/ keys and values, with the m/ key of
// every founder kept in a person's value (founder.go) merged in, in key
// order: an m/ key and the founder's key of the same membership (which
// no write makes, but a store might hold) are one.
func fingerprintMembers(r kvReader, write func(key, val []byte)) error {
	members := newScanCursor(r, tagMember, true, func(key, val []byte, out func(k, v []byte)) error {
		out(key, val)
		return nil
	})
	var kb []byte
	founders := newScanCursor(r, tagPerson, false, func(key, val []byte, out func(k, v []byte)) error {
		if len(val) == 0 || val[0] != codecV3 {
			return nil
		}
		id, ok := personKeyID(key)
		if !ok {
			return wrapKey(corrupt("person key", "bad key"), key)
		}
		_, meta, err := decodePersonRecord(id, val)
		founder := meta.founder
		if err != nil {
			return wrapKey(err, key)
		}
		if founder == "" {
			return nil
		}
		// The decoder takes any founder (checking it would cost a SHA-1 per
		// read on the find path); the fingerprint, which reads them all to
		// compare replicas, is where one that is not the person's own
		// shows: a damaged value, not a membership.
		kr := newKeyReader(key, tagPerson)
		if team := kr.str(); !isFounder(team, id, founder) {
			return wrapKey(corrupt("person", "a founder that is not the person's implicit id"), key)
		}
		kb = append(append(append(kb[:0], tagMember...), key[len(tagPerson):]...), founder...)
		out(kb, nil)
		return nil
	})
	mk, mv, mok, err := members.next()
	if err != nil {
		return err
	}
	fk, _, fok, err := founders.next()
	if err != nil {
		return err
	}
	for mok || fok {
		c := 0
		switch {
		case !fok:
			c = -1
		case !mok:
			c = 1
		default:
			c = bytes.Compare(mk, fk)
		}
		if c <= 0 {
			write(mk, mv)
			if mk, mv, mok, err = members.next(); err != nil {
				return err
			}
		} else {
			write(fk, nil)
		}
		if c >= 0 {
			if fk, _, fok, err = founders.next(); err != nil {
				return err
			}
		}
	}
	return nil
}

// scanCursor gives the entries under a prefix one at a time, as pick
// makes them of the stored ones, in key order, reading them in chunks of
// scanCursorChunk by separate scans (so two cursors can be read in turn:
// a scan is never opened inside another's callback). Its key and value
// are valid until the next call of next.
type scanCursor struct {
	r        kvReader
	prefix   []byte
	from     []byte
	keysOnly bool
	pick     func(key, val []byte, out func(k, v []byte)) error
	keys     [][]byte
	vals     [][]byte
	arena    []byte
	i        int
	done     bool
}

const scanCursorChunk = 1024

func newScanCursor(r kvReader, prefix []byte, keysOnly bool, pick func(key, val []byte, out func(k, v []byte)) error) *scanCursor {
	return &scanCursor{r: r, prefix: prefix, keysOnly: keysOnly, pick: pick}
}

func (c *scanCursor) next() (key, val []byte, ok bool, err error) {
	for c.i == len(c.keys) {
		if c.done {
			return nil, nil, false, nil
		}
		if err := c.fill(); err != nil {
			return nil, nil, false, err
		}
	}
	key, val = c.keys[c.i], c.vals[c.i]
	c.i++
	return key, val, true, nil
}

// fill reads the next chunk: up to scanCursorChunk stored entries from
// c.from on.
func (c *scanCursor) fill() error {
	c.keys, c.vals, c.arena, c.i = c.keys[:0], c.vals[:0], c.arena[:0], 0
	type span struct{ k0, k1, v1 int }
	var spans []span
	out := func(k, v []byte) {
		k0 := len(c.arena)
		c.arena = append(c.arena, k...)
		k1 := len(c.arena)
		c.arena = append(c.arena, v...)
		spans = append(spans, span{k0, k1, len(c.arena)})
	}
	n := 0
	var last []byte
	err := c.r.scan(c.prefix, c.from, c.keysOnly, func(key, val []byte) (bool, error) {
		n++
		last = append(last[:0], key...)
		return n < scanCursorChunk, c.pick(key, val, out)
	})
	if err != nil {
		return err
	}
	for _, s := range spans { // the arena has stopped moving
		c.keys = append(c.keys, c.arena[s.k0:s.k1])
		c.vals = append(c.vals, c.arena[s.k1:s.v1])
	}
	if n < scanCursorChunk {
		c.done = true
		return nil
	}
	c.from = append(last, 0) // the least key after last
	return nil
}
