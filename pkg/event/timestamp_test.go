package event

import (
	"testing"
	"time"
)

// TestDaysFromCivil checks daysFromCivil against the time package over
// years 0000–9999 (and the leap days of the century years).
func TestDaysFromCivil(t *testing.T) {
	start := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	end := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix() / 86400
	for days := start; days <= end; days += 13 {
		y, m, d := time.Unix(days*86400, 0).UTC().Date()
		if got := daysFromCivil(y, int(m), d); got != days {
			t.Fatalf("daysFromCivil(%d, %d, %d) = %d, want %d", y, m, d, got, days)
		}
	}
	for _, d := range []string{"0000-02-29", "0000-03-01", "1600-02-29", "1900-03-01", "1969-12-31", "1970-01-01", "2000-02-29", "9999-12-31"} {
		ts, err := time.Parse("2006-01-02", d)
		if err != nil {
			t.Fatal(err)
		}
		if got := daysFromCivil(ts.Year(), int(ts.Month()), ts.Day()); got*86400 != ts.Unix() {
			t.Errorf("%s: %d days", d, got)
		}
	}
}

// TestParseRFC3339SameTime: parseRFC3339 gives the very time.Time value
// that time.Date and Add gave before it computed Unix seconds itself.
func TestParseRFC3339SameTime(t *testing.T) {
	for _, s := range []string{"2026-11-28T09:15:02.114Z", "0000-01-01T00:00:00+01:00", "9999-12-31T23:59:59.999999999-23:59", "1969-12-31T23:59:59.5Z"} {
		got, ok := parseRFC3339([]byte(s))
		if !ok {
			t.Fatalf("%s rejected", s)
		}
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		want = time.Date(want.Year(), want.Month(), want.Day(), want.Hour(), want.Minute(), want.Second(), want.Nanosecond(), want.Location()).UTC()
		if got != want {
			t.Errorf("%s: %#v, want %#v", s, got, want)
		}
	}
}
