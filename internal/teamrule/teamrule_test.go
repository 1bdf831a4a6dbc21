package teamrule

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
)

func TestProblem(t *testing.T) {
	tests := []struct{ team, want string }{
		{"1", ""},
		{"phc_abc", ""},
		{strings.Repeat("x", MaxBytes), ""},
		{"日本", ""},
		{" a b ", ""},
		{"\u00a0a", ""},
		{"\u2028x", ""},  // a line separator is a space, not a control
		{"a\u200bb", ""}, // a format character (Cf), allowed
		{"a\u202eb", ""}, // so is a bidi override
		{strings.Repeat("é", MaxBytes/2), ""},

		{strings.Repeat("x", MaxBytes+1), "is 201 bytes, over the limit of 200"},
		{strings.Repeat("x", 70_000) + "\x00", "is 70001 bytes, over the limit of 200"}, // length first
		{"a\xc2", "is not valid UTF-8"},
		{"\xff\x00", "is not valid UTF-8"}, // UTF-8 before control characters
		{"a\x00", "holds a control character at byte 1"},
		{"\x1f", "holds a control character at byte 0"},
		{"ab\x7f", "holds a control character at byte 2"},
		{"é\u0085", "holds a control character at byte 2"},
		{"12345678\n", "holds a control character at byte 8"},
		{"", "is empty or whitespace only"},
		{" \t", "holds a control character at byte 1"}, // \t is a control before it is a space
		{" \u00a0\u3000", "is empty or whitespace only"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Problem(tt.team), "%q", tt.team)
	}
}

// TestControlAtIsUnicodeIsControl: the byte test is exactly
// unicode.IsControl, rune by rune, at every alignment of the SWAR loop.
func TestControlAtIsUnicodeIsControl(t *testing.T) {
	for r := rune(0); r < 0x3000; r++ {
		for pad := range 10 {
			s := strings.Repeat("a", pad) + string(r) + "b"
			want := -1
			if unicode.IsControl(r) {
				want = pad
			}
			if got := ControlAt(s); got != want {
				t.Fatalf("ControlAt(%q) = %d, want %d", s, got, want)
			}
		}
	}
}

// FuzzControlAt: for any bytes, valid UTF-8 or not, ControlAt finds the
// first rune that unicode.IsControl reports (an invalid byte decodes as
// U+FFFD, not a control).
func FuzzControlAt(f *testing.F) {
	for _, s := range []string{"", "abc", "abcdefgh\x00", "\xc2\x85", "\xc2", "\xc2\xa0", "\xff\xc2\x9f", "é\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := -1
		for i, r := range s {
			if unicode.IsControl(r) {
				want = i
				break
			}
		}
		if got := ControlAt(s); got != want {
			t.Fatalf("ControlAt(%q) = %d, want %d", s, got, want)
		}
	})
}
