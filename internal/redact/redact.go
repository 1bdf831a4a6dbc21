package redact

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
)

// Prefix starts every hashed id.
const Prefix = "hmac:"

// hashHex is how many hex digits of the HMAC a hashed id keeps (64 bits;
// see the package doc for why).
const hashHex = 16

// key is the process's HMAC key: random until SetKey.
var key atomic.Pointer[[]byte]

func init() {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("redact: no randomness for the log key: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	key.Store(&k)
}

// SetKey sets the HMAC key of every hash this process makes from now on
// (log.redact_key). cmd/resolver calls it once at start-up, before any
// component logs; an empty key keeps the random per-process one.
func SetKey(k []byte) {
	if len(k) == 0 {
		return
	}
	c := append([]byte(nil), k...)
	key.Store(&c)
}

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

// Error returns err with every whole-token occurrence of the given ids in
// its text replaced by their hashes, for errors that may embed ids and are
// about to be logged or returned towards a log line. The result wraps err,
// so errors.Is and errors.As see the original chain. With ids shown, or a
// nil err, or no id in the text, err is returned unchanged.
//
// Where the text holds the id %q-quoted (as errors should write ids), only
// those quoted occurrences are replaced: in `apply a batch: distinct_id
// "a"` the article stays. Otherwise an occurrence is whole when the bytes
// on either side of it are not word bytes (ASCII letters, digits, '_', or
// part of a non-ASCII character): "a" is replaced in "id a: …", never
// inside "state"; the id is found as written or as it appears inside a
// longer %q-quoted string (escapes included).
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
		// Quoted, as our errors write ids (%q): only those, if there are
		// any; a bare "a" elsewhere is more likely a word than the id.
		if q := strconv.Quote(id); strings.Contains(text, q) {
			text = strings.ReplaceAll(text, q, `"`+h+`"`)
			continue
		}
		text = replaceTokens(text, id, h)
		if q := strconv.Quote(id); len(q) > 2 && q[1:len(q)-1] != id {
			text = replaceTokens(text, q[1:len(q)-1], h)
		}
	}
	if text == msg {
		return err
	}
	return &redacted{text: text, err: err}
}

// Hash is the redacted form of an id: Prefix and the first 16 hex digits of
// its HMAC-SHA256 under the process's key (SetKey).
func Hash(id string) string {
	return HashWith(*key.Load(), id)
}

// HashWith is Hash under the given key.
func HashWith(k []byte, id string) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id))
	var sum [sha256.Size]byte
	m.Sum(sum[:0])
	var b [len(Prefix) + hashHex]byte
	copy(b[:], Prefix)
	hex.Encode(b[len(Prefix):], sum[:hashHex/2])
	return string(b[:])
}

// replaceTokens replaces the whole-token occurrences of tok in s by repl.
func replaceTokens(s, tok, repl string) string {
	var b strings.Builder
	last := 0 // s[:last] is in b, or nothing was replaced yet
	for i := 0; i+len(tok) <= len(s); {
		j := strings.Index(s[i:], tok)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(tok)
		if (start == 0 || !isWordByte(s[start-1])) && (end == len(s) || !isWordByte(s[end])) {
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:start])
			b.WriteString(repl)
			last = end
			i = end
			continue
		}
		i = start + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isWordByte reports whether c can be part of a word that an id must not
// be cut out of: an ASCII letter or digit, '_', or a byte of a multi-byte
// UTF-8 character.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c >= 0x80
}

// redacted is an error whose text had ids replaced; it unwraps to the
// original.
type redacted struct {
	text string
	err  error
}

func (e *redacted) Error() string { return e.text }
func (e *redacted) Unwrap() error { return e.err }
