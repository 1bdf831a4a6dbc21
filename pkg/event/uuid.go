package event

import (
	"bytes"
	"strconv"

	"github.com/google/uuid"
)

// EventNamespace is the UUIDv5 namespace of derived event uuids. It is
// itself UUIDv5(NameSpaceURL, "https://github.com/resolver-dev/resolver/event").
var EventNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/resolver-dev/resolver/event"))

// DeriveUUID returns the uuid of an event that has none:
// UUIDv5(EventNamespace, "<topic>:<partition>:<offset>"), e.g.
// "events_raw:3:12345". A replay of the same record gets the same uuid.
func DeriveUUID(src Source) uuid.UUID {
	name := make([]byte, 0, len(src.Topic)+24)
	name = append(name, src.Topic...)
	name = append(name, ':')
	name = strconv.AppendInt(name, int64(src.Partition), 10)
	name = append(name, ':')
	name = strconv.AppendInt(name, src.Offset, 10)
	return uuid.NewSHA1(EventNamespace, name)
}

// uuidOf applies the uuid rule of docs/SEMANTICS.md §1. Absent or null: derived.
// Otherwise it must be a string that uuid.Parse accepts (the canonical
// 8-4-4-4-12 form, also with braces, a "urn:uuid:" prefix or as 32 hex
// digits; any case); it goes out in canonical lower-case form.
func uuidOf(v val, src Source) (uuid.UUID, *Rejection) {
	if !v.set() {
		return DeriveUUID(src), nil
	}
	if !v.isString() {
		return uuid.UUID{}, reject(ReasonInvalidUUID, "uuid is not a string: "+quoteShort(v.b))
	}
	inner := v.b[1 : len(v.b)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		inner = unescape(nil, inner)
	}
	if u, ok := parseCanonicalUUID(inner); ok {
		return u, nil
	}
	u, err := uuid.ParseBytes(inner)
	if err != nil {
		return uuid.UUID{}, reject(ReasonInvalidUUID, "uuid "+quoteShort(v.b)+": "+err.Error())
	}
	return u, nil
}

const hexDigits = "0123456789abcdef"

// unhex maps a hex digit to its value and anything else to 0xFF.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i, c := range hexDigits {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()

// parseCanonicalUUID parses the 36-character 8-4-4-4-12 form, the one
// nearly every event carries, without uuid.ParseBytes's generality.
func parseCanonicalUUID(b []byte) (u uuid.UUID, ok bool) {
	if len(b) != 36 || b[8] != '-' || b[13] != '-' || b[18] != '-' || b[23] != '-' {
		return u, false
	}
	var bad byte
	j := 0
	for _, i := range [16]byte{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34} {
		hi, lo := unhex[b[i]], unhex[b[i+1]]
		bad |= hi | lo
		u[j] = hi<<4 | lo
		j++
	}
	return u, bad&0xF0 == 0
}

// appendUUID appends u in canonical form, without quotes.
func appendUUID(dst []byte, u uuid.UUID) []byte {
	var buf [36]byte
	hexPairs(buf[0:8], u[0:4])
	buf[8] = '-'
	hexPairs(buf[9:13], u[4:6])
	buf[13] = '-'
	hexPairs(buf[14:18], u[6:8])
	buf[18] = '-'
	hexPairs(buf[19:23], u[8:10])
	buf[23] = '-'
	hexPairs(buf[24:36], u[10:16])
	return append(dst, buf[:]...)
}

func hexPairs(dst, src []byte) {
	for i, c := range src {
		dst[2*i], dst[2*i+1] = hexDigits[c>>4], hexDigits[c&0xF]
	}
}
