package event

import (
	"encoding/json"
	"slices"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// The event's properties: the keys the resolver reads, the person-property
// updates ($set, $set_once, $unset) and the person-processing flag.

// prop is one member of properties, in input order.
type prop struct {
	key string
	raw json.RawMessage
	ref keyRef // where key is in the properties' text, or refOther
}

// special holds the properties Decode interprets (the last occurrence of a
// repeated key wins, as in encoding/json).
type special struct {
	token, distinctID     val
	set, setOnce, unset   val
	processPersonProfile  val
	anonDistinctID, alias val
}

// parseProperties reads the properties object at d.b[i] into props[:0]
// and f.sp, validating it (the last of a repeated "properties" wins). It
// returns the members and the index just past the object. With f.dedupe, a
// repeated key replaces the value of its first occurrence instead of being
// appended, and f.propsDup is set.
//
// This is the hottest loop of Decode, so it scans members itself rather
// than through an objectIter.
func (f *fields) parseProperties(d *doc, i int, props []prop) ([]prop, int, bool) {
	b, s := d.b, d.s
	props, f.sp, f.propsText, f.propsDup = props[:0], special{}, d.s, false
	var idx keyIndex
	if i = skipSpace(b, i+1); i < len(b) && b[i] == '}' {
		return props, i + 1, true
	}
	for {
		// "key"
		if i >= len(b) || b[i] != '"' {
			return nil, 0, false
		}
		end, flags, ok := scanString(b, i)
		if !ok {
			return nil, 0, false
		}
		key, ref := s[i+1:end-1], textRef(i+1, end-i-2, flags == 0)
		if flags != 0 {
			// Escapes or invalid UTF-8 make the key differ from its text.
			if key = keyOf(b[i:end], s[i:end], flags); key != s[i+1:end-1] {
				ref = refOther
			}
		}
		// :
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return nil, 0, false
		}
		if i = skipSpace(b, i+1); i >= len(b) {
			return nil, 0, false
		}
		// value
		start := i
		if b[i] == '"' {
			i, _, ok = scanString(b, i)
		} else {
			i, ok = skipValue(b, i)
		}
		if !ok {
			return nil, 0, false
		}
		raw := b[start:i:i]
		if len(key) >= 4 && (key[0] == '$' || key[0] == 't' || key[0] == 'd' || key[0] == 'a') {
			f.sp.note(key, val{b: raw, s: s[start:i]})
		}
		dup := false
		if f.dedupe {
			var j int
			if j, dup = idx.add(props, key); dup {
				props[j].raw = raw // the last value, at the first position
				f.propsDup = true
			}
		}
		if !dup {
			props = append(props, prop{key: key, raw: raw, ref: ref})
		}
		// , or }
		if i = skipSpace(b, i); i >= len(b) {
			return nil, 0, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return props, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

// note records v if key is one of the special properties.
func (sp *special) note(key string, v val) {
	switch key {
	case "token":
		sp.token = v
	case "distinct_id":
		sp.distinctID = v
	case "$set":
		sp.set = v
	case "$set_once":
		sp.setOnce = v
	case "$unset":
		sp.unset = v
	case "$process_person_profile":
		sp.processPersonProfile = v
	case "$anon_distinct_id":
		sp.anonDistinctID = v
	case "alias":
		sp.alias = v
	}
}

// buildProperties sets e.Properties, its order, and e.Set, e.SetOnce and
// e.Unset from the members of properties and the top-level $set and
// $set_once.
func (e *Event) buildProperties(props []prop, f *fields, sp *special) {
	m := e.Properties // empty; from a released Event, or nil
	if m == nil {
		m = make(map[string]json.RawMessage, len(props)+2)
		e.Properties = m
	}
	refs := e.order.refs[:0]
	if cap(refs) < len(props)+2 {
		refs = make([]keyRef, 0, len(props)+2)
	}
	e.order = keyOrder{keyText: f.propsText}
	personless := e.Mode == Personless
	for _, p := range props {
		if personless && isPersonKey(p.key) {
			continue
		}
		m[p.key] = p.raw
		if p.ref&refOther == 0 {
			refs = append(refs, p.ref)
		} else { // not its own text: kept aside
			refs = append(refs, refOther|keyRef(len(e.order.other)))
			e.order.other = append(e.order.other, p.key)
		}
	}
	e.order.refs = refs
	if len(m) != len(refs) {
		e.order.dedupe()
	}
	if personless {
		return
	}
	var raw json.RawMessage
	if e.Set, raw = mergeSet(sp.set, f.set); raw != nil {
		e.put(0, raw)
	}
	if e.SetOnce, raw = mergeSet(sp.setOnce, f.setOnce); raw != nil {
		e.put(1, raw)
	}
	e.Unset = unsetKeys(sp.unset)
}

// put sets the property staticKeys[i] ("$set", "$set_once") to raw.
func (e *Event) put(i int, raw json.RawMessage) {
	key := staticKeys[i]
	if _, ok := e.Properties[key]; !ok {
		e.order.addStatic(i)
	}
	e.Properties[key] = raw
}

// modeOf applies docs/SEMANTICS.md §2: only JSON false turns person processing
// off; absent or true is full; anything else is full with a warning.
func modeOf(v val) (Mode, *Warning) {
	switch {
	case !v.present() || string(v.b) == "true":
		return Full, nil
	case string(v.b) == "false":
		return Personless, nil
	}
	return Full, &Warning{
		Type:    WarnInvalidProcessPersonProfile,
		Details: "properties.$process_person_profile is " + quoteShort(v.b) + ", not true or false; processing the person in full",
	}
}

// isPersonKey reports the properties a personless event loses.
func isPersonKey(key string) bool {
	return key == "$set" || key == "$set_once" || key == "$unset"
}

// classify applies the table of docs/SEMANTICS.md §4.
func classify(name string, sp *special) (Kind, string) {
	switch name {
	case "$identify":
		if sp.anonDistinctID.present() {
			return Identify, idString(sp.anonDistinctID)
		}
	case "$create_alias", "$merge_dangerously":
		if sp.alias.isString() {
			if alias := sp.alias.str(); alias != "" {
				if name == "$create_alias" {
					return Alias, alias
				}
				return MergeDangerously, alias
			}
		}
	}
	return Ordinary, ""
}

// idString turns the value of $anon_distinct_id into a string: a string
// as it is (invalid UTF-8 → U+FFFD; NUL kept, the merge rules call such ids
// illegal), a number as numberString writes it, true/false/null as those
// words (as JavaScript's String() would). An object becomes
// "[object Object]" (String({}), an illegal id in §4) and an array the
// empty string (illegal too), so neither can join two persons.
func idString(v val) string {
	switch v.b[0] {
	case '"':
		return v.str()
	case 't':
		return "true"
	case 'f':
		return "false"
	case 'n':
		return "null"
	case '{':
		return "[object Object]"
	case '[':
		return ""
	}
	_, integer, _ := jsonlit.ScanNumber(v.b, 0)
	return numberString(v.s, integer)
}

// mergeSet merges the top-level $set (top) into properties.$set (inner),
// the top level winning on a key clash. It returns the merged map (nil
// when neither is an object) and, when top is an object and so the merge
// changed something, the new raw properties.$set; otherwise raw is nil and
// properties.$set goes out as it came in. Non-object values are ignored.
// The merged object keeps each key where it first appeared.
func mergeSet(inner, top val) (m map[string]json.RawMessage, raw json.RawMessage) {
	if !top.isObject() && !inner.isObject() {
		return nil, nil
	}
	var buf [8]prop
	members := buf[:0]
	if inner.isObject() {
		members = appendMembers(members, inner)
	}
	if top.isObject() {
		members = appendMembers(members, top)
	}
	m = make(map[string]json.RawMessage, len(members))
	for _, p := range members {
		m[p.key] = p.raw
	}
	if !top.isObject() {
		return m, nil
	}
	raw = make(json.RawMessage, 0, len(inner.b)+len(top.b))
	raw = append(raw, '{')
	for i, p := range members {
		if seenBefore(members[:i], p.key) {
			continue
		}
		if len(raw) > 1 {
			raw = append(raw, ',')
		}
		raw = jsonlit.AppendString(raw, p.key)
		raw = append(raw, ':')
		raw = append(raw, m[p.key]...)
	}
	return m, append(raw, '}')
}

func seenBefore(members []prop, key string) bool {
	for _, p := range members {
		if p.key == key {
			return true
		}
	}
	return false
}

// appendMembers appends the members of the valid JSON object v to dst.
func appendMembers(dst []prop, v val) []prop {
	it := newObjectIter(v.b, 0)
	var m member
	for it.next(&m) {
		dst = append(dst, prop{
			key: keyOf(v.b[m.keyStart:m.keyEnd], v.s[m.keyStart:m.keyEnd], m.keyFlags),
			raw: v.b[m.valStart:m.valEnd:m.valEnd],
		})
	}
	return dst
}

// unsetKeys reads properties.$unset: an array (its string elements, in
// order; other elements are ignored) or an object (its keys, sorted).
// Anything else is ignored.
func unsetKeys(v val) []string {
	switch {
	case v.isArray():
		var keys []string
		it := newArrayIter(v.b, 0)
		for {
			i, j, ok := it.next()
			if !ok {
				break
			}
			if v.b[i] == '"' {
				keys = append(keys, stringOf(v.b[i:j], v.s[i:j]))
			}
		}
		return keys
	case v.isObject():
		var buf [8]prop
		var keys []string
		for _, p := range appendMembers(buf[:0], v) {
			if !slices.Contains(keys, p.key) {
				keys = append(keys, p.key)
			}
		}
		slices.Sort(keys)
		return keys
	}
	return nil
}
