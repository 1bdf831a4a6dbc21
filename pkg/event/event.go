package event

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Source is where a record came from: its Kafka coordinates and the
// record's own timestamp.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
}

// Event is a decoded, normalised capture event.
//
// An Event is not safe for concurrent mutation. It shares memory with
// nothing the caller holds: Decode copies the record value once, and the
// Event's strings and json.RawMessage values (in Properties, Set, SetOnce)
// are windows of that copy (with Options.NoCopy, of the record value
// itself). So the RawMessage values must not be modified in place;
// appending to one is fine (their capacity ends where they end, so append
// copies).
type Event struct {
	// Team is the normalised team: "1", "phc_abc".
	Team string
	// DistinctID is normalised: numbers as decimal strings, at most
	// MaxDistinctIDRunes characters, NUL replaced by U+FFFD, valid UTF-8.
	DistinctID string
	// UUID is the event's own, or DeriveUUID(src) when it had none.
	UUID uuid.UUID
	// Name is the event name (the "event" field), never empty.
	Name string
	// Timestamp is in UTC, after clock-skew correction and future clamping.
	Timestamp time.Time
	// Kind is Identify, Alias or MergeDangerously only when the merge key is
	// present (docs/SEMANTICS.md §4); otherwise Ordinary.
	Kind Kind
	// Mode is Personless only when properties.$process_person_profile is
	// JSON false.
	Mode Mode
	// MergeOther is the "other" id of a merge request: $anon_distinct_id as
	// a string (JSON null → "null", see idString) or properties.alias. It is
	// "" for Ordinary events.
	MergeOther string
	// Set is properties.$set after merging the top-level $set into it (the
	// top level wins per key); nil when neither is an object, and for
	// personless events.
	Set map[string]json.RawMessage
	// SetOnce is the same for $set_once.
	SetOnce map[string]json.RawMessage
	// Unset is properties.$unset: its string elements, or an object's keys
	// sorted; nil when absent and for personless events.
	Unset []string
	// Properties are the properties as they go out: properties.$set and
	// $set_once hold the merged objects; personless events have no $set,
	// $set_once or $unset. AppendStamped writes this map, so changes to it
	// are reflected (Set, SetOnce and Unset are read-only views).
	//
	// With Options.LazyProperties, Decode leaves it nil: use Property to
	// read a property, and PropertiesMap to get the map (and to change it).
	Properties map[string]json.RawMessage
	// Warnings are the ingestion warnings raised while decoding.
	Warnings []Warning

	order  keyOrder // of the property keys, as they came
	extras []extra  // top-level members passed through
	size   int      // bytes of the input, to size the output buffer

	// Options.LazyProperties: while lazy (and Properties is nil), props are
	// the properties as they go out, in order and without repeated keys,
	// and verbatim, when not nil, is the input's properties object, which
	// is exactly what writing props gives.
	lazy     bool
	props    []prop
	verbatim json.RawMessage
}

func warn(warnings *[]Warning, typ, details string) {
	*warnings = append(*warnings, Warning{Type: typ, Details: details})
}
