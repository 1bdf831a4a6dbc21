package jsonlit

import "time"

// Unix seconds of the first and last second that RFC 3339's four-digit
// years can write: 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
var (
	minUnix = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	maxUnix = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

// AppendTime appends t in UTC as RFC 3339, without quotes:
// 2006-01-02T15:04:05Z, with a fraction only when there is one, in
// milliseconds when that is exact (.123), else microseconds, else
// nanoseconds. Instants outside years 0000–9999 are clamped to that range.
func AppendTime(dst []byte, t time.Time) []byte {
	secs, ns := clamp(t.Unix(), int64(t.Nanosecond()), 999_999_999)
	dst = appendSeconds(dst, secs)
	if ns != 0 {
		width, v := 9, ns
		switch {
		case ns%1_000_000 == 0:
			width, v = 3, ns/1_000_000
		case ns%1_000 == 0:
			width, v = 6, ns/1_000
		}
		dst = append(dst, '.')
		var buf [9]byte
		for i := width - 1; i >= 0; i-- {
			buf[i] = byte('0' + v%10)
			v /= 10
		}
		dst = append(dst, buf[:width]...)
	}
	return append(dst, 'Z')
}

// AppendMillis appends the instant ms (Unix milliseconds) as RFC 3339 in
// UTC, without quotes, always with three fractional digits:
// 2026-11-01T00:00:00.000Z (time.Format's "2006-01-02T15:04:05.000Z07:00").
// Instants outside years 0000–9999 are clamped to that range.
func AppendMillis(dst []byte, ms int64) []byte {
	secs, frac := floorDiv(ms, 1000)
	secs, frac = clamp(secs, frac, 999)
	dst = appendSeconds(dst, secs)
	return append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10), 'Z')
}

// clamp bounds an instant, secs (Unix seconds) and frac (its fraction,
// in [0, last]), to [minUnix, maxUnix]: before, to the first instant;
// after, to the last.
func clamp(secs, frac, last int64) (int64, int64) {
	switch {
	case secs < minUnix:
		return minUnix, 0
	case secs > maxUnix:
		return maxUnix, last
	}
	return secs, frac
}

// appendSeconds appends 2006-01-02T15:04:05 for secs, Unix seconds within
// [minUnix, maxUnix].
func appendSeconds(dst []byte, secs int64) []byte {
	days, rem := floorDiv(secs, 86400)
	year, month, day := civil(days)
	hour, minute, sec := int(rem/3600), int(rem/60%60), int(rem%60)
	var b [19]byte
	put2(b[0:], year/100)
	put2(b[2:], year%100)
	b[4] = '-'
	put2(b[5:], month)
	b[7] = '-'
	put2(b[8:], day)
	b[10] = 'T'
	put2(b[11:], hour)
	b[13] = ':'
	put2(b[14:], minute)
	b[16] = ':'
	put2(b[17:], sec)
	return append(dst, b[:]...)
}

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" +
	"30313233343536373839" + "40414243444546474849" + "50515253545556575859" + "60616263646566676869" +
	"70717273747576777879" + "80818283848586878889" + "90919293949596979899"

// put2 writes n, in [0, 99], as two digits to b[0:2].
func put2(b []byte, n int) {
	b[0], b[1] = digitPairs[2*n], digitPairs[2*n+1]
}

func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q, r = q-1, r+b
	}
	return q, r
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's civil_from_days).
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100) // [0, 365]
	mp := (5*doy + 2) / 153                  // [0, 11]
	d := doy - (153*mp+2)/5 + 1              // [1, 31]
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), int(m), int(d)
}
