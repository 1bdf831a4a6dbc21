package event

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// Stamp is what the resolver adds to an event (docs/SEMANTICS.md §6).
type Stamp struct {
	// PersonID is the person's uuid; AppendStamped writes it in canonical
	// form (formatting it there, not into a string per event, saves the
	// pipeline an allocation per event: BenchmarkStamp in pkg/resolve).
	PersonID uuid.UUID
	// PersonCreatedAt is written as RFC 3339 in UTC (see jsonlit.AppendTime); the
	// caller supplies 1970-01-01T00:00:05Z for an implicit person.
	PersonCreatedAt time.Time
	// PersonProperties is a JSON object; nil or empty is written as {}.
	PersonProperties json.RawMessage
	// PersonMode is "full", "propertyless" or "force_upgrade".
	PersonMode string
	// BillingClass is "identified", "anonymous" or "excluded".
	BillingClass string
}

// AppendStamped appends the person-stamped event (docs/SEMANTICS.md §6) to dst
// and returns the extended buffer. It writes, in this order:
//
//	uuid, event, distinct_id, team, timestamp, properties,
//	the input's other top-level members in input order,
//	person_id, person_created_at, person_properties, person_mode, billing_class
//
// uuid, event, distinct_id, team and timestamp come from the Event's
// fields; properties from e.Properties, in input order, with keys the
// caller added afterwards sorted at the end (with Options.LazyProperties,
// until PropertiesMap is called, the same properties from Decode's list). Of the input's top-level
// members these are not passed through: data (unwrapped), $set and
// $set_once (merged into properties), sent_at, now and offset (consumed by
// the timestamp, which is already corrected: passing them on would invite
// a second correction downstream), $distinct_id (replaced by distinct_id),
// and any team, person_* or billing_class of the input's own. Everything
// else, including team_id, token, api_key, $token and the envelope's ip,
// goes out unchanged.
func (e *Event) AppendStamped(dst []byte, s Stamp) []byte {
	dst = slices.Grow(dst, e.StampedSize(s))
	dst = append(dst, `{"uuid":"`...)
	dst = jsonlit.AppendUUID(dst, e.UUID)
	dst = append(dst, `","event":`...)
	dst = jsonlit.AppendString(dst, e.Name)
	dst = append(dst, `,"distinct_id":`...)
	dst = jsonlit.AppendString(dst, e.DistinctID)
	dst = append(dst, `,"team":`...)
	dst = jsonlit.AppendString(dst, e.Team)
	dst = append(dst, `,"timestamp":"`...)
	dst = jsonlit.AppendTime(dst, e.Timestamp)
	dst = append(dst, `","properties":`...)
	if e.lazy && e.Properties == nil {
		dst = e.appendPropertyList(dst)
	} else {
		dst = e.appendProperties(dst)
	}
	for _, x := range e.extras {
		dst = append(dst, ',')
		dst = jsonlit.AppendString(dst, x.key)
		dst = append(dst, ':')
		dst = append(dst, x.raw...)
	}
	dst = append(dst, `,"person_id":"`...)
	dst = jsonlit.AppendUUID(dst, s.PersonID)
	dst = append(dst, `","person_created_at":"`...)
	dst = jsonlit.AppendTime(dst, s.PersonCreatedAt)
	dst = append(dst, `","person_properties":`...)
	if len(s.PersonProperties) == 0 {
		dst = append(dst, '{', '}')
	} else {
		dst = append(dst, s.PersonProperties...)
	}
	dst = append(dst, `,"person_mode":`...)
	dst = jsonlit.AppendString(dst, s.PersonMode)
	dst = append(dst, `,"billing_class":`...)
	dst = jsonlit.AppendString(dst, s.BillingClass)
	return append(dst, '}')
}

// StampedSize is about the bytes AppendStamped appends for s (a little more
// as a rule): callers that carve outputs from their own buffers reserve it.
func (e *Event) StampedSize(s Stamp) int { return e.size + len(s.PersonProperties) + 320 }

func (e *Event) appendProperties(dst []byte) []byte {
	dst = append(dst, '{')
	n := 0
	m, text := e.Properties, e.order.keyText
	for i, r := range e.order.refs {
		var k string
		if r&(refOther|refStatic) == 0 {
			off := int(uint32(r))
			k = text[off : off+int(r>>32&refLenMask)]
		} else {
			k = e.order.key(i)
		}
		v, ok := m[k]
		if !ok {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		if r&refPlain != 0 {
			dst = append(dst, '"')
			dst = append(dst, k...)
			dst = append(dst, '"', ':')
		} else {
			dst = jsonlit.AppendString(dst, k)
			dst = append(dst, ':')
		}
		if len(v) == 0 {
			v = null
		}
		dst = append(dst, v...)
		n++
	}
	if n < len(e.Properties) {
		var added []string
		for k := range e.Properties {
			if !e.order.has(k) {
				added = append(added, k)
			}
		}
		slices.Sort(added)
		for _, k := range added {
			dst = appendMember(dst, n, k, e.Properties[k])
			n++
		}
	}
	return append(dst, '}')
}

var null = json.RawMessage("null")

func appendMember(dst []byte, n int, k string, v json.RawMessage) []byte {
	if n > 0 {
		dst = append(dst, ',')
	}
	dst = jsonlit.AppendString(dst, k)
	dst = append(dst, ':')
	if len(v) == 0 {
		return append(dst, "null"...)
	}
	return append(dst, v...)
}
