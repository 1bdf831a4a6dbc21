package jsonlit

import (
	"unicode/utf8"
	"unsafe"
)

// SWAR constants: lsb has the low bit of every byte set, msb the high bit.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain[c] is true for the bytes that stand for themselves inside a JSON
// string: printable ASCII (and DEL) other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// Plain reports whether the byte c stands for itself inside a JSON string,
// as read and as written by AppendString: printable ASCII (and DEL) other
// than '"' and '\\'. Every other byte needs attention: an escape, a
// control character, or part of a multi-byte UTF-8 sequence.
func Plain(c byte) bool { return plain[c] }

// Stops takes eight bytes of a string read little-endian and returns a word
// with the high bit set in every byte that is not Plain. The lowest flagged
// byte is exact; higher ones may be false positives (from borrows), so a
// caller looks at the bytes from the lowest flag on one by one. With it a
// scanner or writer skips plain text eight bytes at a time.
func Stops(x uint64) uint64 {
	q := x ^ (lsb * '"')
	e := x ^ (lsb * '\\')
	return ((q - lsb) &^ q) | ((e - lsb) &^ e) | (x - lsb*0x20) | x
}

// AppendString appends s to dst as a JSON string, quotes included, the way
// this module writes strings: '"', '\\', \n, \r and \t as two-byte
// escapes; the other control characters (U+0000–U+001F) as \u00XX; U+2028
// and U+2029 as \u2028 and \u2029 (they end a line in JavaScript); each byte
// of invalid UTF-8 as \ufffd; everything else, '<', '>', '&' and DEL
// included, as it is.
//
// That is encoding/json with SetEscapeHTML(false), except that \b and \f are
// written \u0008 and \u000c. Plain ASCII costs a copy.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendContents(dst, s)
	return append(dst, '"')
}

// AppendContents is AppendString without the quotes: s escaped to stand
// inside a JSON string. Applied twice, it writes JSON text as the contents
// of a string (a capture envelope's data member).
func AppendContents(dst []byte, s string) []byte {
	if plainText(s) {
		return append(dst, s...)
	}
	return appendEscaped(dst, s, &house)
}

// AppendContentsBytes is AppendContents for a byte slice, without copying
// it to a string: b is only read, and only during the call. b must not
// share memory with dst, whose appends would overwrite it mid-read.
func AppendContentsBytes(dst, b []byte) []byte {
	return AppendContents(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}

// AppendMarshalString appends s as a JSON string exactly as json.Marshal
// writes it: AppendString's policy, but with '<', '>' and '&' as \u003c,
// \u003e and \u0026 and with \b and \f as two-byte escapes. Only the keys of
// a person's properties use it; see the package documentation for why.
func AppendMarshalString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendEscaped(dst, s, &marshal)
	return append(dst, '"')
}

// MarshalStringLen returns len(AppendMarshalString(nil, s)) without
// writing it.
func MarshalStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if e := marshal.esc[c]; e != "" {
				n += len(e)
			} else {
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += len(`\ufffd`)
		} else {
			n += size
		}
		i += size
	}
	return n
}

// An escaping is a policy for writing strings: the escape of each ASCII
// byte. Beyond ASCII both policies agree (U+2028, U+2029 and invalid UTF-8).
type escaping struct {
	esc [utf8.RuneSelf]string // "" for a byte written as it is
	// swar is set when the bytes with an escape are exactly the ASCII
	// bytes Stops flags, so that plain runs can be skipped eight at a time.
	swar bool
}

// house is AppendString's policy, marshal AppendMarshalString's.
var house, marshal = func() (h, m escaping) {
	const hex = "0123456789abcdef"
	for c := range 0x20 {
		e := `\u00` + string(hex[c>>4]) + string(hex[c&0xF])
		h.esc[c], m.esc[c] = e, e
	}
	for c, e := range map[byte]string{'"': `\"`, '\\': `\\`, '\n': `\n`, '\r': `\r`, '\t': `\t`} {
		h.esc[c], m.esc[c] = e, e
	}
	m.esc['\b'], m.esc['\f'] = `\b`, `\f`
	m.esc['<'], m.esc['>'], m.esc['&'] = `\u003c`, `\u003e`, `\u0026`
	h.swar = true
	return h, m
}()

// appendEscaped appends s escaped under p, without quotes.
func appendEscaped(dst []byte, s string, p *escaping) []byte {
	start := 0
	for i := 0; i < len(s); {
		if p.swar {
			for i+8 <= len(s) && Stops(load64(s[i:]))&msb == 0 {
				i += 8
			}
			if i >= len(s) {
				break
			}
		}
		if c := s[i]; c < utf8.RuneSelf {
			if e := p.esc[c]; e != "" {
				dst = append(dst, s[start:i]...)
				dst = append(dst, e...)
				start = i + 1
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', byte('0'+r&0xF))
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

// plainText reports whether every byte of s is Plain, so that s is written
// as a JSON string unchanged.
func plainText(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if Stops(load64(s[i:]))&msb != 0 {
			return false
		}
	}
	if i == len(s) {
		return true
	}
	if len(s) >= 8 { // the tail, as the last eight bytes
		return Stops(load64(s[len(s)-8:]))&msb == 0
	}
	if len(s) >= 4 { // as the first and last four bytes
		return Stops(uint64(load32(s))|uint64(load32(s[len(s)-4:]))<<32)&msb == 0
	}
	for ; i < len(s); i++ {
		if !plain[s[i]] {
			return false
		}
	}
	return true
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
