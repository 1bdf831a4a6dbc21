package jsonlit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{"twelve bytes", `"twelve bytes"`},
		{`say "hi"`, `"say \"hi\""`},
		{`C:\tmp`, `"C:\\tmp"`},
		{"a\nb\rc\td", `"a\nb\rc\td"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"\b\f", `"\u0008\u000c"`}, // not \b \f: stamped events always had these
		{"<a href=x>&amp;</a>", `"<a href=x>&amp;</a>"`},
		{"\x7f", "\"\x7f\""},
		{"Chloé 日本 😀", `"Chloé 日本 😀"`},
		{"a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"a\xffb", `"a\ufffdb"`},
		{"\xc3", `"\ufffd"`},                     // a lead byte cut off
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // a surrogate: three invalid bytes
		{strings.Repeat("x", 17) + "\n" + strings.Repeat("y", 9), `"` + strings.Repeat("x", 17) + `\n` + strings.Repeat("y", 9) + `"`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(AppendString(nil, tt.in)), "%q", tt.in)
		assert.Equal(t, tt.want[1:len(tt.want)-1], string(AppendContents(nil, tt.in)), "%q", tt.in)
		assert.Equal(t, tt.want[1:len(tt.want)-1], string(AppendContentsBytes(nil, []byte(tt.in))), "%q", tt.in)
		assert.Equal(t, "pre"+tt.want, string(AppendString([]byte("pre"), tt.in)), "appends: %q", tt.in)
	}
}

func TestAppendMarshalString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"<a>&", `"\u003ca\u003e\u0026"`},
		{"\b\f\n\x01", `"\b\f\n\u0001"`},
		{"a\u2028\xff", `"a\u2028\ufffd"`},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(AppendMarshalString(nil, tt.in)), "%q", tt.in)
		assert.Equal(t, len(tt.want), MarshalStringLen(tt.in), "%q", tt.in)
	}
}

// TestPlainAndStops: Plain is exactly the bytes AppendString writes as they
// are, and Stops flags exactly the others at its lowest flag.
func TestPlainAndStops(t *testing.T) {
	for c := range 256 {
		b := byte(c)
		asIs := string(AppendContents(nil, string([]byte{b}))) == string([]byte{b}) && b < utf8.RuneSelf
		assert.Equal(t, asIs, Plain(b), "byte %#x", b)
		// b alone in the lowest lane, then in the highest after seven plain bytes.
		assert.Equal(t, !Plain(b), Stops(uint64(b)|lsb*'a'&^0xff)&0x80 != 0, "byte %#x lowest", b)
		assert.Equal(t, !Plain(b), Stops(uint64(b)<<56|lsb*'a'>>8)&msb != 0, "byte %#x highest", b)
	}
}

// FuzzStops checks the SWAR contract: the lowest flagged byte of Stops is
// the first byte that is not Plain.
func FuzzStops(f *testing.F) {
	f.Add([]byte("abcdefgh"))
	f.Add([]byte("ab\"de\\gh"))
	f.Add([]byte("\x00\x80\xff\x1f\x20\x7f\"\\"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 8 {
			return
		}
		want := 8
		for i, c := range b[:8] {
			if !Plain(c) {
				want = i
				break
			}
		}
		m := Stops(binary.LittleEndian.Uint64(b)) & msb
		if got := bits.TrailingZeros64(m) >> 3; got != want {
			t.Fatalf("Stops(%q): lowest flag at byte %d, first non-plain byte %d", b[:8], got, want)
		}
	})
}

// FuzzAppendString checks both policies against encoding/json:
// AppendMarshalString writes what json.Marshal writes, and MarshalStringLen
// its length; AppendString writes what an Encoder with SetEscapeHTML(false)
// writes, once that encoder's \b and \f are spelled \u0008 and \u000c. Both
// read back (json.Unmarshal) as s with each invalid byte replaced by U+FFFD.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "abc", "a\"b\\c", "\x00\b\f\n\r\t\x1f\x7f", "<>&", "é\u2028\u2029😀", "\xff\xc3(", "\xed\xa0\x80", strings.Repeat("plain ascii ", 5) + "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		marshaled, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendMarshalString(nil, s); !bytes.Equal(got, marshaled) {
			t.Fatalf("AppendMarshalString(%q) = %s, json.Marshal %s", s, got, marshaled)
		}
		if n := MarshalStringLen(s); n != len(marshaled) {
			t.Fatalf("MarshalStringLen(%q) = %d, json.Marshal writes %d bytes", s, n, len(marshaled))
		}

		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		want := longBF(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		got := AppendString(nil, s)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, encoding/json (\\b, \\f long) %s", s, got, want)
		}
		if c := AppendContents(nil, s); !bytes.Equal(c, got[1:len(got)-1]) {
			t.Fatalf("AppendContents(%q) = %s, AppendString %s", s, c, got)
		}

		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != perByteValid(s) {
			t.Fatalf("AppendString(%q) = %s reads back as %q (%v)", s, got, back, err)
		}
	})
}

// longBF rewrites the escapes \b and \f of a JSON string as \u0008 and
// \u000c, leaving every other escape (\\b is a backslash and a b) alone.
func longBF(enc []byte) []byte {
	out := make([]byte, 0, len(enc)+8)
	for i := 0; i < len(enc); i++ {
		if enc[i] != '\\' {
			out = append(out, enc[i])
			continue
		}
		switch e := enc[i+1]; e {
		case 'b':
			out = append(out, `\u0008`...)
		case 'f':
			out = append(out, `\u000c`...)
		default:
			out = append(out, '\\', e)
		}
		i++
	}
	return out
}

// perByteValid replaces each byte of invalid UTF-8 in s with U+FFFD, as
// encoding/json does (strings.ToValidUTF8 replaces a run with one).
func perByteValid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		b.WriteRune(r) // RuneError for an invalid byte, size 1
		i += size
	}
	return b.String()
}

func BenchmarkAppendString(b *testing.B) {
	for _, bm := range []struct{ name, s string }{
		{"plain", "0190c1a2-6b00-7000-8000-00000000a001"},
		{"escaped", `Unexpected token '<', "<!DOCTYPE "... is not valid JSON`},
		{"non-ASCII", "Søren Müller, Júlia García"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 256)
			for b.Loop() {
				buf = AppendString(buf[:0], bm.s)
			}
		})
	}
}
