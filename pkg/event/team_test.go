package event

import (
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// envelope wraps the event JSON inner as the data of a capture envelope
// with the given top-level members (a fragment without braces).
func envelope(outer, inner string) string {
	data, _ := json.Marshal(inner)
	if outer != "" {
		outer += ","
	}
	return `{` + outer + `"data":` + string(data) + `}`
}

// allDecoders are the Decoder configurations that matter for the team: the
// default and the pipeline's (LazyProperties, NoCopy).
func allDecoders(o Options) map[string]*Decoder {
	o.Now = func() time.Time { return testNow }
	fast := o
	fast.LazyProperties, fast.NoCopy = true, true
	return map[string]*Decoder{"default": NewDecoder(o), "lazy+nocopy": NewDecoder(fast)}
}

// TestEnvelopeTeamAuthority pins issue 11, item 3: in a capture envelope,
// data.team_id beat the envelope's token, so an envelope with token
// phc_attacker merged into team phc_victim's person and its stamped event
// carried the victim's properties. The team of an envelope is its own token
// (docs/SEMANTICS.md §1, changed 2026-12-04); nothing in data can change it.
func TestEnvelopeTeamAuthority(t *testing.T) {
	claims := map[string]string{
		"data.team_id":            `"team_id":"phc_victim"`,
		"data.team_id integer":    `"team_id":1`,
		"data.token":              `"token":"phc_victim"`,
		"data.api_key":            `"api_key":"phc_victim"`,
		"data.$token":             `"$token":"phc_victim"`,
		"data.properties.token":   `"properties":{"token":"phc_victim"}`,
		"every claim at once":     `"team_id":"phc_victim","token":"phc_victim","api_key":"phc_victim","$token":"phc_victim","properties":{"token":"phc_victim","$set":{"email":"x@attacker"}}`,
		"claims in upper escapes": `"team_\u0069d":"phc_victim"`,
	}
	teams, err := NewTeamMap(map[string]string{"phc_attacker": "2", "phc_victim": "1"})
	require.NoError(t, err)
	for name, claim := range claims {
		in := envelope(`"token":"phc_attacker","distinct_id":"attacker"`, `{"event":"$identify","distinct_id":"x",`+claim+`}`)
		for dname, d := range allDecoders(Options{}) {
			t.Run(name+"/"+dname, func(t *testing.T) {
				e, err := d.Decode([]byte(in), testSource)
				require.NoError(t, err, in)
				assert.Equal(t, "phc_attacker", e.Team)
				assert.Equal(t, "attacker", e.DistinctID)
				out := e.AppendStamped(nil, implicitStamp)
				var top map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(out, &top))
				assert.JSONEq(t, `"phc_attacker"`, string(top["team"]))
				assert.JSONEq(t, `"phc_attacker"`, string(top["token"]))
				for _, k := range []string{"team_id", "api_key", "$token"} {
					assert.NotContains(t, top, k, "data's %s passed on to the stamped event: %s", k, out)
				}
			})
		}
		for dname, d := range allDecoders(Options{Teams: teams}) {
			t.Run(name+"/team map/"+dname, func(t *testing.T) {
				e, err := d.Decode([]byte(in), testSource)
				require.NoError(t, err, in)
				assert.Equal(t, "2", e.Team, "the attacker's team id, never the victim's")
			})
		}
	}
}

// TestEnvelopeWithoutToken: an envelope's data cannot stand in for a
// missing or unusable envelope token, whatever the envelope's own other
// members say.
func TestEnvelopeWithoutToken(t *testing.T) {
	inner := `{"event":"e","distinct_id":"d","team_id":1,"token":"t","api_key":"k","$token":"x","properties":{"token":"p"}}`
	for _, outer := range []string{``, `"token":null`, `"token":""`, `"token":" "`, `"token":1.5`, `"token":{}`, `"team_id":1`, `"api_key":"k"`, `"$token":"x"`, `"properties":{"token":"p"}`} {
		_, err := decode(t, envelope(outer, inner))
		assert.ErrorIs(t, err, ErrMissingTeam, "envelope members %s", outer)
	}
	e := mustDecode(t, envelope(`"token":7`, inner))
	assert.Equal(t, "7", e.Team, "an integer token is a team")
}

