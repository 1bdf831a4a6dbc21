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

func TestParseMonth(t *testing.T) {
	got, err := ParseMonth("2026-11")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), got)

	for _, s := range []string{"", "2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", " 2026-11"} {
		_, err := ParseMonth(s)
		assert.ErrorIs(t, err, ErrInvalidMonth, "%q", s)
	}
}
