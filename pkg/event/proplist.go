package event

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// The properties of an Event decoded with Options.LazyProperties: a list
// of members in output order rather than a map, so that Decode neither
// builds a map nor AppendStamped looks every key up in it, and a properties
// object that needs no rewriting goes out as the bytes it came in as.

// buildPropertyList is buildProperties for Options.LazyProperties: it sets
// e.props to the properties as buildProperties would leave them in the map
// and its order (repeated keys at their first position with their last
// value, which parse has already seen to, person keys stripped from
// personless events, $set and $set_once replaced by their merged objects or
// added at the end), e.verbatim when that is the input's properties object
// unchanged, and e.Set, e.SetOnce and e.Unset as buildProperties does.
//
// props are usually e.props's own storage (see Decode), and the list is
// then built in place; otherwise props are copied.
func (e *Event) buildPropertyList(props []prop, f *fields, sp *special) {
	out := e.props[:0] // from a released Event, or nil
	if len(props) > 0 && cap(out) > 0 && &props[0] == &out[:1][0] {
		out = out[:len(props)] // in place
	} else {
		if cap(out) < len(props)+2 {
			out = make([]prop, 0, max(len(props)+2, propScratch))
		}
		out = append(out, props...)
	}
	same := !f.propsDup // out is the input's members, one for one
	if e.Mode == Personless {
		if sp.set.present() || sp.setOnce.present() || sp.unset.present() {
			kept := out[:0]
			for i := range out {
				if !isPersonKey(out[i].key) {
					kept = append(kept, out[i])
				}
			}
			clear(out[len(kept):])
			out, same = kept, false
		}
	} else {
		var raw json.RawMessage
		if e.Set, raw = mergeSet(sp.set, f.set); raw != nil {
			out, same = putProp(out, staticKeys[0], raw), false
		}
		if e.SetOnce, raw = mergeSet(sp.setOnce, f.setOnce); raw != nil {
			out, same = putProp(out, staticKeys[1], raw), false
		}
		e.Unset = unsetKeys(sp.unset)
	}
	e.Properties, e.lazy, e.props, e.verbatim = nil, true, out, nil
	if same && f.properties.isObject() && isCompact(out, f.properties.b) {
		e.verbatim = f.properties.b
	}
}

// putProp sets the property key (a plain key) to raw: in place when the
// list has it, else at the end.
func putProp(list []prop, key string, raw json.RawMessage) []prop {
	for i := range list {
		if list[i].key == key {
			list[i].raw = raw
			return list
		}
	}
	return append(list, prop{key: key, raw: raw, ref: refPlain})
}

// isCompact reports whether obj, the text of a JSON object whose members
// are list in order, is exactly what appendPropertyList writes for list:
// every key plain (its text is its value, written back unescaped) and no
// space between the members' tokens. Space can only add bytes, so it is
// enough to compare lengths.
func isCompact(list []prop, obj []byte) bool {
	n := 2 + len(list) // braces, and a colon per member
	if len(list) > 0 {
		n += len(list) - 1 // commas
	}
	for i := range list {
		p := &list[i]
		if p.ref&refPlain == 0 {
			return false
		}
		n += len(p.key) + 2 + len(p.raw)
	}
	return n == len(obj)
}