// TestPlainEventTeamOrder: a plain event (no envelope) keeps the order
// team_id, token, api_key, $token, properties.token; TestTeam has the rest.
func TestPlainEventTeamOrder(t *testing.T) {
	all := []string{`"team_id":"a"`, `"token":"b"`, `"api_key":"c"`, `"$token":"d"`, `"properties":{"token":"e"}`}
	for i, want := range []string{"a", "b", "c", "d", "e"} {
		in := `{"event":"x","distinct_id":"y",` + strings.Join(all[i:], ",") + `}`
		assert.Equal(t, want, mustDecode(t, in).Team, in)
	}
}

func TestInvalidTeam(t *testing.T) {
	long := strings.Repeat("T", MaxTeamBytes+1)
	tests := []struct {
		name, in string
		want     string // the team, or "" when invalid_team
	}{
		{"200 bytes", `{"event":"e","distinct_id":"d","token":"` + long[1:] + `"}`, long[1:]},
		{"201 bytes", `{"event":"e","distinct_id":"d","token":"` + long + `"}`, ""},
		{"70 kB token (issue 11 item 1)", `{"event":"e","distinct_id":"k","token":"` + strings.Repeat("T", 70000) + `"}`, ""},
		{"70 kB envelope token", envelope(`"token":"`+strings.Repeat("T", 70000)+`"`, `{"event":"e","distinct_id":"d"}`), ""},
		{"200 bytes of 2-byte characters", `{"event":"e","distinct_id":"d","token":"` + strings.Repeat("é", 100) + `"}`, strings.Repeat("é", 100)},
		{"202 bytes of 2-byte characters", `{"event":"e","distinct_id":"d","token":"` + strings.Repeat("é", 101) + `"}`, ""},
		{"201-digit team_id", `{"event":"e","distinct_id":"d","team_id":` + strings.Repeat("9", 201) + `}`, ""},
		{"long team_id is not passed over for a good token", `{"event":"e","distinct_id":"d","team_id":"` + long + `","token":"ok"}`, ""},
		{"long escaped team, short as text", `{"event":"e","distinct_id":"d","token":"` + strings.Repeat(`\u0041`, 201) + `"}`, ""},
		{"NUL", `{"event":"e","distinct_id":"d","token":"a\u0000b"}`, ""},
		{"C0 control", `{"event":"e","distinct_id":"d","token":"a\u0001"}`, ""},
		{"tab inside", `{"event":"e","distinct_id":"d","token":"a\tb"}`, ""},
		{"newline at the end", `{"event":"e","distinct_id":"d","token":"phc\n"}`, ""},
		{"DEL", `{"event":"e","distinct_id":"d","token":"a\u007f"}`, ""},
		{"DEL raw", "{\"event\":\"e\",\"distinct_id\":\"d\",\"token\":\"a\x7f\"}", ""},
		{"C1 NEL", `{"event":"e","distinct_id":"d","token":"a\u0085"}`, ""},
		{"C1 first", `{"event":"e","distinct_id":"d","token":"\u0080a"}`, ""},
		{"C1 last", `{"event":"e","distinct_id":"d","token":"a\u009f"}`, ""},
		{"U+00A0 is not a control", `{"event":"e","distinct_id":"d","token":"a\u00a0b"}`, "a\u00a0b"},
		{"U+00E9 is not a control", `{"event":"e","distinct_id":"d","token":"\u00e9"}`, "é"},
		{"format characters are not controls", `{"event":"e","distinct_id":"d","token":"a\u200bb\u202e"}`, "a\u200bb\u202e"},
		{"control in the envelope token", envelope(`"token":"a\u0007"`, `{"event":"e","distinct_id":"d"}`), ""},
		{"control in data's token of an envelope is ignored", envelope(`"token":"ok"`, `{"event":"e","distinct_id":"d","token":"a\u0007"}`), "ok"},
		{"whitespace-only candidates are still passed over", `{"event":"e","distinct_id":"d","team_id":"\t","token":"ok"}`, "ok"},
		{"space around is kept", `{"event":"e","distinct_id":"d","token":" ok "}`, " ok "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for dname, d := range allDecoders(Options{}) {
				e, err := d.Decode([]byte(tt.in), testSource)
				if tt.want != "" {
					require.NoError(t, err, dname)
					assert.Equal(t, tt.want, e.Team, dname)
					continue
				}
				require.ErrorIs(t, err, ErrInvalidTeam, dname)
				assert.Less(t, len(err.Error()), 200, "the detail quotes the team shortened: %s", err)
			}
		})
	}
}

