package event

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// JSON strings in: turning a scanned JSON string into a Go string. Writing
// one is jsonlit.AppendString.

// stringOf returns the Go string of the JSON string raw (quotes included).
// rawStr must hold the same bytes as raw; when the string has no escapes and
// is valid UTF-8 the result is a substring of rawStr and costs nothing.
// Invalid UTF-8 and unpaired surrogates become U+FFFD, as in encoding/json.
func stringOf(raw []byte, rawStr string) string {
	inner := raw[1 : len(raw)-1]
	if plainString(inner) || bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) {
		return rawStr[1 : len(rawStr)-1]
	}
	return string(unescape(make([]byte, 0, len(inner)), inner))
}

// plainString reports whether the contents of a scanned JSON string are
// printable ASCII without escapes, so that they are their own value.
func plainString(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if jsonlit.Stops(binary.LittleEndian.Uint64(b[i:i+8]))&msb != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if !jsonlit.Plain(b[i]) {
			return false
		}
	}
	return true
}

// keyOf is stringOf for an object key whose scan flags are known.
func keyOf(raw []byte, rawStr string, flags uint8) string {
	if flags&strEscaped == 0 && (flags&strNonASCII == 0 || utf8.Valid(raw[1:len(raw)-1])) {
		return rawStr[1 : len(rawStr)-1]
	}
	return string(unescape(make([]byte, 0, len(raw)-2), raw[1:len(raw)-1]))
}

// unescape appends the decoded contents of a JSON string (without quotes,
// already validated by scanString) to dst.
//
// Runs of plain ASCII are copied whole: an envelope's data is such runs
// between the \" of its keys and string values.
func unescape(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		j := plainRun(src, i)
		dst = append(dst, src[i:j]...)
		if i = j; i >= len(src) {
			break
		}
		c := src[i]
		switch {
		case c == '\\':
			switch e := src[i+1]; e {
			case 'u':
				r := hex4(src[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					d := utf8.RuneError
					if r < 0xDC00 && i+6 <= len(src) && src[i] == '\\' && src[i+1] == 'u' {
						if d = utf16.DecodeRune(r, hex4(src[i+2:i+6])); d != utf8.RuneError {
							i += 6
						}
					}
					r = d
				}
				dst = utf8.AppendRune(dst, r)
			case 'b':
				dst, i = append(dst, '\b'), i+2
			case 'f':
				dst, i = append(dst, '\f'), i+2
			case 'n':
				dst, i = append(dst, '\n'), i+2
			case 'r':
				dst, i = append(dst, '\r'), i+2
			case 't':
				dst, i = append(dst, '\t'), i+2
			default: // '"', '\\', '/'
				dst, i = append(dst, e), i+2
			}
		case c < utf8.RuneSelf:
			dst, i = append(dst, c), i+1
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, src[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// plainRun returns the index of the first byte at or after b[i] that is a
// backslash or not ASCII, or len(b). (Inside a scanned string there are no
// quotes or control characters to stop at.)
func plainRun(b []byte, i int) int {
	for i+8 <= len(b) {
		x := binary.LittleEndian.Uint64(b[i : i+8])
		e := x ^ (lsb * '\\')
		if m := (((e - lsb) &^ e) | x) & msb; m != 0 {
			return i + bits.TrailingZeros64(m)>>3 // the lowest flag is exact
		}
		i += 8
	}
	for i < len(b) && b[i] != '\\' && b[i] < utf8.RuneSelf {
		i++
	}
	return i
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c >= 'a':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
