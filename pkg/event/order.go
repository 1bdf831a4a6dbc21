package event

// The input order of an event's properties, kept so that AppendStamped
// writes them as they came. It holds no pointers: each key is a position in
// the text the properties were parsed from, so keeping the order costs the
// garbage collector nothing to scan and no write barriers.

// keyRef locates one property key.
//
//	bit 63 (refOther):  bits 0–31 index other (keys that were escaped in
//	                    the input)
//	bit 61 (refStatic): bits 0–31 index staticKeys (the keys Decode adds)
//	bit 62 (refPlain):  the key needs no JSON escaping
//	otherwise:          bits 0–31 are its offset in keyText, bits 32–60 its
//	                    length
type keyRef uint64

const (
	refOther   keyRef = 1 << 63
	refPlain   keyRef = 1 << 62
	refStatic  keyRef = 1 << 61
	refLenMask        = 1<<29 - 1
)

// staticKeys are the property keys Decode itself may add.
var staticKeys = [...]string{"$set", "$set_once"}

// keyOrder is the property order of one event.
type keyOrder struct {
	keyText string   // the text the property keys were parsed from
	refs    []keyRef // in input order, without duplicates
	other   []string // keys not found verbatim in keyText
}

// key returns the i-th key.
func (o *keyOrder) key(i int) string {
	r := o.refs[i]
	switch {
	case r&refStatic != 0:
		return staticKeys[uint32(r)]
	case r&refOther != 0:
		return o.other[uint32(r)]
	}
	off := int(uint32(r))
	return o.keyText[off : off+int(r>>32&refLenMask)]
}

// textRef returns the keyRef of the key at off in keyText, n bytes long,
// or refOther when the numbers do not fit.
func textRef(off, n int, plain bool) keyRef {
	if off < 0 || off > 1<<32-1 || n > refLenMask {
		return refOther
	}
	r := keyRef(n)<<32 | keyRef(off)
	if plain {
		r |= refPlain
	}
	return r
}

// addStatic appends staticKeys[i].
func (o *keyOrder) addStatic(i int) {
	o.refs = append(o.refs, refStatic|refPlain|keyRef(i))
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
