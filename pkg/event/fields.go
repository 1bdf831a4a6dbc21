package event

import (
	"bytes"
	"encoding/json"
	"unsafe"
)

// The top level of a capture event, and envelope unwrapping.

// doc is one JSON text Decode reads: b is a private copy of the bytes (or,
// with Options.NoCopy, the caller's record value itself) and s the same
// bytes viewed as a string, so that keys and string values without escapes
// are substrings of s and values are sub-slices of b, with at most one
// allocation per record rather than one per field.
//
// s aliases b (unsafe.String). That is sound because nothing ever writes to
// b: Decode only reads it, Event documents that its json.RawMessage values,
// which are windows of b, must not be modified in place, and a caller using
// NoCopy promises not to modify its record value.
type doc struct {
	b []byte
	s string
}

// newDoc copies value into a new doc.
func newDoc(value []byte) *doc { return newDocOwned(bytes.Clone(value)) }

// newDocOwned wraps b, which no one modifies from now on.
func newDocOwned(b []byte) *doc {
	return &doc{b: b, s: unsafe.String(unsafe.SliceData(b), len(b))}
}

func (d *doc) val(i, j int) val { return val{b: d.b[i:j:j], s: d.s[i:j]} }

// val is a raw JSON value inside a doc (no surrounding space). The zero val
// means "absent".
type val struct {
	b []byte // capacity-limited: appending to it never touches the doc
	s string
}

// present reports whether the key was there at all.
func (v val) present() bool { return v.b != nil }

// set reports whether the key was there with a value other than null. Null
// counts as absent everywhere a field has fallbacks or an envelope
// overrides the event.
func (v val) set() bool { return len(v.b) > 0 && v.b[0] != 'n' }

// isString, isObject, isArray report the JSON type of a set value.
func (v val) isString() bool { return len(v.b) > 0 && v.b[0] == '"' }
func (v val) isObject() bool { return len(v.b) > 0 && v.b[0] == '{' }
func (v val) isArray() bool  { return len(v.b) > 0 && v.b[0] == '[' }
func (v val) isNumber() bool {
	return len(v.b) > 0 && (v.b[0] == '-' || '0' <= v.b[0] && v.b[0] <= '9')
}

// str returns the Go string of a string value (see stringOf).
func (v val) str() string { return stringOf(v.b, v.s) }

// extra is a top-level member passed through to the stamped event as is.
type extra struct {
	key string
	raw json.RawMessage
}

// fields are the top-level members of an event (or of an envelope).
type fields struct {
	uuid, event, distinctID, dollarDistinctID val
	teamID, token, apiKey, dollarToken        val // also kept in extras
	timestamp, sentAt, now, offset            val
	properties, set, setOnce, data            val

	// sp holds the properties Decode interprets. (The members of
	// properties themselves are returned by parse rather than stored here, so
	// that the caller's scratch array can stay on its stack.)
	sp special
	// propsText is the text properties was parsed from (see keyOrder).
	propsText string
	// dedupe makes parse keep one member per key in the members of
	// properties it returns, at the key's first position with its last
	// value (Options.LazyProperties); propsDup says a key was repeated.
	dedupe, propsDup bool

	// extras are the members written back to the stamped event unchanged, in
	// input order; a repeated key keeps its first position and last value.
	extras []extra

	// envelope is set by unwrap: these are the fields of a capture
	// envelope's data, whose team is envToken, the envelope's own token,
	// and nothing else (see teamOf).
	envelope bool
	envToken val
}

// parse reads the object that makes up d. In an envelope's data (inner),
// a "data" member is an ordinary member; at the top level a string "data"
// marks an envelope. It returns the members of properties (when an
// object), appended to props[:0], whose capacity lets the caller avoid
// allocating.
func (f *fields) parse(d *doc, inner bool, props []prop) ([]prop, *Rejection) {
	props = props[:0]
	b := d.b
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, reject(ReasonInvalidJSON, "not a JSON object")
	}
	it := newObjectIter(b, i)
	var m member
	for it.nextKey(&m) {
		name := keyOf(b[m.keyStart:m.keyEnd], d.s[m.keyStart:m.keyEnd], m.keyFlags)
		if name == "properties" && b[m.valStart] == '{' {
			// Read properties in the same pass that validates them.
			var end int
			var ok bool
			if props, end, ok = f.parseProperties(d, m.valStart, props); !ok {
				it.fail()
				break
			}
			it.valueEnd(&m, end)
			f.properties = d.val(m.valStart, end)
			continue
		}
		end, ok := skipValue(b, m.valStart)
		if !ok {
			it.fail()
			break
		}
		it.valueEnd(&m, end)
		v := d.val(m.valStart, m.valEnd)
		switch name {
		case "uuid":
			f.uuid = v
		case "event":
			f.event = v
		case "distinct_id":
			f.distinctID = v
		case "$distinct_id":
			f.dollarDistinctID = v
		case "team_id":
			f.teamID = v
			f.addExtra(name, v.b)
		case "token":
			f.token = v
			f.addExtra(name, v.b)
		case "api_key":
			f.apiKey = v
			f.addExtra(name, v.b)
		case "$token":
			f.dollarToken = v
			f.addExtra(name, v.b)
		case "timestamp":
			f.timestamp = v
		case "sent_at":
			f.sentAt = v
		case "now":
			f.now = v
		case "offset":
			f.offset = v
		case "properties": // not an object
			f.properties = v
			props, f.sp, f.propsDup = props[:0], special{}, false
		case "$set":
			f.set = v
		case "$set_once":
			f.setOnce = v
		case "data":
			f.data = val{}
			f.removeExtra(name)
			switch {
			case !inner && v.isString():
				f.data = v
			case inner && v.isString():
				// Dropped: passed on, it would make the stamped event
				// look like an envelope.
			default:
				f.addExtra(name, v.b)
			}
		case "team", "person_id", "person_created_at", "person_properties", "person_mode", "billing_class":
			// Written by AppendStamped; the input's own are dropped.
		default:
			f.addExtra(name, v.b)
		}
	}
	if it.bad || skipSpace(b, it.i) != len(b) {
		return nil, reject(ReasonInvalidJSON, "malformed JSON near byte "+itoa(int64(it.i)))
	}
	return props, nil
}

