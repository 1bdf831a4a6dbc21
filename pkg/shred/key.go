package shred

import (
	"crypto/rand"
	"fmt"
)

// KeySize is the size of a data key and of a master key: AES-256.
const KeySize = 32

// Key is a data key: 32 random bytes, the AES-256-GCM key of the values of
// one (team, distinct_id, generation). It prints as "shred.Key(redacted)"
// under every fmt verb, so a key cannot reach a log by accident.
type Key [KeySize]byte

// NewKey is a fresh data key from crypto/rand.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("shred: new data key: %w", err)
	}
	return k, nil
}

const redacted = "shred.Key(redacted)"

// String is redacted.
func (Key) String() string { return redacted }

// GoString is redacted.
func (Key) GoString() string { return redacted }

// Format prints the redacted form for every verb.
func (Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }
