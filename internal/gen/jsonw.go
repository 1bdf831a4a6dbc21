package gen

import (
	"strconv"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// jw appends a JSON object to b. It writes keys as given (they are
// constants without characters to escape) and string values as
// jsonlit.AppendString does.
//
// With nested set, it writes the JSON text escaped once more, as the
// contents of a JSON string: the capture envelope's data member.
type jw struct {
	b      []byte
	depth  int
	first  [8]bool
	nested bool
	tmp    []byte
}

func (w *jw) reset() { w.b, w.depth, w.nested = w.b[:0], 0, false }

func (w *jw) open() {
	w.b = append(w.b, '{')
	w.depth++
	w.first[w.depth] = true
}

func (w *jw) close() {
	w.b = append(w.b, '}')
	w.depth--
}

// q writes the quote of a JSON string.
func (w *jw) q() {
	if w.nested {
		w.b = append(w.b, '\\', '"')
	} else {
		w.b = append(w.b, '"')
	}
}

func (w *jw) key(k string) {
	if w.first[w.depth] {
		w.first[w.depth] = false
	} else {
		w.b = append(w.b, ',')
	}
	w.q()
	w.b = append(w.b, k...)
	w.q()
	w.b = append(w.b, ':')
}

func (w *jw) obj(k string) { w.key(k); w.open() }

// strval writes s as a JSON string (nested: escaped twice).
func (w *jw) strval(s string) {
	w.q()
	if w.nested {
		w.tmp = jsonlit.AppendContents(w.tmp[:0], s)
		w.b = jsonlit.AppendContentsBytes(w.b, w.tmp)
	} else {
		w.b = jsonlit.AppendContents(w.b, s)
	}
	w.q()
}

func (w *jw) str(k, v string) { w.key(k); w.strval(v) }

func (w *jw) int(k string, v int64) { w.key(k); w.b = strconv.AppendInt(w.b, v, 10) }

// cents writes v/100 as a JSON number: 12950 → 129.5.
func (w *jw) cents(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, float64(v)/100, 'f', -1, 64)
}

func (w *jw) bool(k string, v bool) { w.key(k); w.b = strconv.AppendBool(w.b, v) }

// raw writes v, a JSON value, as it is.
func (w *jw) raw(k, v string) {
	w.key(k)
	if w.nested {
		w.b = jsonlit.AppendContents(w.b, v)
		return
	}
	w.b = append(w.b, v...)
}

func (w *jw) time(k string, ms int64) {
	w.key(k)
	w.q()
	w.b = jsonlit.AppendMillis(w.b, ms)
	w.q()
}

const hexdig = "0123456789abcdef"

// appendUUIDv7 appends a UUIDv7 string for the time ms whose 74 random
// bits hold all 64 bits of r (and 10 bits of salt), so distinct r give
// distinct UUIDs. upper selects upper-case hex, as iOS SDKs write them.
func appendUUIDv7(b []byte, ms int64, r uint64, salt uint64, upper bool) []byte {
	var u [16]byte
	t := uint64(ms)
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(t>>40), byte(t>>32), byte(t>>24), byte(t>>16), byte(t>>8), byte(t)
	randA := r >> 52                            // 12 bits
	randB := r&(1<<52-1) | (salt&(1<<10-1))<<52 // 62 bits
	u[6] = 0x70 | byte(randA>>8)
	u[7] = byte(randA)
	u[8] = 0x80 | byte(randB>>56)
	for i := 9; i < 16; i++ {
		u[i] = byte(randB >> (8 * (15 - i)))
	}
	digits := hexdig
	if upper {
		digits = "0123456789ABCDEF"
	}
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[c>>4], digits[c&15])
	}
	return b
}

func itoa(i int) string { return strconv.Itoa(i) }