// appendPropertyList writes e.props as a JSON object, as appendProperties
// writes the same properties from the map.
func (e *Event) appendPropertyList(dst []byte) []byte {
	if e.verbatim != nil {
		return append(dst, e.verbatim...)
	}
	dst = append(dst, '{')
	for i := range e.props {
		p := &e.props[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		if p.ref&refPlain != 0 {
			dst = append(dst, '"')
			dst = append(dst, p.key...)
			dst = append(dst, '"', ':')
		} else {
			dst = jsonlit.AppendString(dst, p.key)
			dst = append(dst, ':')
		}
		if len(p.raw) == 0 {
			dst = append(dst, null...)
		} else {
			dst = append(dst, p.raw...)
		}
	}
	return append(dst, '}')
}

// Property returns the value of the property key as AppendStamped writes
// it, and whether the event has it. It works whether or not Decode built
// the Properties map (Options.LazyProperties); without the map it searches
// the properties in order.
func (e *Event) Property(key string) (json.RawMessage, bool) {
	if e.lazy && e.Properties == nil {
		for i := range e.props {
			if e.props[i].key == key {
				return e.props[i].raw, true
			}
		}
		return nil, false
	}
	v, ok := e.Properties[key]
	return v, ok
}

// PropertiesMap returns e.Properties, building it first when Decode left
// it nil (Options.LazyProperties). From then on the Event is as if decoded
// without that option: AppendStamped writes the map, in the same order as
// before, so changes to it are reflected.
func (e *Event) PropertiesMap() map[string]json.RawMessage {
	if !e.lazy || e.Properties != nil {
		return e.Properties
	}
	m := make(map[string]json.RawMessage, len(e.props))
	refs := e.order.refs[:0]
	other := make([]string, 0, len(e.props))
	for i := range e.props {
		p := &e.props[i]
		m[p.key] = p.raw
		refs = append(refs, refOther|keyRef(len(other)))
		other = append(other, p.key)
	}
	e.Properties, e.order = m, keyOrder{refs: refs, other: other}
	e.lazy, e.verbatim = false, nil
	return m
}

// keyIndex finds the keys of a property list while it is built (see
// parseProperties), so that repeated keys are found without a map: an
// open-addressing table of list positions, small enough to live on the
// caller's stack. A list of more than keyIndexMax keys moves to a map.
type keyIndex struct {
	slots [keyIndexSlots]uint8 // position in the list + 1; 0 is empty
	big   map[string]int
}

const (
	keyIndexBits  = 7
	keyIndexSlots = 1 << keyIndexBits
	keyIndexMax   = keyIndexSlots / 2
)

// keySeed varies keySlot from process to process.
var keySeed = rand.Uint64()

// keySlot is where keyIndex starts looking for a key: a hash of its length
// and its first and last eight bytes (or fewer), a handful of instructions.
// It is not collision-resistant, and need not be: keys that collide cost
// only the probing they cause, and keyIndex holds at most keyIndexMax keys.
func keySlot(s string) uint64 {
	const k = 0x9E3779B97F4A7C15 // 2⁶⁴/φ
	var a, b uint64
	switch n := len(s); {
	case n >= 8:
		a, b = load64(s), load64(s[n-8:])
	case n >= 4:
		a, b = uint64(load32(s)), uint64(load32(s[n-4:]))
	case n > 0:
		a, b = uint64(s[0])|uint64(s[n/2])<<8, uint64(s[n-1])
	}
	h := (a ^ keySeed) * k
	h = (h ^ b ^ uint64(len(s))) * k
	return h >> (64 - keyIndexBits)
}

// load64 reads the first eight bytes of s, little-endian.
func load64(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// load32 reads the first four bytes of s, little-endian.
func load32(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// add returns the position of key in list, which idx indexes, and true; or,
// when list does not have it, records it at len(list), where the caller
// must append it, and returns that and false.
func (x *keyIndex) add(list []prop, key string) (int, bool) {
	n := len(list)
	if x.big == nil && n < keyIndexMax {
		for i := keySlot(key); ; i = (i + 1) % keyIndexSlots {
			s := x.slots[i]
			if s == 0 {
				x.slots[i] = uint8(n + 1)
				return n, false
			}
			if list[s-1].key == key {
				return int(s - 1), true
			}
		}
	}
	if x.big == nil {
		x.big = make(map[string]int, 2*n)
		for i := range list {
			x.big[list[i].key] = i
		}
	}
	if i, ok := x.big[key]; ok {
		return i, true
	}
	x.big[key] = n
	return n, false
}
