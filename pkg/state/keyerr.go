package state

import (
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/resolver-dev/resolver/internal/redact"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// keyError is a storage error about one key. Its text names the key by
// what it is — its kind and its parts (team, partition, topic, offset) —
// with a distinct_id only as its hash (internal/redact) and never the key's
// raw bytes; the cause's text is cut before anything Badger dumps after it
// (its "key too large" error appends a hex dump of the key, its value
// errors one of the value) and cleared of the key. The chain is kept:
// errors.Is and errors.As see the cause.
type keyError struct {
	text string
	err  error
}

func (e *keyError) Error() string { return e.text }
func (e *keyError) Unwrap() error { return e.err }

// wrapKeyOnce is wrapKey, unless err already names a key: an error of one
// key read in a scan of k's prefix names that key, not the prefix.
func wrapKeyOnce(err error, k []byte) error {
	if _, named := errors.AsType[*keyError](err); named {
		return err
	}
	return wrapKey(err, k)
}

// wrapKey wraps a storage error about key k (see keyError); nil stays nil.
func wrapKey(err error, k []byte) error {
	if err == nil {
		return nil
	}
	return &keyError{text: "state: " + describeKey(k) + ": " + causeText(err, k), err: err}
}

// maxTeamText bounds how much of a team a key description repeats.
const maxTeamText = 64

// describeKey names a key without personal data: "mapping key (team "1",
// distinct_id hmac:…)". A key that does not parse is named by its tag and
// length.
func describeKey(k []byte) string {
	var b strings.Builder
	part := func(name, v string) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(name)
		b.WriteByte(' ')
		b.WriteString(v)
	}
	num := func(n int64) string { return strconv.FormatInt(n, 10) }
	kind := ""
	var ok bool
	switch {
	case hasTag(k, tagMapping):
		kind = "mapping key"
		r := newKeyReader(k, tagMapping)
		part("team", teamText(r.str()))
		did := r.rest()
		part("distinct_id", redact.Hash(did))
		ok = r.ok
	case hasTag(k, tagMember):
		kind = "member key"
		r := newKeyReader(k, tagMember)
		part("team", teamText(r.str()))
		part("person", personText(&r))
		part("distinct_id", redact.Hash(r.rest()))
		ok = r.ok
	case hasTag(k, tagPerson):
		kind = "person key"
		r := newKeyReader(k, tagPerson)
		part("team", teamText(r.str()))
		part("person", personText(&r))
		ok = r.done()
	case hasTag(k, tagApplied):
		kind = "applied-offset key"
		r := newKeyReader(k, tagApplied)
		part("identity_log partition", num(int64(r.i32())))
		ok = r.done()
	case hasTag(k, tagHighWater):
		kind = "high-water key"
		r := newKeyReader(k, tagHighWater)
		part("identity_log partition", num(int64(r.i32())))
		part("topic", teamText(r.str()))
		part("partition", num(int64(r.i32())))
		ok = r.done()
	case hasTag(k, tagOutbox):
		kind = "outbox key"
		r := newKeyReader(k, tagOutbox)
		part("topic", teamText(r.str()))
		part("partition", num(int64(r.i32())))
		part("offset", num(r.i64()))
		part("index", num(int64(r.u32())))
		ok = r.done()
	case hasTag(k, tagLineage):
		kind = "lineage key"
		r := newKeyReader(k, tagLineage)
		part("team", teamText(r.str()))
		part("identity_log partition", num(int64(r.i32())))
		part("offset", num(r.i64()))
		if len(r.b) > 0 { // a whole key, not an op's prefix
			part("index", num(int64(r.u32())))
		}
		ok = r.done()
	case hasTag(k, tagHistory):
		kind = "lineage index key"
		r := newKeyReader(k, tagHistory)
		part("team", teamText(r.str()))
		if r.ok && len(r.b) > 0 {
			kd := r.b[0]
			r.b = r.b[1:]
			if kd == histPerson {
				part("person", personText(&r))
			} else {
				part("distinct_id", redact.Hash(r.str()))
			}
			if r.ok && len(r.b) > 0 { // a whole key, not a prefix: its row's position
				part("identity_log partition", num(int64(r.i32())))
				part("offset", num(r.i64()))
				part("index", num(int64(r.u32())))
				ok = r.done()
				break
			}
		}
		ok = r.ok
	case hasTag(k, tagBillOff): // before b/: both start with "b"
		kind = "billing-offset key"
		r := newKeyReader(k, tagBillOff)
		part("billing_usage partition", num(int64(r.i32())))
		ok = r.done()
	case hasTag(k, tagBilling):
		kind = "billing key"
		r := newKeyReader(k, tagBilling)
		part("team", teamText(r.str()))
		part("month", teamText(r.str()))
		part("class", teamText(r.rest()))
		ok = r.ok
	}
	if !ok {
		tag := k[:min(len(k), 3)]
		if i := strings.IndexByte(string(tag), '/'); i >= 0 {
			tag = tag[:i+1]
		}
		return "key with tag " + strconv.Quote(string(tag)) + " (" + num(int64(len(k))) + " bytes, malformed)"
	}
	return kind + " (" + b.String() + ")"
}

// teamText quotes a team (or another short string part), cut to
// maxTeamText bytes.
func teamText(s string) string {
	if len(s) > maxTeamText {
		return strconv.Quote(s[:maxTeamText]) + "…"
	}
	return strconv.Quote(s)
}

// personText reads a person id (16 bytes) off r.
func personText(r *keyReader) string {
	if !r.ok || len(r.b) < 16 {
		r.ok = false
		return "?"
	}
	var id unionfind.PersonID
	copy(id[:], r.b[:16])
	r.b = r.b[16:]
	return id.String()
}

// causeText is err's text up to its first line break, with any rendering
// of the key k in it replaced by "<key>".
func causeText(err error, k []byte) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i] + " (dump omitted)"
	}
	if len(k) == 0 {
		return msg
	}
	q := strconv.Quote(string(k))
	for _, form := range []string{q, q[1 : len(q)-1], string(k), hex.EncodeToString(k)} {
		if form != "" {
			msg = strings.ReplaceAll(msg, form, "<key>")
		}
	}
	return msg
}
