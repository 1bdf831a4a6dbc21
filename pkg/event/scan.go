package event

import (
	"encoding/binary"
	"math/bits"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// A small validating JSON scanner. Decode never builds a tree: it finds the
// byte ranges of the values it needs and keeps everything else as raw
// bytes. Every byte of the input is still checked against the JSON grammar
// (RFC 8259), so whatever is passed through raw is valid JSON. Like
// encoding/json it does not reject invalid UTF-8 inside strings; strings that
// Decode turns into Go strings have it replaced by U+FFFD.

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// Flags describing a scanned string.
const (
	strEscaped  uint8 = 1 << iota // contains a backslash escape
	strNonASCII                   // contains a byte >= 0x80
)

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	// Every JSON space is <= ' ', so one comparison settles the usual case.
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	return i
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// SWAR constants: lsb has the low bit of every byte set, msb the high bit.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanString scans the string starting at b[i] == '"' and returns the index
// just past its closing quote.
func scanString(b []byte, i int) (end int, flags uint8, ok bool) {
	i++
	for {
		// Eight bytes at a time while they are plain ASCII.
		for i+8 <= len(b) {
			if m := jsonlit.Stops(binary.LittleEndian.Uint64(b[i:i+8])) & msb; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				if b[i] == '"' {
					return i + 1, flags, true
				}
				break
			}
			i += 8
		}
		for i < len(b) && jsonlit.Plain(b[i]) {
			i++
		}
		if i >= len(b) {
			return 0, 0, false
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, flags, true
		case c == '\\':
			flags |= strEscaped
			if i+1 >= len(b) {
				return 0, 0, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, 0, false
				}
				i += 6
			default:
				return 0, 0, false
			}
		case c < 0x20:
			return 0, 0, false
		default:
			flags |= strNonASCII
			i++
		}
	}
}

func scanLiteral(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// skipScalar scans a string, number, true, false or null at b[i].
func skipScalar(b []byte, i int) (int, bool) {
	switch c := b[i]; {
	case c == '"':
		end, _, ok := scanString(b, i)
		return end, ok
	case c == '-' || '0' <= c && c <= '9':
		end, _, ok := jsonlit.ScanNumber(b, i)
		return end, ok
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	}
	return 0, false
}

// skipValue scans the value starting at b[i] (no leading space) and returns
// the index just past it.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	if c := b[i]; c == '{' || c == '[' {
		return skipContainer(b, i)
	}
	return skipScalar(b, i)
}

// memberValue scans `"key" :` at b[i] and returns the index of the value
// that follows (after space).
func memberValue(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false
	}
	i, _, ok := scanString(b, i)
	if !ok {
		return 0, false
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, false
	}
	i = skipSpace(b, i+1)
	return i, i < len(b)
}

// skipContainer scans the object or array at b[i] without recursion.
func skipContainer(b []byte, i int) (int, bool) {
	var buf [32]byte
	stack := buf[:0] // open brackets; '{'+2 == '}' and '['+2 == ']'
	var ok bool
	for {
		// Here b[i] starts a value.
		if c := b[i]; c == '{' || c == '[' {
			if len(stack) == maxDepth {
				return 0, false
			}
			stack = append(stack, c)
			if i = skipSpace(b, i+1); i >= len(b) {
				return 0, false
			}
			if b[i] != c+2 {
				if c == '{' {
					if i, ok = memberValue(b, i); !ok {
						return 0, false
					}
				}
				continue
			}
			i++
			stack = stack[:len(stack)-1]
		} else if i, ok = skipScalar(b, i); !ok {
			return 0, false
		}
		// After a value: a comma starts the next element, closers pop.
		for {
			if len(stack) == 0 {
				return i, true
			}
			if i = skipSpace(b, i); i >= len(b) {
				return 0, false
			}
			top := stack[len(stack)-1]
			if b[i] == ',' {
				if i = skipSpace(b, i+1); i >= len(b) {
					return 0, false
				}
				if top == '{' {
					if i, ok = memberValue(b, i); !ok {
						return 0, false
					}
				}
				break
			}
			if b[i] != top+2 {
				return 0, false
			}
			i++
			stack = stack[:len(stack)-1]
		}
	}
}

