package state

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Fingerprint returns a hex SHA-256 over the whole identity state: every
// d/, m/ and p/ key and value (all teams), in key order, each as
// uvarint len(key) ‖ key ‖ uvarint len(value) ‖ value. Offsets, the outbox
// and billing are not part of it. Two replicas that applied the same ops
// have equal fingerprints, whatever their engine or batch boundaries; any
// difference in a mapping, person or property changes it.
func (s *Store) Fingerprint() (string, error) {
	if s.closed.Load() {
		return "", ErrClosed
	}
	h := sha256.New()
	var lb [binary.MaxVarintLen64]byte
	err := s.eng.view(func(r kvReader) error {
		for _, tag := range identityTags {
			err := r.scan(tag, nil, false, func(key, val []byte) (bool, error) {
				h.Write(binary.AppendUvarint(lb[:0], uint64(len(key))))
				h.Write(key)
				h.Write(binary.AppendUvarint(lb[:0], uint64(len(val))))
				h.Write(val)
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
