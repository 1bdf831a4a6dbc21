package shred

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Overhead is how many bytes sealing adds to a value: a 12-byte random
// nonce before the ciphertext and a 16-byte tag after it.
const Overhead = 12 + 16

// The lists of an op whose values are sealed; part of a value's AAD, so a
// $set value cannot be moved to $set_once.
const (
	listSet     byte = 1
	listSetOnce byte = 2
)

// aadVersion leads every AAD, should the binding ever change.
const aadVersion byte = 1

// Seal encrypts the values of op's Set and SetOnce under key, the data key
// kid of (op.Team, op.DistinctID, op.Gen), and marks the op sealed
// (KeyID = kid, Sealed). Each value becomes nonce || ciphertext || tag
// (AES-256-GCM, a fresh random nonce per value), bound by its additional
// data to the op's team, distinct_id and generation, to kid, to the list
// ($set or $set_once) and to the property key: a value moved to another
// op, id, generation, key id, list or property does not open. Property
// keys and Unset stay in clear (they are names, not values).
//
// The op's Set and SetOnce are replaced by new slices; the old ones, and
// the values they hold, are not changed. On error the op is unchanged. An
// op with no values needs no key: callers may leave it unsealed.
//
// One data key may seal at most 2^32 values (the random-nonce bound of
// AES-GCM); a key is per distinct_id and generation, far below it.
func Seal(op *unionfind.Op, kid uint64, key Key) error {
	switch {
	case kid == 0:
		return ErrKeyID
	case op.KeyID != 0:
		return fmt.Errorf("%w (key id %d)", ErrSealed, op.KeyID)
	}
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	n, size := len(op.Set)+len(op.SetOnce), 0
	for _, kvs := range [2][]unionfind.KV{op.Set, op.SetOnce} {
		for i := range kvs {
			size += len(kvs[i].Value) + Overhead
		}
	}
	kvs := make([]unionfind.KV, 0, n)
	buf := make([]byte, 0, size)
	aad := appendAADHead(make([]byte, 0, aadSize(op)), op, kid)
	head := len(aad)
	for _, l := range [2]struct {
		list byte
		kvs  []unionfind.KV
	}{{listSet, op.Set}, {listSetOnce, op.SetOnce}} {
		for _, kv := range l.kvs {
			aad = append(append(aad[:head], l.list), kv.Key...)
			start := len(buf)
			buf = aead.Seal(buf, nil, kv.Value, aad)
			kvs = append(kvs, unionfind.KV{Key: kv.Key, Value: json.RawMessage(buf[start:len(buf):len(buf)])})
		}
	}
	op.Set, op.SetOnce = cut(kvs, len(op.Set))
	op.KeyID, op.Sealed = kid, true
	return nil
}

// Open decrypts the values of a sealed op (KeyID != 0) with key, the data
// key KeyID of (op.Team, op.DistinctID, op.Gen), and marks the op opened:
// KeyID = 0, Sealed, values JSON again — the state unionfind.Graph.Apply
// accepts. All or nothing: if any value does not open, the error wraps
// ErrOpen, names the property key (cut to 64 bytes) and the key id but no
// value, and the op is unchanged. Open never panics, whatever bytes the
// values hold.
func Open(op *unionfind.Op, key Key) error {
	if op.KeyID == 0 {
		return ErrNotSealed
	}
	aead, err := newAEAD(key)
	if err != nil {
		return err
	}
	n, size := len(op.Set)+len(op.SetOnce), 0
	for _, kvs := range [2][]unionfind.KV{op.Set, op.SetOnce} {
		for i := range kvs {
			if v := len(kvs[i].Value); v >= Overhead {
				size += v - Overhead
			}
		}
	}
	kvs := make([]unionfind.KV, 0, n)
	buf := make([]byte, 0, size) // never overlaps a value or the AAD
	aad := appendAADHead(make([]byte, 0, aadSize(op)), op, op.KeyID)
	head := len(aad)
	for _, l := range [2]struct {
		list byte
		name string
		kvs  []unionfind.KV
	}{{listSet, "$set", op.Set}, {listSetOnce, "$set_once", op.SetOnce}} {
		for _, kv := range l.kvs {
			aad = append(append(aad[:head], l.list), kv.Key...)
			start := len(buf)
			var err error
			if len(kv.Value) < Overhead {
				err = ErrOpen
			} else if buf, err = aead.Open(buf, nil, kv.Value, aad); err != nil {
				err = ErrOpen
			}
			if err != nil {
				return fmt.Errorf("%w: %s value of key %s, key id %d (wrong key, or the value or its op was altered)",
					ErrOpen, l.name, quoteShort(kv.Key), op.KeyID)
			}
			kvs = append(kvs, unionfind.KV{Key: kv.Key, Value: json.RawMessage(buf[start:len(buf):len(buf)])})
		}
	}
	op.Set, op.SetOnce = cut(kvs, len(op.Set))
	op.KeyID, op.Sealed = 0, true
	return nil
}

// Erase is what the applier does to a sealed op whose key is erased (or
// cannot be had): it drops the values (Set and SetOnce), sets ValuesErased,
// and marks the op opened (KeyID = 0, Sealed), so that Apply applies the
// rest of it. An op that is not sealed is left as it is.
func Erase(op *unionfind.Op) {
	if op.KeyID == 0 {
		return
	}
	op.Set, op.SetOnce = nil, nil
	op.ValuesErased = true
	op.KeyID, op.Sealed = 0, true
}

func newAEAD(key Key) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("shred: cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("shred: cipher: %w", err)
	}
	return aead, nil
}

// cut splits kvs into Set (its first n) and SetOnce, nil when empty, each
// with its capacity cut so that an append to one cannot reach the other.
func cut(kvs []unionfind.KV, n int) (set, setOnce []unionfind.KV) {
	if n > 0 {
		set = kvs[:n:n]
	}
	if len(kvs) > n {
		setOnce = kvs[n:len(kvs):len(kvs)]
	}
	return set, setOnce
}

// appendAADHead appends the part of a value's additional data that is
// common to all values of op sealed under kid: the AAD version, the team
// and distinct_id (length-prefixed), the generation and kid (big-endian).
// A value's AAD is that, its list, and its property key (the rest).
func appendAADHead(b []byte, op *unionfind.Op, kid uint64) []byte {
	b = append(b, aadVersion)
	b = binary.AppendUvarint(b, uint64(len(op.Team)))
	b = append(b, op.Team...)
	b = binary.AppendUvarint(b, uint64(len(op.DistinctID)))
	b = append(b, op.DistinctID...)
	b = binary.BigEndian.AppendUint32(b, op.Gen)
	return binary.BigEndian.AppendUint64(b, kid)
}

// aadSize is the capacity the AAD of op's values needs.
func aadSize(op *unionfind.Op) int {
	longest := 0
	for _, kvs := range [2][]unionfind.KV{op.Set, op.SetOnce} {
		for i := range kvs {
			longest = max(longest, len(kvs[i].Key))
		}
	}
	return 1 + 2*binary.MaxVarintLen64 + len(op.Team) + len(op.DistinctID) + 4 + 8 + 1 + longest
}

// quoteShort quotes s for an error, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}
