package jsonlit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendTime(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Unix(5, 0), "1970-01-01T00:00:05Z"},
		{time.Date(2026, 11, 28, 9, 15, 2, 114_000_000, time.UTC), "2026-11-28T09:15:02.114Z"},
		{time.Date(2026, 11, 28, 9, 15, 2, 100_000_000, time.UTC), "2026-11-28T09:15:02.100Z"},
		{time.Date(2026, 11, 28, 9, 15, 2, 114_500_000, time.UTC), "2026-11-28T09:15:02.114500Z"},
		{time.Date(2026, 11, 28, 9, 15, 2, 1, time.UTC), "2026-11-28T09:15:02.000000001Z"},
		{time.Date(2026, 11, 28, 10, 15, 2, 0, time.FixedZone("CET", 3600)), "2026-11-28T09:15:02Z"},
		{time.Time{}, "0001-01-01T00:00:00Z"},
		{time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), "1969-12-31T23:59:59.500Z"},
		{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), "0000-01-01T00:00:00Z"},
		{time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC), "9999-12-31T23:59:59.999999999Z"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(AppendTime(nil, tt.in)), "%v", tt.in)
	}
}

func TestAppendMillis(t *testing.T) {
	tests := []struct {
		ms   int64
		want string
	}{
		{0, "1970-01-01T00:00:00.000Z"},
		{5_000, "1970-01-01T00:00:05.000Z"},
		{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), "2026-11-01T00:00:00.000Z"},
		{time.Date(2026, 11, 28, 9, 15, 2, 114_000_000, time.UTC).UnixMilli(), "2026-11-28T09:15:02.114Z"},
		{-1, "1969-12-31T23:59:59.999Z"},
		{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), "0000-01-01T00:00:00.000Z"},
		{time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), "9999-12-31T23:59:59.999Z"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(AppendMillis(nil, tt.ms)), "%d", tt.ms)
	}
}

// TestTimesMatchTimePackage compares both writers with time.Format over a
// spread of instants of years 0000–9999, before 1970 and leap days included.
func TestTimesMatchTimePackage(t *testing.T) {
	start := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	end := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	step := (end - start) / 200_003
	for s := start; s <= end; s += step {
		for _, ns := range []int{0, 5_000_000, 123_456_000, 1} {
			ts := time.Unix(s, int64(ns)).UTC()
			want := ts.Format("2006-01-02T15:04:05")
			got := string(AppendTime(nil, ts))
			require.Equal(t, want, got[:19], "%d", s)
			require.Equal(t, ts.Format("2006-01-02T15:04:05.000Z07:00"), string(AppendMillis(nil, ts.UnixMilli())), "%d", s)
		}
	}
	for _, d := range []string{"2000-02-29", "1900-03-01", "1600-02-29", "1969-12-31", "0000-02-29", "2024-12-31", "9999-12-31"} {
		ts, err := time.Parse("2006-01-02", d)
		require.NoError(t, err)
		assert.Equal(t, d+"T00:00:00Z", string(AppendTime(nil, ts)))
	}
}

// TestCivil checks civil against the time package for every 13th day of
// years 0000–9999.
func TestCivil(t *testing.T) {
	start := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix() / 86400
	end := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC).Unix() / 86400
	for days := start; days <= end; days += 13 {
		y, m, d := civil(days)
		if want := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix() / 86400; want != days {
			t.Fatalf("civil(%d) = %d-%d-%d, time package %d", days, y, m, d, want)
		}
	}
}
