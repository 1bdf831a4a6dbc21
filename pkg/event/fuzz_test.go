package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/resolver-dev/resolver/internal/jsonlit"
	"github.com/resolver-dev/resolver/internal/teamrule"
)

func fuzzSeeds(f *testing.F) {
	for _, line := range sampleLines(f) {
		f.Add(line)
	}
	for _, s := range []string{
		``, `{}`, `[]`, `null`, `{"event":"e"}`,
		ev(""),
		ev(`"uuid":"01935A2E-7C1F-7A3B-9C55-2F1D3E4A5B6C","timestamp":"2026-11-28T09:15:02.114+01:00"`),
		`{"event":"$identify","distinct_id":23,"team_id":1,"properties":{"$anon_distinct_id":null,"$set":{"a":1}},"$set":{"a":2,"b":[1,{"c":null}]}}`,
		`{"event":"$create_alias","distinct_id":"d","token":"t","properties":{"alias":"x","$process_person_profile":false}}`,
		`{"event":"$merge_dangerously","distinct_id":"d","api_key":"k","properties":{"alias":"x","$unset":{"a":1}}}`,
		`{"token":"t","distinct_id":"d","now":"2026-11-28T09:17:07Z","sent_at":"2026-11-28T09:17:06Z","data":"{\"event\":\"e\",\"offset\":12,\"data\":\"x\",\"properties\":{\"$process_person_profile\":\"no\"}}"}`,
		`{"event":"e","distinct_id":"a\u0000\ud800b","token":"t\u00e9","properties":{"k\"":"\u2028"}}`,
		`{"event":"e","distinct_id":1e400,"$token":"t","timestamp":"9999-12-31T23:59:59Z"}`,
		`{"event":"e","distinct_id":" ","token":"t"}`,
		`{"event":"e","distinct_id":"d","token":"t","properties":{"p":1,"p":2},"x":1,"x":null}`,
		"{\"event\":\"e\",\"distinct_id\":\"\xff\xfe\",\"token\":\"t\"}",
	} {
		f.Add([]byte(s))
	}
}

// FuzzDecode checks Decode and AppendStamped on arbitrary input.
//
// Invariants:
//   - Decode never panics, and returns exactly one of an event and an error.
//   - Every error is a *Rejection whose Reason is one of Reasons.
//   - An accepted input is valid JSON (as encoding/json judges it).
//   - An accepted event has a valid Team (not blank, at most MaxTeamBytes
//     bytes, no control character, valid UTF-8); a DistinctID that is valid
//     UTF-8, not empty or whitespace only, at most MaxDistinctIDRunes runes,
//     without NUL; a non-empty Name; a UTC Timestamp no more than
//     FutureCutoff after the processing time; Kind Ordinary unless Mode is
//     Full; and, when personless, no Set, SetOnce, Unset, nor $set,
//     $set_once or $unset in Properties.
//   - AppendStamped's output is a valid JSON object without duplicate keys,
//     deterministic for a given input (also when Decode reuses a released
//     Event), and decodes again to the same team, distinct_id, uuid, event
//     name and timestamp.
func FuzzDecode(f *testing.F) {
	fuzzSeeds(f)
	d := testDecoder()
	again := NewDecoder(Options{MaxEventBytes: 1 << 30, Now: func() time.Time { return testNow }})
	f.Fuzz(func(t *testing.T, value []byte) {
		e, err := d.Decode(value, testSource)
		if err != nil {
			if e != nil {
				t.Fatalf("both an event and an error")
			}
			var r *Rejection
			if !errors.As(err, &r) {
				t.Fatalf("error %T is not a *Rejection", err)
			}
			if !slices.Contains(Reasons, r.Reason) {
				t.Fatalf("unknown reason %q", r.Reason)
			}
			return
		}
		if e == nil {
			t.Fatal("neither an event nor an error")
		}
		if !json.Valid(value) {
			t.Fatalf("accepted invalid JSON")
		}
		checkEvent(t, e)

		out := e.AppendStamped(nil, implicitStamp)
		if !json.Valid(out) || out[0] != '{' {
			t.Fatalf("output is not a JSON object: %s", out)
		}
		checkNoDuplicateKeys(t, out)
		// Decode again into released storage (Event.Release): same bytes.
		e2, err := d.Decode(value, testSource)
		if err != nil {
			t.Fatalf("second decode: %v", err)
		}
		e2.Release()
		e3, err := d.Decode(value, testSource)
		if err != nil {
			t.Fatalf("third decode: %v", err)
		}
		if out3 := e3.AppendStamped(nil, implicitStamp); !bytes.Equal(out, out3) {
			t.Fatalf("not deterministic:\n%s\n%s", out, out3)
		}
		e3.Release()
		r, err := again.Decode(out, testSource)
		if err != nil {
			t.Fatalf("output rejected: %v\n%s", err, out)
		}
		if r.Team != e.Team || r.DistinctID != e.DistinctID || r.UUID != e.UUID || r.Name != e.Name || !r.Timestamp.Equal(e.Timestamp) {
			t.Fatalf("round trip changed the event:\n%+v\n%+v\n%s", e, r, out)
		}
	})
}

