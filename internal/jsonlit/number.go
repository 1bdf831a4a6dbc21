package jsonlit

// ScanNumber scans the JSON number (RFC 8259 §6) that starts at b[i] and
// returns the index just past it, and whether it is an integer literal (no
// fraction, no exponent). It stops at the first byte that cannot continue
// the number; ok is false when no number starts at b[i].
func ScanNumber(b []byte, i int) (end int, integer bool, ok bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, false, false
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return 0, false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		start := i + 1
		if i = skipDigits(b, start); i == start {
			return 0, false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		start := i
		if i = skipDigits(b, start); i == start {
			return 0, false, false
		}
	}
	return i, integer, true
}

// skipDigits returns the index of the first byte at or after b[i] that is
// not a decimal digit, or len(b).
func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// IsNumber reports whether b is exactly one JSON number, with nothing
// (not even space) around it.
func IsNumber(b []byte) bool {
	end, _, ok := ScanNumber(b, 0)
	return ok && end == len(b)
}
