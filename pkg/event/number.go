package event

import (
	"bytes"
	"math"
	"strconv"
)

// numberString returns the decimal string of the JSON number raw, so that
// 23 ≡ "23" as a distinct_id or team.
//
// An integer literal (no fraction, no exponent) is returned as written —
// JSON forbids leading zeros, so it is already canonical — except that "-0"
// becomes "0". It never goes through float64, so 2^63 and larger keep every
// digit. Any other number is parsed as a float64 and formatted the way
// JavaScript's String(n) formats it (what the posthog-js SDK would have
// sent): 23.0 → "23", 1.5 → "1.5", 1e21 → "1e+21", 1e-7 → "1e-7". A number
// too large for a float64 is returned as written.
func numberString(raw string, integer bool) string {
	if integer {
		if raw == "-0" {
			return "0"
		}
		return raw
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return raw
	}
	return formatJS(f)
}

// formatJS implements ECMAScript's Number::toString(10) for a finite f.
func formatJS(f float64) string {
	if f == 0 {
		return "0"
	}
	var buf [40]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // "-d.ddde+XX"
	var out []byte
	if b[0] == '-' {
		out = append(out, '-')
		b = b[1:]
	}
	e := bytes.IndexByte(b, 'e')
	exp, _ := strconv.Atoi(string(b[e+1:]))
	var digitBuf [32]byte
	digits := append(digitBuf[:0], b[0])
	if e > 1 {
		digits = append(digits, b[2:e]...)
	}
	k, n := len(digits), exp+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		out = append(out, digits...)
		out = append(out, bytes.Repeat([]byte{'0'}, n-k)...)
	case 0 < n && n <= 21:
		out = append(out, digits[:n]...)
		out = append(out, '.')
		out = append(out, digits[n:]...)
	case -6 < n && n <= 0:
		out = append(out, '0', '.')
		out = append(out, bytes.Repeat([]byte{'0'}, -n)...)
		out = append(out, digits...)
	default:
		out = append(out, digits[0])
		if k > 1 {
			out = append(out, '.')
			out = append(out, digits[1:]...)
		}
		out = append(out, 'e')
		if n-1 >= 0 {
			out = append(out, '+')
		}
		out = strconv.AppendInt(out, int64(n-1), 10)
	}
	return string(out)
}

// isIntegerString reports whether s is an optional '-' and decimal digits.
func isIntegerString(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
