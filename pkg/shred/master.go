package shred

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MasterKey wraps the data keys written to identity_keys (AES-256-GCM, the
// record key as additional data, so a wrapped key does not unwrap under
// another record key). It prints redacted, like Key.
//
// With no master key, data keys are written raw. That protects against
// readers of identity_log only: whoever can read identity_keys too holds
// every key that is not erased. A master key, kept out of Kafka (in the
// instances' configuration), protects against readers of both topics.
type MasterKey struct {
	aead cipher.AEAD
}

// ParseMasterKey reads a master key: 64 hexadecimal digits (32 bytes),
// upper or lower case, surrounding white space ignored (a key read from a
// file keeps its newline). An error wraps ErrMasterKey and says what is
// wrong — the length, the position of a character that is not a hex digit,
// a key of zeros — and never contains the key or any part of it.
func ParseMasterKey(s string) (*MasterKey, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return nil, fmt.Errorf("%w: empty; want 64 hex digits (32 bytes)", ErrMasterKey)
	case len(s) != 2*KeySize:
		return nil, fmt.Errorf("%w: %d characters, want 64 hex digits (32 bytes)", ErrMasterKey, len(s))
	}
	var k [KeySize]byte
	for i := 0; i < len(s); i += 2 {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			at := i
			if ok1 {
				at++
			}
			return nil, fmt.Errorf("%w: character %d is not a hex digit (want 64 hex digits)", ErrMasterKey, at+1)
		}
		k[i/2] = hi<<4 | lo
	}
	if subtle.ConstantTimeCompare(k[:], make([]byte, KeySize)) == 1 {
		return nil, fmt.Errorf("%w: all zeros (a placeholder, not a key)", ErrMasterKey)
	}
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKey, err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKey, err)
	}
	return &MasterKey{aead: aead}, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const redactedMaster = "shred.MasterKey(redacted)"

// String is redacted.
func (*MasterKey) String() string { return redactedMaster }

// GoString is redacted.
func (*MasterKey) GoString() string { return redactedMaster }

// Format prints the redacted form for every verb.
func (*MasterKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redactedMaster)) }

// The record value of a data key on identity_keys: a format byte, then the
// key raw (valueRaw) or wrapped by the master key (valueWrapped: nonce,
// ciphertext, tag). A null (empty) value is a tombstone.
const (
	valueRaw     byte = 0
	valueWrapped byte = 1

	rawValueSize     = 1 + KeySize
	wrappedValueSize = 1 + KeySize + Overhead
)

// wrapAAD leads the additional data of a wrapped key (then the record key).
const wrapAAD = "resolver/shred/wrap/v1\x00"

// Reasons a record value is refused (Ring stats count them).
var (
	errBadValue  = errors.New("unknown value format")
	errWrongSize = errors.New("wrong value size")
	errUnwrap    = errors.New("data key does not unwrap (another master key, or altered)")
	errNoMaster  = errors.New("data key is wrapped and no master key is set")
)

// encodeValue is the record value of key under recordKey: wrapped when m
// is set, raw otherwise.
func encodeValue(m *MasterKey, recordKey []byte, key Key) []byte {
	if m == nil {
		return append([]byte{valueRaw}, key[:]...)
	}
	aad := append([]byte(wrapAAD), recordKey...)
	return m.aead.Seal([]byte{valueWrapped}, nil, key[:], aad)
}

// decodeValue is the data key of a non-empty record value. A raw key is
// read whether or not a master key is set (keys written before one was
// configured stay readable); a wrapped key needs the master key that
// wrapped it.
func decodeValue(m *MasterKey, recordKey, v []byte) (Key, error) {
	var k Key
	switch v[0] {
	case valueRaw:
		if len(v) != rawValueSize {
			return k, fmt.Errorf("%w: raw key of %d bytes, want %d", errWrongSize, len(v), rawValueSize)
		}
		copy(k[:], v[1:])
	case valueWrapped:
		if len(v) != wrappedValueSize {
			return k, fmt.Errorf("%w: wrapped key of %d bytes, want %d", errWrongSize, len(v), wrappedValueSize)
		}
		if m == nil {
			return k, errNoMaster
		}
		aad := append([]byte(wrapAAD), recordKey...)
		var out [KeySize]byte
		if _, err := m.aead.Open(out[:0], nil, v[1:], aad); err != nil {
			return k, errUnwrap
		}
		k = out
	default:
		return k, fmt.Errorf("%w %s", errBadValue, strconv.Itoa(int(v[0])))
	}
	return k, nil
}
