package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMonth(t *testing.T) {
	plus1 := time.FixedZone("+01:00", 3600)
	minus5 := time.FixedZone("-05:00", -5*3600)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"utc", time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC), "2026-11"},
		{"last nanosecond of the month", time.Date(2026, 11, 30, 23, 59, 59, 999_999_999, time.UTC), "2026-11"},
		{"first instant of the month", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "2026-12"},
		// Local midnight of 1 December in +01:00 is still 30 November in UTC.
		{"east of UTC, local month ahead", time.Date(2026, 12, 1, 0, 30, 0, 0, plus1), "2026-11"},
		// 31 December 20:00 in -05:00 is already 1 January in UTC.
		{"west of UTC, across the year", time.Date(2026, 12, 31, 20, 0, 0, 0, minus5), "2027-01"},
		{"leap day", time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), "2028-02"},
		{"unix epoch", time.Unix(0, 0), "1970-01"},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), "0001-01"},
		{"year 9999", time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC), "9999-12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Month(tt.t))
			assert.Equal(t, tt.t.UTC().Format("2006-01"), Month(tt.t), "same as time.Format")
		})
	}
}

// TestMonthCache: the cache answers Month for every time of a run that
// goes back and forth across month, year and time-zone boundaries.
func TestMonthCache(t *testing.T) {
	plus1 := time.FixedZone("+01:00", 3600)
	run := []time.Time{
		time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 30, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 1, 0, 30, 0, 0, plus1), // still November in UTC
		time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 12, 2, 0, 0, 0, 0, time.UTC), // same month, another year
		time.Date(2025, 12, 2, 0, 0, 0, 0, time.UTC),
		{}, // the zero time: 0001-01
		time.Unix(0, 0),
		time.Date(9999, 12, 31, 23, 0, 0, 0, time.UTC),
	}
	var c MonthCache
	for i, tt := range run {
		assert.Equal(t, Month(tt), c.Month(tt), "time %d: %s", i, tt)
	}
}

// BenchmarkMonth: Month allocates its string for every time; MonthCache
// once per month of a run (here one month).
func BenchmarkMonth(b *testing.B) {
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	b.Run("Month", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			_ = Month(t0.Add(time.Duration(i%1000) * time.Second))
		}
	})
	b.Run("MonthCache", func(b *testing.B) {
		b.ReportAllocs()
		var c MonthCache
		for i := 0; b.Loop(); i++ {
			_ = c.Month(t0.Add(time.Duration(i%1000) * time.Second))
		}
	})
}

func TestParseMonth(t *testing.T) {
	got, err := ParseMonth("2026-11")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), got)

	for _, s := range []string{"", "2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", " 2026-11"} {
		_, err := ParseMonth(s)
		assert.ErrorIs(t, err, ErrInvalidMonth, "%q", s)
	}
}