// member is one name/value pair of an object: b[keyStart:keyEnd] is the raw
// key including quotes, b[valStart:valEnd] the raw value.
type member struct {
	keyStart, keyEnd int
	keyFlags         uint8
	valStart, valEnd int
}

// objectIter walks the members of an object, validating as it goes.
type objectIter struct {
	b   []byte
	i   int
	n   int  // members returned so far
	bad bool // a syntax error was found
	end bool // the closing brace was consumed
}

// newObjectIter starts at b[i] == '{'.
func newObjectIter(b []byte, i int) objectIter {
	return objectIter{b: b, i: i + 1}
}

// next fills m with the next member and reports whether there was one.
// After it returns false, it.bad tells a syntax error from the end, and it.i
// is just past the closing brace.
func (it *objectIter) next(m *member) bool {
	if !it.nextKey(m) {
		return false
	}
	end, ok := skipValue(it.b, m.valStart)
	if !ok {
		return it.fail()
	}
	it.valueEnd(m, end)
	return true
}

// nextKey is next without scanning the value: it fills m's key and
// valStart, and the caller must scan the value itself and call valueEnd
// (or fail).
func (it *objectIter) nextKey(m *member) bool {
	if it.bad || it.end {
		return false
	}
	b := it.b
	i := skipSpace(b, it.i)
	if i >= len(b) {
		return it.fail()
	}
	if it.n > 0 {
		if b[i] == '}' {
			it.i, it.end = i+1, true
			return false
		}
		if b[i] != ',' {
			return it.fail()
		}
		if i = skipSpace(b, i+1); i >= len(b) {
			return it.fail()
		}
	} else if b[i] == '}' {
		it.i, it.end = i+1, true
		return false
	}
	if b[i] != '"' {
		return it.fail()
	}
	end, flags, ok := scanString(b, i)
	if !ok {
		return it.fail()
	}
	m.keyStart, m.keyEnd, m.keyFlags = i, end, flags
	i = skipSpace(b, end)
	if i >= len(b) || b[i] != ':' {
		return it.fail()
	}
	if i = skipSpace(b, i+1); i >= len(b) {
		return it.fail()
	}
	m.valStart = i
	it.i = i
	return true
}

// valueEnd records that the value of m ends at end.
func (it *objectIter) valueEnd(m *member, end int) {
	m.valEnd = end
	it.i = end
	it.n++
}

func (it *objectIter) fail() bool {
	it.bad = true
	return false
}

// arrayIter walks the elements of an array, validating as it goes.
type arrayIter struct {
	b   []byte
	i   int
	n   int
	bad bool
	end bool
}

// newArrayIter starts at b[i] == '['.
func newArrayIter(b []byte, i int) arrayIter {
	return arrayIter{b: b, i: i + 1}
}

// next returns the range of the next element.
func (it *arrayIter) next() (start, end int, more bool) {
	if it.bad || it.end {
		return 0, 0, false
	}
	b := it.b
	i := skipSpace(b, it.i)
	if i >= len(b) {
		it.bad = true
		return 0, 0, false
	}
	if b[i] == ']' && it.n == 0 {
		it.i, it.end = i+1, true
		return 0, 0, false
	}
	if it.n > 0 {
		if b[i] == ']' {
			it.i, it.end = i+1, true
			return 0, 0, false
		}
		if b[i] != ',' {
			it.bad = true
			return 0, 0, false
		}
		i = skipSpace(b, i+1)
	}
	end, ok := skipValue(b, i)
	if !ok {
		it.bad = true
		return 0, 0, false
	}
	it.i = end
	it.n++
	return i, end, true
}