func checkEvent(t *testing.T, e *Event) {
	t.Helper()
	if teamrule.Problem(e.Team) != "" {
		t.Fatalf("bad team %q", e.Team)
	}
	id := e.DistinctID
	if !utf8.ValidString(id) || strings.TrimSpace(id) == "" || utf8.RuneCountInString(id) > MaxDistinctIDRunes || strings.IndexByte(id, 0) >= 0 {
		t.Fatalf("bad distinct_id %q", id)
	}
	if e.Name == "" {
		t.Fatal("empty name")
	}
	if e.Timestamp.Location() != time.UTC || e.Timestamp.Sub(testNow) > FutureCutoff {
		t.Fatalf("bad timestamp %v", e.Timestamp)
	}
	if e.Kind != Ordinary && e.Mode != Full {
		t.Fatalf("%v event in %v mode", e.Kind, e.Mode)
	}
	if e.Mode == Personless {
		if e.Set != nil || e.SetOnce != nil || e.Unset != nil {
			t.Fatal("personless event with person updates")
		}
		for _, k := range []string{"$set", "$set_once", "$unset"} {
			if _, ok := e.Properties[k]; ok {
				t.Fatalf("personless event with properties.%s", k)
			}
		}
	}
}

// checkNoDuplicateKeys fails if the stamped event b, or its properties,
// repeats a key. (Deeper objects are the input's own, passed through.)
func checkNoDuplicateKeys(t *testing.T, b []byte) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for _, part := range [][]byte{b, top["properties"]} {
		dec := json.NewDecoder(bytes.NewReader(part))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("not an object: %s", part)
		}
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			key := k.(string)
			if seen[key] {
				t.Fatalf("duplicate key %q in %s", key, part)
			}
			seen[key] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// FuzzScan checks the scanner against encoding/json: skipValue accepts
// exactly the texts json.Valid accepts (for inputs without leading space,
// which skipValue does not skip), and ends where the value ends.
func FuzzScan(f *testing.F) {
	fuzzSeeds(f)
	for _, s := range []string{`1`, `-0.5e+3`, `"\u00e9"`, `[1,[2,{"a":[]}]]`, `{"a":}`, `tru`, `"\ud800"`, "\"\x7f\"", `1.`, `-`, `01`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 0 && isSpace(b[0]) {
			return
		}
		end, ok := skipValue(b, 0)
		valid := ok && skipSpace(b, end) == len(b)
		if valid != json.Valid(b) {
			t.Fatalf("skipValue says %v, json.Valid says %v, for %q", valid, json.Valid(b), b)
		}
	})
}

