package event

import "strconv"

// maxNumberLen bounds the decimal string of a number: a literal such as
// 1e1000000 is seven bytes of JSON but a million digits written out.
const maxNumberLen = 1024

// numberString returns the decimal string of the JSON number raw, so that
// 23 ≡ "23" as a distinct_id or team.
//
// The result is the exact value of the literal in plain positional
// notation, with no exponent, no leading zeros, no trailing fractional
// zeros and no "-0": 23.0 → "23", 1e3 → "1000", 1e21 →
// "1000000000000000000000", 1.50 → "1.5", 12e-1 → "1.2", -0.0 → "0".
// Nothing goes through float64, so integers of any size keep every digit
// and 0.1 stays "0.1". A literal whose decimal string would be longer than
// maxNumberLen bytes is returned as written.
func numberString(raw string, integer bool) string {
	if integer { // already canonical: JSON forbids leading zeros
		if raw == "-0" {
			return "0"
		}
		return raw
	}
	s := raw
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	// Split into mantissa digits, the position of the decimal point within
	// them, and the exponent.
	var digits []byte
	point := -1
	i := 0
	for ; i < len(s) && s[i] != 'e' && s[i] != 'E'; i++ {
		if s[i] == '.' {
			point = len(digits)
			continue
		}
		digits = append(digits, s[i])
	}
	if point < 0 {
		point = len(digits)
	}
	if i < len(s) {
		exp, err := strconv.Atoi(s[i+1:])
		if err != nil || exp > maxNumberLen || exp < -maxNumberLen {
			return raw
		}
		point += exp
	}
	// Drop leading zeros (each moves the point left) and trailing zeros.
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
		point--
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return "0"
	}
	if max(point, len(digits)) > maxNumberLen || -point > maxNumberLen {
		return raw
	}
	out := make([]byte, 0, len(digits)+max(point, -point)+3)
	if neg {
		out = append(out, '-')
	}
	switch {
	case point <= 0:
		out = append(out, '0', '.')
		for range -point {
			out = append(out, '0')
		}
		out = append(out, digits...)
	case point >= len(digits):
		out = append(out, digits...)
		for range point - len(digits) {
			out = append(out, '0')
		}
	default:
		out = append(out, digits[:point]...)
		out = append(out, '.')
		out = append(out, digits[point:]...)
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
