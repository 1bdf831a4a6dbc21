package billing

import (
	"fmt"
	"time"
)

const monthLayout = "2006-01"

// Month returns the calendar month of t in UTC as "YYYY-MM": the month an
// event is counted in, by its (normalised) timestamp. An event at
// 2026-12-01T00:30:00+01:00 is 2026-11-30T23:30:00Z and counts in "2026-11".
//
// Timestamps come from RFC 3339, so the year has four digits.
func Month(t time.Time) string {
	y, m, _ := t.UTC().Date()
	if y < 0 || y > 9999 {
		return t.UTC().Format(monthLayout)
	}
	b := [7]byte{
		byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10),
		'-',
		byte('0' + m/10), byte('0' + m%10),
	}
	return string(b[:])
}

// MonthCache is Month for a run of times that mostly fall in one month (a
// batch of events): it keeps the last month's string, so the run
// allocates it once instead of once per time. The zero value is ready; not
// safe for concurrent use.
type MonthCache struct {
	y    int
	m    time.Month
	last string
}

// Month returns Month(t).
func (c *MonthCache) Month(t time.Time) string {
	y, m, _ := t.UTC().Date()
	if c.last == "" || y != c.y || m != c.m {
		c.y, c.m, c.last = y, m, Month(t)
	}
	return c.last
}

// ParseMonth parses "YYYY-MM" strictly (two-digit month, 01–12) and returns
// the first instant of that month in UTC. Use it to validate a --month or
// ?month= filter.
func ParseMonth(s string) (time.Time, error) {
	t, err := time.Parse(monthLayout, s)
	if err != nil || t.Format(monthLayout) != s {
		return time.Time{}, fmt.Errorf("billing: %w: %q", ErrInvalidMonth, s)
	}
	return t, nil
}
