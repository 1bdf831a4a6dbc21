package state

import (
	"bytes"
	"slices"
)

// RowKind is the rows of one kind (one key tag, keys.go) in a store: how
// many there are and the bytes of their keys and values as written, before
// Badger's own overhead (version, block index, Bloom filter, compression).
type RowKind struct {
	// Tag is the key tag, e.g. "d/"; Kind says what the rows are.
	Tag  string `json:"tag"`
	Kind string `json:"kind"`
	Rows int64  `json:"rows"`
	// KeyBytes and ValueBytes are the sums of the rows' key and value
	// lengths.
	KeyBytes   int64 `json:"key_bytes"`
	ValueBytes int64 `json:"value_bytes"`
}

// rowKindName is what RowStats calls the rows under tag.
type rowKindName struct {
	tag  []byte
	kind string
}

// rowKinds names the tags of keys.go, in the order RowStats reports them.
var rowKinds = []rowKindName{
	{tagMapping, "distinct_id mappings"},
	{tagKey, "data-key records"},
	{tagMember, "person members"},
	{tagPerson, "persons"},
	{tagRef, "data-key refs"},
	{tagAbsorbed, "absorbed tombstones"},
	{tagLineage, "lineage rows"},
	{tagHistory, "lineage index"},
	{tagOutbox, "outbox"},
	{tagApplied, "applied offsets"},
	{tagHighWater, "high-water marks"},
	{tagBillOff, "billing offsets"},
	{tagBilling, "billing totals"},
	{unfinishedKey, "unfinished-replay mark"},
}

// RowStats counts the store's rows by kind, in one read of every key and
// value: for an operator who wants to know what the state's bytes are,
// and for benchmarks that count what a workload writes (BENCHMARKS.md).
// Kinds with no rows are left out; rows under no known tag are reported
// with Tag "?". It reads the whole store: minutes for a large one.
func (s *Store) RowStats() ([]RowKind, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	out := make([]RowKind, len(rowKinds)+1)
	for i, k := range rowKinds {
		out[i] = RowKind{Tag: string(k.tag), Kind: k.kind}
	}
	out[len(rowKinds)] = RowKind{Tag: "?", Kind: "unknown"}
	err := s.eng.view(func(r kvReader) error {
		return r.scan(nil, nil, false, func(key, val []byte) (bool, error) {
			i := slices.IndexFunc(rowKinds, func(k rowKindName) bool { return bytes.HasPrefix(key, k.tag) })
			if i < 0 {
				i = len(rowKinds)
			}
			out[i].Rows++
			out[i].KeyBytes += int64(len(key))
			out[i].ValueBytes += int64(len(val))
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(out, func(k RowKind) bool { return k.Rows == 0 }), nil
}
