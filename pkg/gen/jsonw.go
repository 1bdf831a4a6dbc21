package gen

import "strconv"

// jw appends a JSON object to b. It writes keys as given (they are
// constants without characters to escape) and escapes string values.
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

// strval writes s as a JSON string.
func (w *jw) strval(s string) {
	w.q()
	switch {
	case clean(s):
		w.b = append(w.b, s...)
	case !w.nested:
		w.b = appendEscaped(w.b, s)
	default:
		w.tmp = appendEscaped(w.tmp[:0], s)
		w.b = appendEscapedBytes(w.b, w.tmp)
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
	if w.nested && !clean(v) {
		w.b = appendEscaped(w.b, v)
		return
	}
	w.b = append(w.b, v...)
}

func (w *jw) time(k string, ms int64) {
	w.key(k)
	w.q()
	w.b = appendTime(w.b, ms)
	w.q()
}

var escapes = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// clean reports whether s needs no escaping in a JSON string.
func clean(s string) bool {
	for i := 0; i < len(s); i++ {
		if escapes[s[i]] {
			return false
		}
	}
	return true
}

// needsEscape reports whether c must be escaped inside a JSON string.
func needsEscape(c byte) bool { return escapes[c] }

const hexdig = "0123456789abcdef"

// appendQuoted appends s as a JSON string. Non-ASCII UTF-8 is copied as is.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends s escaped for a JSON string, without quotes.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsEscape(c) {
			b = append(b, s[start:i]...)
			b = appendEscape(b, c)
			start = i + 1
		}
	}
	return append(b, s[start:]...)
}

// appendEscapedBytes is appendEscaped for a byte slice.
func appendEscapedBytes(b, s []byte) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsEscape(c) {
			b = append(b, s[start:i]...)
			b = appendEscape(b, c)
			start = i + 1
		}
	}
	return append(b, s[start:]...)
}

func appendEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&15])
}

// appendTime appends ms (Unix milliseconds, years 1970–9999) as RFC 3339 in
// UTC with exactly three fractional digits: 2026-11-01T00:00:00.000Z.
func appendTime(b []byte, ms int64) []byte {
	days := ms / 86_400_000
	rem := ms % 86_400_000
	y, m, d := civil(days)
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, rem/3_600_000)
	b = append(b, ':')
	b = append2(b, rem/60_000%60)
	b = append(b, ':')
	b = append2(b, rem/1000%60)
	b = append(b, '.')
	f := rem % 1000
	b = append(b, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	return append(b, 'Z')
}

// civil converts days since 1970-01-01 to a date (H. Hinnant's algorithm).
func civil(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(b []byte, v int64) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }

func append4(b []byte, v int64) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

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
