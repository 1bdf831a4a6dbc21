package jsonlit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestScanNumber(t *testing.T) {
	tests := []struct {
		in      string
		end     int // -1: not a number
		integer bool
	}{
		{"0", 1, true}, {"-0", 2, true}, {"23", 2, true}, {"-23", 3, true},
		{"1.5", 3, false}, {"1e3", 3, false}, {"1E+3", 4, false}, {"-0.5e-7", 7, false},
		{"123456789012345678901234567890", 30, true},
		{"12,", 2, true}, {"0]", 1, true}, {"1.5}", 3, false}, {"7 ", 1, true},
		{"01", 1, true}, // a number ends at the 0; what follows is the caller's
		{"", -1, false}, {"-", -1, false}, {"+1", -1, false}, {".5", -1, false},
		{"1.", -1, false}, {"1.e3", -1, false}, {"1e", -1, false}, {"1e+", -1, false},
		{"-x", -1, false}, {"NaN", -1, false}, {"Infinity", -1, false}, {"0x10", 1, true},
	}
	for _, tt := range tests {
		end, integer, ok := ScanNumber([]byte(tt.in), 0)
		if tt.end < 0 {
			assert.False(t, ok, "%q", tt.in)
			continue
		}
		assert.True(t, ok, "%q", tt.in)
		assert.Equal(t, tt.end, end, "%q", tt.in)
		assert.Equal(t, tt.integer, integer, "%q", tt.in)
		assert.Equal(t, tt.end == len(tt.in), IsNumber([]byte(tt.in)), "IsNumber(%q)", tt.in)
	}
	end, _, ok := ScanNumber([]byte(`{"a":-12.5}`), 5)
	assert.True(t, ok)
	assert.Equal(t, 10, end, "scans from i")
}

// FuzzIsNumber checks IsNumber against encoding/json and strconv: b is one
// JSON number exactly when json.Valid accepts it and it starts and ends
// with no space and is not a string, literal or container; then strconv
// reads it (maybe out of range, never a syntax error), and ScanNumber's
// integer flag says whether it has a fraction or an exponent.
func FuzzIsNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "1.5e+10", "01", "1.", ".1", "-", "1e", " 1", "1 ", "true", `"1"`, "1e999999", "0.0000001"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := IsNumber(b)
		want := json.Valid(b) && len(b) > 0 && (b[0] == '-' || '0' <= b[0] && b[0] <= '9') &&
			'0' <= b[len(b)-1] && b[len(b)-1] <= '9'
		if got != want {
			t.Fatalf("IsNumber(%q) = %v, encoding/json says %v", b, got, want)
		}
		end, integer, ok := ScanNumber(b, 0)
		if !ok {
			return
		}
		if !IsNumber(b[:end]) {
			t.Fatalf("ScanNumber(%q) ends at %d, and %q is not a number", b, end, b[:end])
		}
		if _, err := strconv.ParseFloat(string(b[:end]), 64); err != nil && !errors.Is(err, strconv.ErrRange) {
			t.Fatalf("ScanNumber accepted %q, strconv: %v", b[:end], err)
		}
		if integer == bytes.ContainsAny(b[:end], ".eE") {
			t.Fatalf("ScanNumber(%q): integer %v", b[:end], integer)
		}
	})
}
