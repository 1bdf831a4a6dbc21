package event

import (
	"math/big"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

func TestNumberString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"0", "0"},
		{"-0", "0"},
		{"23", "23"},
		{"-23", "-23"},
		{"12345678901234567890", "12345678901234567890"},
		{"9007199254740993", "9007199254740993"},
		{"23.0", "23"},
		{"23.000", "23"},
		{"-0.0", "0"},
		{"0.0e5", "0"},
		{"1e3", "1000"},
		{"1E3", "1000"},
		{"1e+3", "1000"},
		{"2.3e1", "23"},
		{"1e21", "1000000000000000000000"},
		{"1.5", "1.5"},
		{"1.50", "1.5"},
		{"-1.5", "-1.5"},
		{"0.1", "0.1"},
		{"12e-1", "1.2"},
		{"1e-7", "0.0000001"},
		{"-1.25e-2", "-0.0125"},
		{"0.000", "0"},
		{"100e-2", "1"},
		{"1234.5678e2", "123456.78"},
		{"1e1000000", "1e1000000"},
		{"1e-1000000", "1e-1000000"},
		{"1e99999999999999999999", "1e99999999999999999999"},
		{"1e1023", "1" + strings.Repeat("0", 1023)},
		{"1e1024", "1e1024"},
	}
	for _, tt := range tests {
		_, integer, ok := jsonlit.ScanNumber([]byte(tt.in), 0)
		assert.True(t, ok, tt.in)
		got := numberString(tt.in, integer)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

// FuzzNumberString checks that numberString writes the exact value of the
// literal: math/big reads both as the same rational number.
func FuzzNumberString(f *testing.F) {
	for _, s := range []string{"0", "-0.0", "23.0", "1e21", "1.5e-7", "123456789012345678901234567890", "-12.340e+5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		end, integer, ok := jsonlit.ScanNumber([]byte(s), 0)
		if !ok || end != len(s) {
			return
		}
		got := numberString(s, integer)
		if got == s && !integer {
			return // too long to write out: kept as written
		}
		want, ok1 := new(big.Rat).SetString(s)
		have, ok2 := new(big.Rat).SetString(got)
		if !ok1 || !ok2 || want.Cmp(have) != 0 {
			t.Fatalf("numberString(%q) = %q", s, got)
		}
		if !canonicalDecimal(got) {
			t.Fatalf("numberString(%q) = %q is not canonical", s, got)
		}
	})
}

// canonicalDecimal reports whether s is -?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?
// and not "-0".
func canonicalDecimal(s string) bool {
	if s == "-0" {
		return false
	}
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || whole[0] == '0' && len(whole) > 1 || strings.Trim(whole, "0123456789") != "" {
		return false
	}
	if hasFrac && (frac == "" || strings.Trim(frac, "0123456789") != "" || strings.HasSuffix(frac, "0")) {
		return false
	}
	return true
}
