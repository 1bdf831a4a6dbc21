package jsonlit

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
)

func TestParseUUID(t *testing.T) {
	for _, s := range []string{"01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c", "01935A2E-7C1F-7A3B-9C55-2F1D3E4A5B6C", "00000000-0000-0000-0000-000000000000"} {
		u, ok := ParseUUID([]byte(s))
		assert.True(t, ok, s)
		assert.Equal(t, uuid.MustParse(s), u)
		u, ok = ParseUUID(s)
		assert.True(t, ok, s)
		assert.Equal(t, uuid.MustParse(s), u)
	}
	for _, s := range []string{"01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6g", "01935a2e-7c1f-7a3b-9c55x2f1d3e4a5b6c", "01935a2e7c1f-7a3b-9c55-2f1d3e4a5b6c0", "01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6", ""} {
		_, ok := ParseUUID([]byte(s))
		assert.False(t, ok, s)
		_, ok = ParseUUID(s)
		assert.False(t, ok, s)
	}
}

// FuzzUUID checks ParseUUID against uuid.ParseBytes on 36-byte inputs:
// both accept the same texts, as the same uuid.
func FuzzUUID(f *testing.F) {
	f.Add([]byte("01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c"))
	f.Add([]byte("01935A2E-7C1F-7A3B-9C55-2F1D3E4A5B6C"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != 36 {
			return
		}
		got, ok := ParseUUID(b)
		want, err := uuid.ParseBytes(b)
		if ok != (err == nil) || ok && got != want {
			t.Fatalf("%q: ParseUUID %v %v, uuid.ParseBytes %v %v", b, got, ok, want, err)
		}
		if s, sok := ParseUUID(string(b)); s != got || sok != ok {
			t.Fatalf("%q: the string form differs", b)
		}
		if ok && string(AppendUUID(nil, got)) != want.String() {
			t.Fatalf("%q: AppendUUID wrote %q, uuid.String %q", b, AppendUUID(nil, got), want.String())
		}
	})
}

func TestAppendUUID(t *testing.T) {
	for _, s := range []string{"01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c", "00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"} {
		assert.Equal(t, s, string(AppendUUID(nil, uuid.MustParse(s))))
		assert.Equal(t, "x"+s, string(AppendUUID([]byte("x"), uuid.MustParse(s))), "appends")
	}
}
