package event

import (
	"bytes"
	"strconv"

	"github.com/google/uuid"

	"github.com/resolver-dev/resolver/internal/jsonlit"
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
	if u, ok := jsonlit.ParseUUID(inner); ok {
		return u, nil
	}
	u, err := uuid.ParseBytes(inner)
	if err != nil {
		return uuid.UUID{}, reject(ReasonInvalidUUID, "uuid "+quoteShort(v.b)+": "+err.Error())
	}
	return u, nil
}