// FuzzStrings checks that a JSON string decodes as encoding/json decodes
// it, and that jsonlit.AppendString writes what scanString and stringOf read
// back.
func FuzzStrings(f *testing.F) {
	for _, s := range []string{`"abc"`, `"\u00e9\n\"\\\/"`, `"\ud83d\ude00"`, `"\ud800"`, `"\ud800\u0041"`, `"\udc00"`, "\"\xff\"", `"` + strings.Repeat("x", 40) + `\t"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, _, ok := scanString(b, 0)
		if len(b) == 0 || b[0] != '"' || !ok || end != len(b) {
			return
		}
		var want string
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("scanString accepted %q, encoding/json: %v", b, err)
		}
		if got := stringOf(b, string(b)); got != want {
			t.Fatalf("stringOf(%q) = %q, encoding/json %q", b, got, want)
		}
		enc := jsonlit.AppendString(nil, want)
		if end, _, ok := scanString(enc, 0); !ok || end != len(enc) || stringOf(enc, string(enc)) != want {
			t.Fatalf("jsonlit.AppendString(%q) = %s, does not read back", want, enc)
		}
	})
}

// FuzzParseRFC3339 checks parseRFC3339 against time.Parse(RFC3339Nano):
// whatever parseRFC3339 accepts (lower-case t and z upper-cased), the time
// package accepts too, as the same instant.
func FuzzParseRFC3339(f *testing.F) {
	for _, s := range []string{"2026-11-28T09:15:02.114Z", "2026-11-28T10:15:02+01:00", "2026-02-29T00:00:00Z", "2024-02-29T23:59:59.999999999-23:59", "2026-11-28t09:15:02z", "2026-11-28T09:15:02"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339([]byte(s))
		want, err := time.Parse(time.RFC3339Nano, strings.NewReplacer("t", "T", "z", "Z").Replace(s))
		if ok && err != nil {
			t.Fatalf("parseRFC3339 accepts %q, time.Parse: %v", s, err)
		}
		if ok && !got.Equal(want) {
			t.Fatalf("%q: %v, time.Parse %v", s, got, want)
		}
	})
}

// fastOptions are the Decoder options that take another code path than
// the default and must not change what comes out.
var fastOptions = map[string]Options{
	"lazy":        {LazyProperties: true},
	"nocopy":      {NoCopy: true},
	"lazy+nocopy": {LazyProperties: true, NoCopy: true},
}

// FuzzDecodeOptions is a differential test of the fast paths: for every
// input, a Decoder with each of fastOptions accepts or rejects as the
// default Decoder does (with the same rejection); an accepted event agrees
// field for field; AppendStamped writes the same bytes; Property finds the
// default's Properties; PropertiesMap gives the default's map, and changes
// to it come out as changes to the default's do; and an event decoded into
// released storage writes the same bytes again.
func FuzzDecodeOptions(f *testing.F) {
	fuzzSeeds(f)
	for _, line := range sampleLines(f) {
		var compact bytes.Buffer
		if json.Compact(&compact, line) == nil {
			f.Add(compact.Bytes())
		}
	}
	for _, s := range []string{
		ev(`"properties":{}`), ev(`"properties":{ }`), ev(`"properties":null`), ev(`"properties":{"a":1} ,"properties":{"b":[1, 2]}`),
		ev(`"properties":{"a":{"b" : 1},"c":"d"}`), ev(`"properties":{"a" :1}`), ev(`"properties":{"é":1,"\u0062":2}`),
		ev(`"properties":{"$set":{"a":1}},"$set_once":{"b":2}`), ev(`"properties":{"$set":{"a":1},"$set_once":{"b":2},"$unset":[]}`),
		ev(`"properties":{"$process_person_profile":false,"a":1}`), ev(`"properties":{"$process_person_profile":false,"$unset":["a"]}`),
	} {
		f.Add([]byte(s))
	}
	base := testDecoder()
	fast := map[string]*Decoder{}
	for name, o := range fastOptions {
		o.Now = func() time.Time { return testNow }
		fast[name] = NewDecoder(o)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		want, wantErr := base.Decode(value, testSource)
		var wantOut []byte
		if wantErr == nil {
			wantOut = want.AppendStamped(nil, implicitStamp)
		}
		for name, d := range fast {
			in := bytes.Clone(value)
			got, err := d.Decode(in, testSource)
			if !reflect.DeepEqual(err, wantErr) {
				t.Fatalf("%s: error %v, default %v", name, err, wantErr)
			}
			if err != nil {
				continue
			}
			if d.lazy && got.Properties != nil {
				t.Fatalf("%s: Properties built", name)
			}
			checkSameEvent(t, name, want, got)
			if out := got.AppendStamped(nil, implicitStamp); !bytes.Equal(out, wantOut) {
				t.Fatalf("%s: output differs:\n%s\ndefault:\n%s", name, out, wantOut)
			}
			for k, v := range want.Properties {
				if gv, ok := got.Property(k); !ok || !bytes.Equal(gv, v) {
					t.Fatalf("%s: Property(%q) = %s %v, default %s", name, k, gv, ok, v)
				}
			}
			if _, ok := got.Property("\x00absent"); ok {
				t.Fatalf("%s: Property of an absent key", name)
			}
			if m := got.PropertiesMap(); !reflect.DeepEqual(m, want.Properties) && len(m)+len(want.Properties) > 0 {
				t.Fatalf("%s: PropertiesMap %v, default %v", name, m, want.Properties)
			}
			if out := got.AppendStamped(nil, implicitStamp); !bytes.Equal(out, wantOut) {
				t.Fatalf("%s: output after PropertiesMap differs:\n%s\ndefault:\n%s", name, out, wantOut)
			}
			// Released storage, then a change through the map.
			got.Release()
			got, err = d.Decode(in, testSource)
			if err != nil {
				t.Fatalf("%s: second decode: %v", name, err)
			}
			if out := got.AppendStamped(nil, implicitStamp); !bytes.Equal(out, wantOut) {
				t.Fatalf("%s: output from released storage differs:\n%s\ndefault:\n%s", name, out, wantOut)
			}
			again, _ := base.Decode(value, testSource)
			keys := orderKeys(again)
			for _, m := range []map[string]json.RawMessage{again.Properties, got.PropertiesMap()} {
				if len(keys) > 0 {
					delete(m, keys[0])
					m[keys[len(keys)-1]] = json.RawMessage(`"changed"`)
				}
				m["zz"] = json.RawMessage(`true`)
			}
			wantChanged := again.AppendStamped(nil, implicitStamp)
			if out := got.AppendStamped(nil, implicitStamp); !bytes.Equal(out, wantChanged) {
				t.Fatalf("%s: output after changes differs:\n%s\ndefault:\n%s", name, out, wantChanged)
			}
			got.Release()
			if !bytes.Equal(in, value) {
				t.Fatalf("%s: Decode changed its input", name)
			}
		}
	})
}

// checkSameEvent compares everything Decode sets but Properties.
func checkSameEvent(t *testing.T, name string, want, got *Event) {
	t.Helper()
	type view struct {
		Team, DistinctID, Name, MergeOther string
		UUID                               uuid.UUID
		Timestamp                          time.Time
		Kind                               Kind
		Mode                               Mode
		Set, SetOnce                       map[string]json.RawMessage
		Unset                              []string
		Warnings                           []Warning
		Extras                             []extra
		Size                               int
	}
	v := func(e *Event) view {
		extras := e.extras
		if len(extras) == 0 {
			extras = nil // empty or nil: released storage or not
		}
		return view{e.Team, e.DistinctID, e.Name, e.MergeOther, e.UUID, e.Timestamp, e.Kind, e.Mode,
			e.Set, e.SetOnce, e.Unset, e.Warnings, extras, e.size}
	}
	if w, g := v(want), v(got); !reflect.DeepEqual(w, g) {
		t.Fatalf("%s: event differs:\n%+v\ndefault:\n%+v", name, g, w)
	}
}