func (f *fields) addExtra(key string, raw json.RawMessage) {
	for i := range f.extras {
		if f.extras[i].key == key {
			f.extras[i].raw = raw
			return
		}
	}
	if f.extras == nil {
		f.extras = make([]extra, 0, 4)
	}
	f.extras = append(f.extras, extra{key: key, raw: raw})
}

func (f *fields) removeExtra(key string) {
	for i := range f.extras {
		if f.extras[i].key == key {
			f.extras = append(f.extras[:i], f.extras[i+1:]...)
			return
		}
	}
}

// isEnvelope reports whether f is a capture envelope: its "data" member is
// a JSON string.
func (f *fields) isEnvelope() bool { return f.data.isString() }

// overlay lays the envelope env over the event f parsed from env's data:
// every member the envelope sets to something other than null wins
// (docs/SEMANTICS.md §1 names uuid, distinct_id and token; the same rule serves
// ip, now, sent_at and anything else an envelope carries).
func (f *fields) overlay(env *fields) {
	over := func(dst *val, src val) {
		if src.set() {
			*dst = src
		}
	}
	over(&f.uuid, env.uuid)
	over(&f.event, env.event)
	over(&f.distinctID, env.distinctID)
	over(&f.dollarDistinctID, env.dollarDistinctID)
	over(&f.teamID, env.teamID)
	over(&f.token, env.token)
	over(&f.apiKey, env.apiKey)
	over(&f.dollarToken, env.dollarToken)
	over(&f.timestamp, env.timestamp)
	over(&f.sentAt, env.sentAt)
	over(&f.now, env.now)
	over(&f.offset, env.offset)
	if env.properties.set() {
		f.properties, f.sp, f.propsText, f.propsDup = env.properties, env.sp, env.propsText, env.propsDup
	}
	over(&f.set, env.set)
	over(&f.setOnce, env.setOnce)
	if len(f.extras) == 0 { // the usual case: take the envelope's as they are
		f.extras = env.extras
		return
	}
	for _, x := range env.extras {
		if len(x.raw) > 0 && x.raw[0] == 'n' && f.hasExtra(x.key) {
			continue
		}
		f.addExtra(x.key, x.raw)
	}
}

func (f *fields) hasExtra(key string) bool {
	for i := range f.extras {
		if f.extras[i].key == key {
			return true
		}
	}
	return false
}

// dropTeamClaims forgets the team_id, api_key and $token of an envelope's
// data: the client wrote them, they never decide the team (teamOf), and
// passed through to the stamped event next to the envelope's team they
// would let a client claim another team to whoever reads them downstream.
// (data's token is replaced by the envelope's, which an envelope must have.)
func (f *fields) dropTeamClaims() {
	f.teamID, f.apiKey, f.dollarToken = val{}, val{}, val{}
	f.removeExtra("team_id")
	f.removeExtra("api_key")
	f.removeExtra("$token")
}

// unwrap replaces the envelope f with the event inside it, laid under the
// envelope's members. props are the envelope's properties; the event's are
// appended after them, in props's spare capacity, and whichever win are
// returned.
func (f *fields) unwrap(props []prop) ([]prop, *Rejection) {
	raw := f.data.b
	data := raw[1 : len(raw)-1]
	d := newDocOwned(unescape(make([]byte, 0, len(data)), data))
	inner := fields{dedupe: f.dedupe}
	innerProps, r := inner.parse(d, true, props[len(props):])
	if r != nil {
		r.Detail = "envelope data: " + r.Detail
		return nil, r
	}
	inner.dropTeamClaims()
	inner.overlay(f)
	inner.envelope, inner.envToken = true, f.token
	if !f.properties.set() {
		props = innerProps
	}
	*f = inner
	return props, nil
}
