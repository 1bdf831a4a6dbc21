package resolve

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The scalar fast path of canonicalJSON must give exactly what the slow
// path (a round trip through encoding/json) gives, for any input: the
// graph compares $set values as bytes, so two spellings of one value would
// make a $set of an equal value write.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{
		`"a"`, `""`, `"a b"`, `"<&>"`, `"\u00e9"`, `"é"`, `"\u2028"`, "\"\u2028\"", `"a\"b"`, `"\n"`, "\"\x7f\"", "\"\x01\"",
		`1`, `-0`, `0.50`, `1e5`, `1E+05`, `-1.5e-3`, `01`, `1.`, `.5`, `-`, `+1`, `1e`, `0x10`, `Infinity`, `NaN`,
		`true`, `false`, `null`, `tru`, `nul`, `truex`, ` 1`, `1 `, `"a" `,
		`{"b":1,"a":[1,2]}`, `{ "a" : 1 }`, `[1, 2]`, `{}`, `[]`, `"unterminated`, `"`, ``, `{"a":1}{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		fast, slow := canonicalJSON(v), canonicalJSONSlow(v)
		if !bytes.Equal(fast, slow) {
			t.Fatalf("canonicalJSON(%q) = %q, slow path %q", v, fast, slow)
		}
	})
}

func TestCanonicalJSON(t *testing.T) {
	for in, want := range map[string]string{
		`"plain"`:                   `"plain"`,
		`1.50`:                      `1.50`,
		`{ "b" : 1, "a" : [1, 2] }`: `{"a":[1,2],"b":1}`,
		`"\u0041"`:                  `"A"`,
		`"é"`:                       `"é"`,
		`"\u2028"`:                  `"\u2028"`,
		` true `:                    `true`,
		`not json`:                  `not json`,
	} {
		if got := canonicalJSON(json.RawMessage(in)); string(got) != want {
			t.Errorf("canonicalJSON(%s) = %s, want %s", in, got, want)
		}
	}
	if !isCanonicalScalar([]byte(`"x@example.com"`)) || isCanonicalScalar([]byte(`{"a":1}`)) {
		t.Fatal("fast path: a plain string must take it, an object must not")
	}
}