// TestInvalidTeamOrder: invalid_team comes after invalid_json and
// missing_team, before invalid_distinct_id (the order of Reasons).
func TestInvalidTeamOrder(t *testing.T) {
	_, err := decode(t, `{"event":"e","token":"a\u0001"}`)
	assert.ErrorIs(t, err, ErrInvalidTeam, "before the missing distinct_id")
	_, err = decode(t, `{"event":"e","distinct_id":"d","token":"a\u0001","properties":1}`)
	assert.ErrorIs(t, err, ErrInvalidJSON)
	i := func(r Reason) int {
		for j, x := range Reasons {
			if x == r {
				return j
			}
		}
		return -1
	}
	assert.Less(t, i(ReasonMissingTeam), i(ReasonInvalidTeam))
	assert.Less(t, i(ReasonInvalidTeam), i(ReasonUnknownTeam))
	assert.Less(t, i(ReasonUnknownTeam), i(ReasonInvalidDistinctID))
}

func TestTeamMapResolve(t *testing.T) {
	m, err := NewTeamMap(map[string]string{"phc_a": "1", "phc_b": "1", "phc_c": "2", "7": "7"})
	require.NoError(t, err)
	assert.Equal(t, 4, m.Len())
	tests := []struct {
		team, want string
		ok         bool
	}{
		{"phc_a", "1", true}, {"phc_b", "1", true}, {"phc_c", "2", true},
		{"1", "1", true}, {"2", "2", true}, {"7", "7", true},
		{"phc_x", "", false}, {"3", "", false}, {"PHC_A", "", false}, {" phc_a", "", false},
	}
	for _, tt := range tests {
		got, ok := m.Resolve(tt.team)
		assert.Equal(t, tt.ok, ok, tt.team)
		assert.Equal(t, tt.want, got, tt.team)
	}
	var none *TeamMap
	got, ok := none.Resolve("anything")
	assert.True(t, ok)
	assert.Equal(t, "anything", got)
	assert.Equal(t, 0, none.Len())
	var zero TeamMap
	got, ok = zero.Resolve("anything")
	assert.True(t, ok)
	assert.Equal(t, "anything", got)

	assert.Zero(t, testing.AllocsPerRun(100, func() {
		_, _ = m.Resolve("phc_a")
		_, _ = m.Resolve("2")
		_, _ = m.Resolve("phc_x")
	}), "lookups allocate nothing")
}

