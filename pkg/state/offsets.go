package state

// AppliedOffsets returns, per identity_log partition, the next offset to
// apply (Tx.SetApplied), as committed. The applier resumes from here after a
// restart or crash.
func (s *Store) AppliedOffsets() (map[int32]int64, error) {
	return s.partitionOffsets(tagApplied, "applied offset")
}

// partitionOffsets reads the int64 values under tag ‖ i32(partition).
func (s *Store) partitionOffsets(tag []byte, what string) (map[int32]int64, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	out := make(map[int32]int64)
	err := s.eng.view(func(r kvReader) error {
		return r.scan(tag, nil, false, func(key, val []byte) (bool, error) {
			kr := newKeyReader(key, tag)
			p := kr.i32()
			if !kr.done() {
				return false, wrapKey(corrupt(what, "bad key"), key)
			}
			v, err := decodeI64(what, val)
			if err != nil {
				return false, wrapKey(err, key)
			}
			out[p] = v
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
