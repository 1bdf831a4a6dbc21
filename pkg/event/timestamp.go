package event

import (
	"bytes"
	"math"
	"strconv"
	"time"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// FutureCutoff is how far past the processing time an event's timestamp may
// be before it is clamped to the processing time.
const FutureCutoff = 23 * time.Hour

// Bounds of a timestamp that RFC 3339 can write (four-digit years).
var (
	minTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// timestampOf applies the timestamp rule of docs/SEMANTICS.md §1:
//
//  1. timestamp, if it is an RFC 3339 string: corrected for clock skew to
//     now + (timestamp − sent_at) when both now and sent_at are usable,
//     else taken as it is;
//  2. else, with a numeric offset (milliseconds) and a usable now:
//     now − offset;
//  3. else now;
//  4. else the Kafka record's timestamp;
//  5. else (no record timestamp) the processing time.
//
// Then, if the result is more than FutureCutoff after the processing time
// (Options.Now), it is clamped to the processing time with a
// timestamp_in_future warning. Any of timestamp, sent_at, now, offset that is
// present and not null but unusable (not an RFC 3339 string, not a number,
// or landing outside years 0000–9999) raises invalid_timestamp naming the
// field and is treated as absent.
func timestampOf(f *fields, src Source, processed time.Time, warnings *[]Warning) time.Time {
	now, hasNow := timeField(f.now, "now", warnings)
	sentAt, hasSentAt := timeField(f.sentAt, "sent_at", warnings)
	ts, ok := timeField(f.timestamp, "timestamp", warnings)
	if ok && hasNow && hasSentAt {
		ts = now.Add(ts.Sub(sentAt))
		if ok = inRange(ts); !ok {
			warn(warnings, WarnInvalidTimestamp, "timestamp "+quoteShort(f.timestamp.b)+" is out of range after clock-skew correction (sent_at "+quoteShort(f.sentAt.b)+", now "+quoteShort(f.now.b)+")")
		}
	}
	if !ok && f.offset.set() && hasNow {
		if ms, valid := offsetMillis(f.offset); valid {
			ts = now.Add(-time.Duration(ms * float64(time.Millisecond)))
			ok = inRange(ts)
		}
		if !ok {
			warn(warnings, WarnInvalidTimestamp, "offset "+quoteShort(f.offset.b)+" is not a usable number of milliseconds")
		}
	}
	switch {
	case ok:
	case hasNow:
		ts = now
	case !src.Timestamp.IsZero():
		ts = src.Timestamp.UTC()
	default:
		ts = processed
	}
	if ts.Sub(processed) > FutureCutoff {
		warn(warnings, WarnTimestampInFuture, "timestamp "+string(jsonlit.AppendTime(nil, ts))+" is more than 23h after the processing time "+string(jsonlit.AppendTime(nil, processed))+"; clamped to it")
		ts = processed
	}
	return ts
}

// timeField parses a present, non-null time field, warning when it is not
// an RFC 3339 string.
func timeField(v val, name string, warnings *[]Warning) (time.Time, bool) {
	if !v.set() {
		return time.Time{}, false
	}
	if v.isString() {
		inner := v.b[1 : len(v.b)-1]
		if bytes.IndexByte(inner, '\\') >= 0 {
			inner = unescape(nil, inner)
		}
		if t, ok := parseRFC3339(inner); ok && inRange(t) {
			return t, true
		}
	}
	warn(warnings, WarnInvalidTimestamp, name+" "+quoteShort(v.b)+" is not an RFC 3339 time; ignored")
	return time.Time{}, false
}

// offsetMillis reads offset: a finite JSON number of milliseconds whose
// magnitude fits a time.Duration.
func offsetMillis(v val) (float64, bool) {
	if !v.isNumber() {
		return 0, false
	}
	ms, err := strconv.ParseFloat(v.s, 64)
	if err != nil || math.IsNaN(ms) || math.Abs(ms) > float64(math.MaxInt64/int64(time.Millisecond)) {
		return 0, false
	}
	return ms, true
}

func inRange(t time.Time) bool { return !t.Before(minTime) && !t.After(maxTime) }

// parseRFC3339 parses an RFC 3339 date-time:
// YYYY-MM-DD "T" hh:mm:ss [.fraction] ("Z" | ±hh:mm), with "t" and "z" also
// accepted (RFC 3339 §5.6). Fractions beyond nanoseconds are truncated.
// Leap seconds (:60) are rejected, as by the time package. The result is UTC.
func parseRFC3339(s []byte) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	century, ok1 := digits2(s[0:2])
	year, ok1b := digits2(s[2:4])
	year += 100 * century
	ok1 = ok1 && ok1b
	month, ok2 := digits2(s[5:7])
	day, ok3 := digits2(s[8:10])
	hour, ok4 := digits2(s[11:13])
	minute, ok5 := digits2(s[14:16])
	sec, ok6 := digits2(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	i, nsec := 19, 0
	if s[i] == '.' {
		i++
		start := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			if i-start < 9 {
				nsec = nsec*10 + int(s[i]-'0')
			}
			i++
		}
		if i == start {
			return time.Time{}, false
		}
		for n := i - start; n < 9; n++ {
			nsec *= 10
		}
	}
	if i >= len(s) {
		return time.Time{}, false
	}
	var offset int // seconds east of UTC
	switch s[i] {
	case 'Z', 'z':
		i++
	case '+', '-':
		if len(s)-i != 6 || s[i+3] != ':' {
			return time.Time{}, false
		}
		oh, okh := digits2(s[i+1 : i+3])
		om, okm := digits2(s[i+4 : i+6])
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if s[i] == '-' {
			offset = -offset
		}
		i += 6
	default:
		return time.Time{}, false
	}
	if i != len(s) {
		return time.Time{}, false
	}
	// time.Date's result, without its normalisation: every field is in range.
	unix := daysFromCivil(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return time.Unix(unix, int64(nsec)).UTC(), true
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's days_from_civil).
func daysFromCivil(year, month, day int) int64 {
	y := int64(year)
	if month <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400 // [0, 399]
	m := int64(month) + 9
	if month > 2 {
		m = int64(month) - 3
	}
	doy := (153*m+2)/5 + int64(day) - 1    // [0, 365]
	doe := yoe*365 + yoe/4 - yoe/100 + doy // [0, 146096]
	return era*146097 + doe - 719468
}

// digits2 reads the two decimal digits b[0:2].
func digits2(b []byte) (int, bool) {
	hi, lo := b[0]-'0', b[1]-'0' // a non-digit wraps to above 9
	return int(hi)*10 + int(lo), hi <= 9 && lo <= 9
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
