package jsonlit

import "github.com/google/uuid"

// unhex maps a hex digit (either case) to its value and anything else to
// 0xFF.
var unhex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	for i, c := range "ABCDEF" {
		t[c] = byte(10 + i)
	}
	return t
}()

// uuidHexAt is where each byte's two hex digits start in the 8-4-4-4-12
// form.
var uuidHexAt = [16]byte{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// ParseUUID parses the 36-character 8-4-4-4-12 form of a UUID, hex digits
// of either case: the form nearly every event carries, without
// uuid.Parse's generality (braces, a "urn:uuid:" prefix, 32 digits) and
// without converting a string to bytes.
func ParseUUID[T string | []byte](s T) (u uuid.UUID, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	var bad byte
	for j, i := range uuidHexAt {
		hi, lo := unhex[s[i]], unhex[s[i+1]]
		bad |= hi | lo
		u[j] = hi<<4 | lo
	}
	return u, bad&0xF0 == 0
}

const hexDigits = "0123456789abcdef"

// AppendUUID appends u in its canonical form, 36 lower-case characters
// without quotes: what uuid.UUID.String returns, without allocating it.
func AppendUUID(dst []byte, u uuid.UUID) []byte {
	var buf [36]byte
	for i, at := range uuidHexAt {
		buf[at], buf[at+1] = hexDigits[u[i]>>4], hexDigits[u[i]&0xF]
	}
	buf[8], buf[13], buf[18], buf[23] = '-', '-', '-', '-'
	return append(dst, buf[:]...)
}
