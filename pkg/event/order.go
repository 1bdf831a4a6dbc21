package event

// The input order of an event's properties, kept so that AppendStamped
// writes them as they came. It holds no pointers: each key is a position in
// the text the properties were parsed from, so keeping the order costs the
// garbage collector nothing to scan and no write barriers.

// keyRef locates one property key.
//
//	bit 63 (refOther): bits 0–31 index otherKeys (keys that were escaped in
//	                   the input, and the keys Decode adds)
//	bit 62 (refPlain): the key needs no JSON escaping
//	otherwise:         bits 0–31 are its offset in keyText, bits 32–61 its length
type keyRef uint64

const (
	refOther   keyRef = 1 << 63
	refPlain   keyRef = 1 << 62
	refLenMask        = 1<<30 - 1
)

// keyOrder is the property order of one event.
type keyOrder struct {
	keyText string   // the text the property keys were parsed from
	refs    []keyRef // in input order, without duplicates
	other   []string // keys not found verbatim in keyText
}

// key returns the i-th key.
func (o *keyOrder) key(i int) string {
	r := o.refs[i]
	if r&refOther != 0 {
		return o.other[uint32(r)]
	}
	off := int(uint32(r))
	return o.keyText[off : off+int(r>>32&refLenMask)]
}

// plain reports whether the i-th key needs no JSON escaping.
func (o *keyOrder) plain(i int) bool { return o.refs[i]&refPlain != 0 }

// add appends key; off is its offset in keyText, or -1 when it is not
// there verbatim.
func (o *keyOrder) add(key string, off int, plain bool) {
	var r keyRef
	if off >= 0 && off <= 1<<32-1 && len(key) <= refLenMask {
		r = keyRef(len(key))<<32 | keyRef(off)
	} else {
		r = refOther | keyRef(len(o.other))
		o.other = append(o.other, key)
	}
	if plain {
		r |= refPlain
	}
	o.refs = append(o.refs, r)
}

// has reports whether key is in the order.
func (o *keyOrder) has(key string) bool {
	for i := range o.refs {
		if o.key(i) == key {
			return true
		}
	}
	return false
}

// dedupe keeps the first occurrence of each key.
func (o *keyOrder) dedupe() {
	seen := make(map[string]struct{}, len(o.refs))
	out := o.refs[:0]
	for i, r := range o.refs {
		k := o.key(i)
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			out = append(out, r)
		}
	}
	o.refs = out
}
