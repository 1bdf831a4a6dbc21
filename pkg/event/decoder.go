package event

import (
	"time"
)

// DefaultMaxEventBytes is Options.MaxEventBytes when it is not set: 1 MiB.
const DefaultMaxEventBytes = 1 << 20

// Options configure a Decoder. The zero value is usable.
type Options struct {
	// MaxEventBytes is the largest record value accepted, in bytes; larger
	// ones are rejected with event_too_large before any parsing.
	// Default (0 or less): DefaultMaxEventBytes.
	MaxEventBytes int
	// Now returns the processing time, used to clamp timestamps more than
	// FutureCutoff in the future and when an event has no other time.
	// Default: time.Now.
	Now func() time.Time
	// LazyProperties leaves Event.Properties nil. Decode keeps the
	// properties instead as the list of members AppendStamped writes, and
	// when the input's properties object goes out unchanged (compact, no
	// repeated, escaped or non-ASCII keys, nothing merged in or stripped)
	// AppendStamped copies its bytes as they are. Building the map is the
	// largest cost of Decode; a caller that only classifies, stamps and
	// encodes events need not pay it. Read properties with Event.Property;
	// Event.PropertiesMap builds the map, after which the Event is as if
	// decoded without this option. The stamped output is the same either
	// way. Default false: Decode fills Event.Properties.
	LazyProperties bool
	// NoCopy makes Decode read the record value in place instead of
	// copying it first: the Event's strings and json.RawMessage values
	// (those in Properties, Set and SetOnce included) are then windows of
	// value itself. The caller must not modify value for as long as the
	// Event, or anything taken from it, is in use; and anything kept from
	// it keeps all of value in memory. Decode itself never writes to value,
	// and the RawMessages' capacity ends where they end, so appending to
	// one copies. Suits a caller whose record values are read-only and
	// outlive the events, as franz-go's records do. Default false: Decode
	// copies value once and retains nothing of it.
	NoCopy bool
	// Teams is the trusted team map (config teams.file, docs/SEMANTICS.md §1):
	// a decoded team is resolved through it, and a team it does not know
	// is rejected with unknown_team. The Decoder reads the map on every
	// Decode, so a TeamMap.Replace (a reload) takes effect at once.
	// Default nil: no map, every valid team is kept.
	Teams *TeamMap
}

// Decoder decodes and normalises capture events. It holds only its options,
// so one Decoder is safe for concurrent use by any number of goroutines.
type Decoder struct {
	maxBytes int
	now      func() time.Time
	lazy     bool // Options.LazyProperties
	noCopy   bool // Options.NoCopy
	teams    *TeamMap
}

// NewDecoder returns a Decoder with o's defaults applied.
func NewDecoder(o Options) *Decoder {
	d := &Decoder{maxBytes: o.MaxEventBytes, now: o.Now, lazy: o.LazyProperties, noCopy: o.NoCopy, teams: o.Teams}
	if d.maxBytes <= 0 {
		d.maxBytes = DefaultMaxEventBytes
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// propScratch is how many properties Decode collects without allocating.
const propScratch = 32

// Decode decodes one record value read from src. It returns the normalised
// event, or a *Rejection saying why the record must be dead-lettered; see
// the package documentation for the order of the checks. Decode does not
// retain value, unless the Decoder has Options.NoCopy.
func (d *Decoder) Decode(value []byte, src Source) (*Event, error) {
	ev := newEvent()
	var r *Rejection
	if d.lazy && cap(ev.props) >= propScratch {
		// A released Event's property list takes the properties straight
		// from the parser, so that buildPropertyList need not copy them.
		r = d.decode(value, src, ev.props[:0], ev)
	} else {
		var scratch [propScratch]prop
		r = d.decode(value, src, scratch[:], ev)
	}
	if r != nil {
		ev.Release()
		return nil, r // a nil *Rejection must not become a non-nil error
	}
	return ev, nil
}

// decode decodes value into ev, a new Event, collecting the properties in
// props[:0].
func (d *Decoder) decode(value []byte, src Source, props []prop, ev *Event) *Rejection {
	// 1. size, 2. JSON.
	if len(value) > d.maxBytes {
		return reject(ReasonEventTooLarge, itoa(int64(len(value)))+" bytes, limit "+itoa(int64(d.maxBytes)))
	}
	f := fields{dedupe: d.lazy, extras: ev.extras[:0]}
	var dc *doc
	if d.noCopy {
		dc = newDocOwned(value)
	} else {
		dc = newDoc(value)
	}
	props, r := f.parse(dc, false, props)
	if r != nil {
		return r
	}
	if f.isEnvelope() {
		if props, r = f.unwrap(props); r != nil {
			return r
		}
	}
	if f.properties.set() && !f.properties.isObject() {
		return reject(ReasonInvalidJSON, "properties is not an object: "+quoteShort(f.properties.b))
	}
	sp := &f.sp

	var warnings []Warning
	// 3. team, and the team map.
	team, r := teamOf(&f, sp.token)
	if r != nil {
		return r
	}
	if mapped, ok := d.teams.Resolve(team); ok {
		team = mapped
	} else {
		return reject(ReasonUnknownTeam, "team "+quoteTeam(team)+" is neither a token nor a team id of the team map (teams.file)")
	}
	// 4. distinct_id.
	id, w, r := distinctIDOf(&f, sp.distinctID)
	if r != nil {
		return r
	}
	if w != nil {
		warnings = append(warnings, *w)
	}
	// 5. uuid.
	u, r := uuidOf(f.uuid, src)
	if r != nil {
		return r
	}
	// 6. event name.
	name, r := nameOf(f.event)
	if r != nil {
		return r
	}
	// 7. timestamp.
	processed := d.now().UTC()
	ts := timestampOf(&f, src, processed, &warnings)
	// 8. person processing, and personless identity events.
	mode, w := modeOf(sp.processPersonProfile)
	if w != nil {
		warnings = append(warnings, *w)
	}
	kind, other := classify(name, sp)
	if mode == Personless && kind != Ordinary {
		return reject(ReasonIdentityWithoutPersonProcessing, name+" with properties.$process_person_profile false")
	}
	// 9. properties as they go out, with $set / $set_once merged.
	ev.Team, ev.DistinctID, ev.UUID, ev.Name, ev.Timestamp = team, id, u, name, ts
	ev.Kind, ev.Mode, ev.MergeOther, ev.Warnings = kind, mode, other, warnings
	ev.size, ev.extras = len(value), f.extras
	if d.lazy {
		ev.buildPropertyList(props, &f, sp)
	} else {
		ev.buildProperties(props, &f, sp)
	}
	return nil
}

// nameOf applies the event-name rule: a non-empty string.
func nameOf(v val) (string, *Rejection) {
	switch {
	case !v.present():
		return "", reject(ReasonInvalidEventName, "no event name")
	case !v.isString():
		return "", reject(ReasonInvalidEventName, "event is not a string: "+quoteShort(v.b))
	}
	name := v.str()
	if name == "" {
		return "", reject(ReasonInvalidEventName, "event is empty")
	}
	return name, nil
}
