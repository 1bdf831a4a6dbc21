package redact

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
)

// Prefix starts every hashed id.
const Prefix = "hmac:"

// minBareID is the shortest id replaced outside quotes when the text also
// holds it quoted.
const minBareID = 3

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
// An occurrence is whole when the bytes on either side of it are not word
// bytes (ASCII letters, digits, '_', or part of a non-ASCII character): "a"
// is replaced in `distinct_id "a"` and "id a: …", never inside "state";
// the id is found as written or as it appears inside a %q-quoted string
// (escapes included). An id shorter than 3 bytes that the text holds
// %q-quoted (as errors should write ids) is replaced only there: in `apply
// a batch: distinct_id "a"` the article stays.
func (r IDs) Error(err error, ids ...string) error {
	if r.show || err == nil {
		return err
	}
	msg := err.Error()
	// Every match is found in the original text, then all are replaced in
	// one pass: a hash put in for one id is never matched by another.
	var ms []match
	for _, id := range ids {
		if id == "" {
			continue
		}
		h := Hash(id)
		// Quoted, as our errors write ids (%q). A very short id found
		// quoted is replaced only there: a bare "a" elsewhere is more
		// likely a word than the id, and one or two characters identify
		// nobody.
		q := strconv.Quote(id)
		quoted := strings.Contains(msg, q)
		if quoted {
			ms = appendMatches(ms, msg, q, `"`+h+`"`, false)
			if len(id) < minBareID {
				continue
			}
		}
		ms = appendMatches(ms, msg, id, h, true)
		if inner := q[1 : len(q)-1]; inner != id {
			ms = appendMatches(ms, msg, inner, h, true)
		}
	}
	if len(ms) == 0 {
		return err
	}
	text := replaceMatches(msg, ms)
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

// match is an occurrence of an id in a text: text[start:end] becomes repl.
type match struct {
	start, end int
	repl       string
}

// appendMatches adds the occurrences of tok in s — only whole tokens if
// whole — to ms.
func appendMatches(ms []match, s, tok, repl string, whole bool) []match {
	for i := 0; i+len(tok) <= len(s); {
		j := strings.Index(s[i:], tok)
		if j < 0 {
			break
		}
		start, end := i+j, i+j+len(tok)
		if !whole || (start == 0 || !isWordByte(s[start-1])) && (end == len(s) || !isWordByte(s[end])) {
			ms = append(ms, match{start, end, repl})
			i = end
			continue
		}
		i = start + 1
	}
	return ms
}

// replaceMatches replaces the matches in s, the earliest (and of those the
// longest) first, skipping any that overlaps one already replaced.
func replaceMatches(s string, ms []match) string {
	slices.SortFunc(ms, func(a, b match) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, m := range ms {
		if m.start < last {
			continue // overlaps the previous replacement
		}
		b.WriteString(s[last:m.start])
		b.WriteString(m.repl)
		last = m.end
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