func TestTeamMapInvalid(t *testing.T) {
	tests := []struct {
		name    string
		entries map[string]string
		want    string
	}{
		{"empty", map[string]string{}, "no entries"},
		{"nil", nil, "no entries"},
		{"empty token", map[string]string{"": "1"}, `token "": the token is empty`},
		{"blank team id", map[string]string{"t": "  "}, `its team id "  " is empty`},
		{"long token", map[string]string{strings.Repeat("t", 201): "1"}, "201 bytes, over the limit of 200"},
		{"long team id", map[string]string{"t": strings.Repeat("1", 201)}, "201 bytes, over the limit of 200"},
		{"control in token", map[string]string{"t\n": "1"}, `token "t\n": the token holds a control character at byte 1`},
		{"control in team id", map[string]string{"t": "1\u0085"}, "holds a control character"},
		{"invalid UTF-8", map[string]string{"t": "1\x85"}, "not valid UTF-8"},
		{"token that is another token's team id", map[string]string{"a": "b", "b": "c"}, `token "b": the token is also the team id of another token`},
		{"first bad entry in token order, and a count", map[string]string{"z": "", "y\x00": "1", "ok": "1"}, `token "y\x00": the token holds a control character at byte 1 (and 1 more bad entries)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewTeamMap(tt.entries)
			require.ErrorIs(t, err, ErrInvalidTeamMap)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	big := make(map[string]string, MaxTeamMapEntries+1)
	for i := range MaxTeamMapEntries + 1 {
		big[strconv.Itoa(i)] = strconv.Itoa(i)
	}
	_, err := NewTeamMap(big)
	require.ErrorIs(t, err, ErrInvalidTeamMap)
	assert.Contains(t, err.Error(), "1048577 entries, over the limit of 1048576")
}

// TestTeamMapReplaceKeepsOldOnError: a bad reload leaves the map as it was.
func TestTeamMapReplaceKeepsOldOnError(t *testing.T) {
	m, err := NewTeamMap(map[string]string{"phc_a": "1"})
	require.NoError(t, err)
	require.ErrorIs(t, m.Replace(map[string]string{"phc_b": "bad\x01"}), ErrInvalidTeamMap)
	id, ok := m.Resolve("phc_a")
	assert.True(t, ok)
	assert.Equal(t, "1", id)
	require.NoError(t, m.Replace(map[string]string{"phc_b": "2"}))
	_, ok = m.Resolve("phc_a")
	assert.False(t, ok, "replaced, not merged")
	id, ok = m.Resolve("phc_b")
	assert.True(t, ok)
	assert.Equal(t, "2", id)
}

func TestDecodeWithTeamMap(t *testing.T) {
	m, err := NewTeamMap(map[string]string{"phc_a": "1", "phc_c": "2"})
	require.NoError(t, err)
	tests := []struct {
		name, in, want string // want "" → unknown_team
	}{
		{"token in the map", `{"event":"e","distinct_id":"d","token":"phc_a"}`, "1"},
		{"team_id in the values", `{"event":"e","distinct_id":"d","team_id":2}`, "2"},
		{"team_id string in the values", `{"event":"e","distinct_id":"d","team_id":"1"}`, "1"},
		{"properties.token in the map", `{"event":"e","distinct_id":"d","properties":{"token":"phc_c"}}`, "2"},
		{"unknown token", `{"event":"e","distinct_id":"d","token":"phc_x"}`, ""},
		{"unknown team_id", `{"event":"e","distinct_id":"d","team_id":3,"token":"phc_a"}`, ""},
		{"envelope token in the map", envelope(`"token":"phc_c"`, `{"event":"e","distinct_id":"d","team_id":1}`), "2"},
		{"envelope token unknown, data names a known team", envelope(`"token":"phc_x"`, `{"event":"e","distinct_id":"d","team_id":1,"token":"phc_a"}`), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for dname, d := range allDecoders(Options{Teams: m}) {
				e, err := d.Decode([]byte(tt.in), testSource)
				if tt.want == "" {
					require.ErrorIs(t, err, ErrUnknownTeam, dname)
					assert.Contains(t, err.Error(), "teams.file")
					continue
				}
				require.NoError(t, err, dname)
				assert.Equal(t, tt.want, e.Team, dname)
				out := e.AppendStamped(nil, implicitStamp)
				assert.Contains(t, string(out), `"team":"`+tt.want+`"`, dname)
			}
		})
	}
	// invalid_team is checked before the map: an overlong token is
	// invalid, not unknown.
	_, err = NewDecoder(Options{Teams: m}).Decode([]byte(`{"event":"e","distinct_id":"d","token":"`+strings.Repeat("x", 300)+`"}`), testSource)
	assert.ErrorIs(t, err, ErrInvalidTeam)
}

// TestTeamMapReloadWhileDecoding: Replace while Decoders run on other
// goroutines (run with -race). Every Decode sees one generation or the
// other.
func TestTeamMapReloadWhileDecoding(t *testing.T) {
	m, err := NewTeamMap(map[string]string{"phc_a": "1"})
	require.NoError(t, err)
	d := NewDecoder(Options{Teams: m, LazyProperties: true, NoCopy: true})
	in := []byte(`{"event":"e","distinct_id":"d","token":"phc_a"}`)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				e, err := d.Decode(in, testSource)
				if err != nil {
					t.Errorf("decode: %v", err)
					return
				}
				if e.Team != "1" && e.Team != "2" {
					t.Errorf("team %q", e.Team)
				}
				e.Release()
			}
		})
	}
	for i := range 200 {
		require.NoError(t, m.Replace(map[string]string{"phc_a": strconv.Itoa(1 + i%2)}))
	}
	close(stop)
	wg.Wait()
}

// TestDecodeFastWithTeamMapAllocatesNothing: the map costs the pipeline's
// fast path (LazyProperties, NoCopy, Release) no allocation.
func TestDecodeFastWithTeamMapAllocatesNothing(t *testing.T) {
	m, err := NewTeamMap(map[string]string{"phc_demo_project_token": "1"})
	require.NoError(t, err)
	d := NewDecoder(Options{Teams: m, LazyProperties: true, NoCopy: true, Now: func() time.Time { return testNow }})
	value := sampleLines(t)[0] // the $pageview
	var dst []byte
	allocs := testing.AllocsPerRun(100, func() {
		e, err := d.Decode(value, testSource)
		if err != nil {
			t.Fatal(err)
		}
		dst = e.AppendStamped(dst[:0], implicitStamp)
		e.Release()
	})
	assert.Zero(t, allocs)
}

// FuzzEnvelopeTeam: whatever an envelope's data holds, an accepted envelope
// with token phc_attacker is team phc_attacker, with and without a team
// map, and its stamped event carries no team_id, api_key or $token that
// the envelope did not have.
func FuzzEnvelopeTeam(f *testing.F) {
	for _, s := range []string{
		`{"event":"e","distinct_id":"d"}`,
		`{"event":"e","distinct_id":"d","team_id":"phc_victim","token":"phc_victim","api_key":"phc_victim","$token":"phc_victim","properties":{"token":"phc_victim"}}`,
		`{"event":"e","distinct_id":"d","team_id":1,"data":"{\"token\":\"phc_victim\"}"}`,
		`{"event":"e","distinct_id":"d","team_\u0069d":1,"team_id":null}`,
	} {
		f.Add(s)
	}
	teams, err := NewTeamMap(map[string]string{"phc_attacker": "2", "phc_victim": "1"})
	if err != nil {
		f.Fatal(err)
	}
	plain := allDecoders(Options{})
	mapped := allDecoders(Options{Teams: teams})
	f.Fuzz(func(t *testing.T, data string) {
		in := []byte(envelope(`"token":"phc_attacker"`, data))
		for name, d := range plain {
			e, err := d.Decode(in, testSource)
			if err != nil {
				continue
			}
			if e.Team != "phc_attacker" {
				t.Fatalf("%s: team %q from %s", name, e.Team, in)
			}
			var top map[string]json.RawMessage
			if err := json.Unmarshal(e.AppendStamped(nil, implicitStamp), &top); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"team_id", "api_key", "$token"} {
				if _, ok := top[k]; ok {
					t.Fatalf("%s: data's %s passed on from %s", name, k, in)
				}
			}
		}
		for name, d := range mapped {
			if e, err := d.Decode(in, testSource); err == nil && e.Team != "2" {
				t.Fatalf("%s with a team map: team %q from %s", name, e.Team, in)
			}
		}
	})
}
