package redact

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Prefix starts every hashed id.
const Prefix = "sha256:"

// hashHex is how many hex digits of the SHA-256 a hashed id keeps.
const hashHex = 12

// IDs renders ids for log lines and errors that reach them. The zero value
// redacts; Show(true) prints ids as is (log.redact: false). It is a small
// value, safe to copy and to use from any goroutine.
type IDs struct {
	show bool
}

// Show returns an IDs that prints ids as is when show is true and hashes
// them otherwise. Callers pass !log.redact.
func Show(show bool) IDs { return IDs{show: show} }

// Showing reports whether ids are printed as is.
func (r IDs) Showing() bool { return r.show }

// ID returns id as it may appear in a log line: the id itself, or Hash(id).
func (r IDs) ID(id string) string {
	if r.show {
		return id
	}
	return Hash(id)
}

// Field is a zap string field holding ID(id).
func (r IDs) Field(key, id string) zap.Field { return zap.String(key, r.ID(id)) }

// Error returns err with every occurrence of the given ids in its text
// replaced by their hashes, for errors that embed ids (a corrupt-state error
// names the distinct_id whose mapping is broken) and are about to be logged
// or returned towards a log line. The result wraps err, so errors.Is and
// errors.As see the original chain. With ids shown, or a nil err, or no id
// in the text, err is returned unchanged.
//
// An id is found as written or as it appears inside a %q-quoted string
// (escapes included); an id split by other escapes (a key quoted as a whole,
// with a non-printable byte right before the id) may be missed, so errors
// should keep ids out of their text where they can.
func (r IDs) Error(err error, ids ...string) error {
	if r.show || err == nil {
		return err
	}
	msg := err.Error()
	text := msg
	for _, id := range ids {
		if id == "" {
			continue
		}
		h := Hash(id)
		text = strings.ReplaceAll(text, id, h)
		if q := strconv.Quote(id); len(q) > 2 && q[1:len(q)-1] != id {
			text = strings.ReplaceAll(text, q[1:len(q)-1], h)
		}
	}
	if text == msg {
		return err
	}
	return &redacted{text: text, err: err}
}

// Hash is the redacted form of an id: Prefix and the first 12 hex digits of
// its SHA-256.
func Hash(id string) string {
	sum := sha256.Sum256([]byte(id))
	var b [len(Prefix) + hashHex]byte
	copy(b[:], Prefix)
	hex.Encode(b[len(Prefix):], sum[:hashHex/2])
	return string(b[:])
}

// redacted is an error whose text had ids replaced; it unwraps to the
// original.
type redacted struct {
	text string
	err  error
}

func (e *redacted) Error() string { return e.text }
func (e *redacted) Unwrap() error { return e.err }
