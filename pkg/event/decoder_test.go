package event

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ev builds a small event: base members plus extra ones (a JSON fragment
// without braces, may be empty).
func ev(members string) string {
	if members == "" {
		return `{"event":"e","distinct_id":"d","token":"t"}`
	}
	return `{"event":"e","distinct_id":"d","token":"t",` + members + `}`
}

func TestTeam(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"team_id integer wins", `{"event":"e","distinct_id":"d","team_id":1,"token":"phc"}`, "1"},
		{"team_id string", `{"event":"e","distinct_id":"d","team_id":"2","token":"phc"}`, "2"},
		{"team_id token-like string", `{"event":"e","distinct_id":"d","team_id":"phc_x"}`, "phc_x"},
		{"team_id big integer keeps digits", `{"event":"e","distinct_id":"d","team_id":123456789012345678901234567890}`, "123456789012345678901234567890"},
		{"team_id integral float", `{"event":"e","distinct_id":"d","team_id":1.0}`, "1"},
		{"team_id null falls back", `{"event":"e","distinct_id":"d","team_id":null,"token":"phc"}`, "phc"},
		{"team_id empty falls back", `{"event":"e","distinct_id":"d","team_id":"","token":"phc"}`, "phc"},
		{"team_id blank falls back", `{"event":"e","distinct_id":"d","team_id":"  ","token":"phc"}`, "phc"},
		{"team_id fraction falls back", `{"event":"e","distinct_id":"d","team_id":1.5,"token":"phc"}`, "phc"},
		{"team_id bool falls back", `{"event":"e","distinct_id":"d","team_id":true,"token":"phc"}`, "phc"},
		{"team_id object falls back", `{"event":"e","distinct_id":"d","team_id":{},"token":"phc"}`, "phc"},
		{"token before api_key", `{"event":"e","distinct_id":"d","api_key":"k","token":"phc","$token":"x","properties":{"token":"p"}}`, "phc"},
		{"api_key before $token", `{"event":"e","distinct_id":"d","api_key":"k","$token":"x","properties":{"token":"p"}}`, "k"},
		{"$token before properties.token", `{"event":"e","distinct_id":"d","$token":"x","properties":{"token":"p"}}`, "x"},
		{"properties.token last", `{"event":"e","distinct_id":"d","properties":{"token":"p"}}`, "p"},
		{"numeric token", `{"event":"e","distinct_id":"d","token":42}`, "42"},
		{"token kept untrimmed", `{"event":"e","distinct_id":"d","token":" phc "}`, " phc "},
		{"escaped token", `{"event":"e","distinct_id":"d","token":"ph\u0063"}`, "phc"},
		{"envelope token wins", `{"token":"outer","data":"{\"event\":\"e\",\"distinct_id\":\"d\",\"token\":\"inner\"}"}`, "outer"},
		{"envelope token beats the event's team_id", `{"token":"outer","data":"{\"event\":\"e\",\"distinct_id\":\"d\",\"team_id\":9}"}`, "outer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, mustDecode(t, tt.in).Team)
		})
	}
}

func TestMissingTeam(t *testing.T) {
	for _, in := range []string{
		`{"event":"e","distinct_id":"d"}`,
		`{"event":"e","distinct_id":"d","team_id":null,"token":"","api_key":" ","$token":false,"properties":{"token":""}}`,
		`{"event":"e","distinct_id":"d","team_id":2.5}`,
		`{"event":"e","distinct_id":"d","properties":{"token":{}}}`,
		// An envelope's team is its own token only (see TestEnvelopeTeamAuthority).
		`{"token":null,"data":"{\"event\":\"e\",\"distinct_id\":\"d\",\"token\":\"inner\"}"}`,
		`{"data":"{\"event\":\"e\",\"distinct_id\":\"d\",\"team_id\":1,\"token\":\"t\",\"api_key\":\"k\",\"$token\":\"x\",\"properties\":{\"token\":\"p\"}}"}`,
		`{"token":"  ","team_id":1,"data":"{\"event\":\"e\",\"distinct_id\":\"d\"}"}`,
	} {
		_, err := decode(t, in)
		reason, ok := ReasonOf(err)
		assert.True(t, ok, in)
		assert.Equal(t, ReasonMissingTeam, reason, in)
	}
}

func TestDistinctID(t *testing.T) {
	tests := []struct {
		name, in, want string
		truncated      bool
	}{
		{"top level wins", `{"event":"e","token":"t","distinct_id":"a","$distinct_id":"b","properties":{"distinct_id":"c"}}`, "a", false},
		{"$distinct_id next", `{"event":"e","token":"t","$distinct_id":"b","properties":{"distinct_id":"c"}}`, "b", false},
		{"properties.distinct_id last", `{"event":"e","token":"t","properties":{"distinct_id":"c"}}`, "c", false},
		{"null falls back", `{"event":"e","token":"t","distinct_id":null,"properties":{"distinct_id":"c"}}`, "c", false},
		{"integer", `{"event":"e","token":"t","distinct_id":23}`, "23", false},
		{"integer string is the same", `{"event":"e","token":"t","distinct_id":"23"}`, "23", false},
		{"negative zero", `{"event":"e","token":"t","distinct_id":-0}`, "0", false},
		{"integral float", `{"event":"e","token":"t","distinct_id":23.0}`, "23", false},
		{"exponent", `{"event":"e","token":"t","distinct_id":2.3e1}`, "23", false},
		{"fraction", `{"event":"e","token":"t","distinct_id":1.5}`, "1.5", false},
		{"large exponent written out", `{"event":"e","token":"t","distinct_id":1e21}`, "1000000000000000000000", false},
		{"small fraction written out", `{"event":"e","token":"t","distinct_id":1e-7}`, "0.0000001", false},
		{"exact, not via float64", `{"event":"e","token":"t","distinct_id":0.1000000000000000055511151231257827}`, "0.1000000000000000055511151231257827", false},
		{"2^53+1 keeps precision", `{"event":"e","token":"t","distinct_id":9007199254740993}`, "9007199254740993", false},
		{"huge integer keeps digits", `{"event":"e","token":"t","distinct_id":123456789012345678901234567890}`, "123456789012345678901234567890", false},
		{"kept untrimmed", `{"event":"e","token":"t","distinct_id":" user "}`, " user ", false},
		{"NUL replaced", `{"event":"e","token":"t","distinct_id":"a\u0000b"}`, "a\uFFFDb", false},
		{"NUL only is not blank", `{"event":"e","token":"t","distinct_id":"\u0000"}`, "\uFFFD", false},
		{"invalid UTF-8 replaced", "{\"event\":\"e\",\"token\":\"t\",\"distinct_id\":\"a\xffb\"}", "a\uFFFDb", false},
		{"lone surrogate replaced", `{"event":"e","token":"t","distinct_id":"a\ud800b"}`, "a\uFFFDb", false},
		{"surrogate pair", `{"event":"e","token":"t","distinct_id":"\ud83d\ude00"}`, "😀", false},
		{"200 characters kept", `{"event":"e","token":"t","distinct_id":"` + strings.Repeat("a", 200) + `"}`, strings.Repeat("a", 200), false},
		{"201 characters cut", `{"event":"e","token":"t","distinct_id":"` + strings.Repeat("a", 201) + `"}`, strings.Repeat("a", 200), true},
		{"counted in characters not bytes", `{"event":"e","token":"t","distinct_id":"` + strings.Repeat("é", 150) + `"}`, strings.Repeat("é", 150), false},
		{"multibyte cut on a character boundary", `{"event":"e","token":"t","distinct_id":"` + strings.Repeat("😀", 250) + `"}`, strings.Repeat("😀", 200), true},
		{"cut after leading space", `{"event":"e","token":"t","distinct_id":"` + strings.Repeat(" ", 199) + `xy"}`, strings.Repeat(" ", 199) + "x", true},
		{"long number cut", `{"event":"e","token":"t","distinct_id":` + strings.Repeat("9", 250) + `}`, strings.Repeat("9", 200), true},
		{"envelope distinct_id wins", `{"token":"t","distinct_id":"outer","data":"{\"event\":\"e\",\"distinct_id\":\"inner\"}"}`, "outer", false},
		{"envelope null distinct_id does not win", `{"token":"t","distinct_id":null,"data":"{\"event\":\"e\",\"distinct_id\":\"inner\"}"}`, "inner", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustDecode(t, tt.in)
			assert.Equal(t, tt.want, e.DistinctID)
			if tt.truncated {
				assert.Equal(t, []string{WarnDistinctIDTruncated}, warningTypes(e))
			} else {
				assert.Empty(t, e.Warnings)
			}
		})
	}
}

func TestInvalidDistinctID(t *testing.T) {
	for _, in := range []string{
		`{"event":"e","token":"t"}`,
		`{"event":"e","token":"t","distinct_id":null}`,
		`{"event":"e","token":"t","distinct_id":null,"$distinct_id":null,"properties":{"distinct_id":null}}`,
		`{"event":"e","token":"t","distinct_id":""}`,
		`{"event":"e","token":"t","distinct_id":"   "}`,
		`{"event":"e","token":"t","distinct_id":"\t\n\r"}`,
		`{"event":"e","token":"t","distinct_id":"\u00a0\u2003"}`,
		`{"event":"e","token":"t","distinct_id":{}}`,
		`{"event":"e","token":"t","distinct_id":{"id":"x"}}`,
		`{"event":"e","token":"t","distinct_id":[]}`,
		`{"event":"e","token":"t","distinct_id":["x"]}`,
		`{"event":"e","token":"t","distinct_id":true}`,
		`{"event":"e","token":"t","distinct_id":false}`,
		// An unusable top-level id is rejected, not passed over.
		`{"event":"e","token":"t","distinct_id":"","properties":{"distinct_id":"c"}}`,
		// Regression: 200 spaces then a letter was cut to 200 spaces, a
		// blank distinct_id the rules reject (and unionfind refuses).
		`{"event":"e","token":"t","distinct_id":"` + strings.Repeat(" ", 200) + `x"}`,
		`{"event":"e","token":"t","distinct_id":"` + strings.Repeat("\u2003", 200) + `x"}`,
	} {
		_, err := decode(t, in)
		reason, _ := ReasonOf(err)
		assert.Equal(t, ReasonInvalidDistinctID, reason, in)
	}
}

func TestUUID(t *testing.T) {
	const id = "01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c"
	tests := []struct {
		name, in, want string
	}{
		{"given", ev(`"uuid":"` + id + `"`), id},
		{"upper case", ev(`"uuid":"` + strings.ToUpper(id) + `"`), id},
		{"braces", ev(`"uuid":"{` + id + `}"`), id},
		{"urn", ev(`"uuid":"urn:uuid:` + id + `"`), id},
		{"escaped", ev(`"uuid":"01935a2e\u002d7c1f-7a3b-9c55-2f1d3e4a5b6c"`), id},
		{"envelope wins", `{"uuid":"` + id + `","token":"t","data":"{\"event\":\"e\",\"distinct_id\":\"d\",\"uuid\":\"00000000-0000-0000-0000-000000000001\"}"}`, id},
		// Pinned: DeriveUUID must not change, or replays get new uuids.
		{"absent: derived", ev(""), "11055b40-56ba-584b-9e57-932b80701889"},
		{"null: derived", ev(`"uuid":null`), "11055b40-56ba-584b-9e57-932b80701889"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, mustDecode(t, tt.in).UUID.String())
		})
	}
}

func TestDeriveUUID(t *testing.T) {
	a := DeriveUUID(Source{Topic: "events_raw", Partition: 3, Offset: 7})
	assert.Equal(t, a, DeriveUUID(Source{Topic: "events_raw", Partition: 3, Offset: 7, Timestamp: testNow}), "the record time is not part of it")
	assert.Equal(t, uuid.NewSHA1(EventNamespace, []byte("events_raw:3:7")), a)
	assert.Equal(t, uuid.Version(5), a.Version())
	assert.NotEqual(t, a, DeriveUUID(Source{Topic: "events_raw", Partition: 3, Offset: 8}))
	assert.NotEqual(t, a, DeriveUUID(Source{Topic: "events_raw", Partition: 4, Offset: 7}))
	assert.NotEqual(t, a, DeriveUUID(Source{Topic: "other", Partition: 3, Offset: 7}))
	assert.Equal(t, "88ba5f13-6297-5e79-bfc1-53921210f06d", EventNamespace.String())
}

func TestInvalidUUID(t *testing.T) {
	for _, in := range []string{
		ev(`"uuid":""`),
		ev(`"uuid":"nope"`),
		ev(`"uuid":"01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6"`),
		ev(`"uuid":"01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6cc"`),
		ev(`"uuid":123`),
		ev(`"uuid":{}`),
		ev(`"uuid":true`),
	} {
		_, err := decode(t, in)
		reason, _ := ReasonOf(err)
		assert.Equal(t, ReasonInvalidUUID, reason, in)
	}
}

func TestEventName(t *testing.T) {
	assert.Equal(t, "$pageview", mustDecode(t, `{"event":"$pageview","distinct_id":"d","token":"t"}`).Name)
	assert.Equal(t, " ", mustDecode(t, `{"event":" ","distinct_id":"d","token":"t"}`).Name, "non-empty is enough")
	for _, in := range []string{
		`{"distinct_id":"d","token":"t"}`,
		`{"event":"","distinct_id":"d","token":"t"}`,
		`{"event":null,"distinct_id":"d","token":"t"}`,
		`{"event":5,"distinct_id":"d","token":"t"}`,
		`{"event":["e"],"distinct_id":"d","token":"t"}`,
	} {
		_, err := decode(t, in)
		reason, _ := ReasonOf(err)
		assert.Equal(t, ReasonInvalidEventName, reason, in)
	}
}

func TestTimestamp(t *testing.T) {
	at := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return ts.UTC()
	}
	env := func(outer, inner string) string {
		b, _ := json.Marshal(`{"event":"e","distinct_id":"d"` + inner + `}`)
		return `{"token":"t"` + outer + `,"data":` + string(b) + `}`
	}
	tests := []struct {
		name, in string
		want     time.Time
		warnings []string
	}{
		{"as given", ev(`"timestamp":"2026-11-28T09:15:02.114Z"`), at("2026-11-28T09:15:02.114Z"), nil},
		{"offset converted to UTC", ev(`"timestamp":"2026-11-28T10:15:02+01:00"`), at("2026-11-28T09:15:02Z"), nil},
		{"negative offset", ev(`"timestamp":"2026-11-28T04:15:02.5-05:30"`), at("2026-11-28T09:45:02.5Z"), nil},
		{"lower case t and z", ev(`"timestamp":"2026-11-28t09:15:02z"`), at("2026-11-28T09:15:02Z"), nil},
		{"nanoseconds", ev(`"timestamp":"2026-11-28T09:15:02.123456789Z"`), at("2026-11-28T09:15:02.123456789Z"), nil},
		{"beyond nanoseconds truncated", ev(`"timestamp":"2026-11-28T09:15:02.1234567899Z"`), at("2026-11-28T09:15:02.123456789Z"), nil},
		{"skew corrected with sent_at and now", env(`,"now":"2026-11-28T09:17:07.500Z","sent_at":"2026-11-28T09:17:06.000Z"`, `,"timestamp":"2026-11-28T09:17:05.000Z"`), at("2026-11-28T09:17:06.500Z"), nil},
		{"envelope sent_at wins over the event's", env(`,"now":"2026-11-28T09:17:07Z","sent_at":"2026-11-28T09:17:06Z"`, `,"timestamp":"2026-11-28T09:17:05Z","sent_at":"2026-11-28T09:00:00Z"`), at("2026-11-28T09:17:06Z"), nil},
		{"sent_at in the event, now in the envelope", env(`,"now":"2026-11-28T09:17:07Z"`, `,"timestamp":"2026-11-28T09:17:05Z","sent_at":"2026-11-28T09:17:06Z"`), at("2026-11-28T09:17:06Z"), nil},
		{"sent_at without now: as given", ev(`"timestamp":"2026-11-28T09:17:05Z","sent_at":"2026-11-28T09:17:06Z"`), at("2026-11-28T09:17:05Z"), nil},
		{"offset with now", env(`,"now":"2026-11-28T09:17:07Z"`, `,"offset":1500`), at("2026-11-28T09:17:05.5Z"), nil},
		{"fractional offset", env(`,"now":"2026-11-28T09:17:07Z"`, `,"offset":0.5`), at("2026-11-28T09:17:06.9995Z"), nil},
		{"timestamp beats offset", env(`,"now":"2026-11-28T09:17:07Z"`, `,"offset":1500,"timestamp":"2026-11-28T09:00:00Z"`), at("2026-11-28T09:00:00Z"), nil},
		{"offset without now: record time", ev(`"offset":1500`), testRecord, nil},
		{"absent: now", env(`,"now":"2026-11-28T09:17:07Z"`, ``), at("2026-11-28T09:17:07Z"), nil},
		{"absent, no now: record time", ev(""), testRecord, nil},
		{"null: absent", ev(`"timestamp":null`), testRecord, nil},
		{"unparseable: warned, then now", env(`,"now":"2026-11-28T09:17:07Z"`, `,"timestamp":"yesterday"`), at("2026-11-28T09:17:07Z"), []string{WarnInvalidTimestamp}},
		{"unparseable: warned, then record time", ev(`"timestamp":"yesterday"`), testRecord, []string{WarnInvalidTimestamp}},
		{"unparseable: then offset", env(`,"now":"2026-11-28T09:17:07Z"`, `,"timestamp":"x","offset":1000`), at("2026-11-28T09:17:06Z"), []string{WarnInvalidTimestamp}},
		{"number is not RFC 3339", ev(`"timestamp":1764321302`), testRecord, []string{WarnInvalidTimestamp}},
		{"no time zone is not RFC 3339", ev(`"timestamp":"2026-11-28T09:15:02"`), testRecord, []string{WarnInvalidTimestamp}},
		{"date only is not RFC 3339", ev(`"timestamp":"2026-11-28"`), testRecord, []string{WarnInvalidTimestamp}},
		{"impossible date", ev(`"timestamp":"2026-02-30T00:00:00Z"`), testRecord, []string{WarnInvalidTimestamp}},
		{"leap day", ev(`"timestamp":"2024-02-29T00:00:00Z"`), at("2024-02-29T00:00:00Z"), nil},
		{"invalid sent_at ignored", env(`,"now":"2026-11-28T09:17:07Z","sent_at":"soon"`, `,"timestamp":"2026-11-28T09:17:05Z"`), at("2026-11-28T09:17:05Z"), []string{WarnInvalidTimestamp}},
		{"invalid now ignored", env(`,"now":"later","sent_at":"2026-11-28T09:17:06Z"`, `,"timestamp":"2026-11-28T09:17:05Z"`), at("2026-11-28T09:17:05Z"), []string{WarnInvalidTimestamp}},
		{"invalid offset ignored", env(`,"now":"2026-11-28T09:17:07Z"`, `,"offset":"1500"`), at("2026-11-28T09:17:07Z"), []string{WarnInvalidTimestamp}},
		{"23h ahead is kept", ev(`"timestamp":"2026-11-29T09:00:00Z"`), at("2026-11-29T09:00:00Z"), nil},
		{"over 23h ahead clamped", ev(`"timestamp":"2026-11-29T09:00:00.001Z"`), testNow, []string{WarnTimestampInFuture}},
		{"far future clamped", ev(`"timestamp":"9999-12-31T23:59:59Z"`), testNow, []string{WarnTimestampInFuture}},
		{"future after skew correction clamped", env(`,"now":"2026-11-30T00:00:00Z","sent_at":"2026-11-28T09:00:00Z"`, `,"timestamp":"2026-11-28T09:00:00Z"`), testNow, []string{WarnTimestampInFuture}},
		{"the past is kept", ev(`"timestamp":"1970-01-01T00:00:00Z"`), at("1970-01-01T00:00:00Z"), nil},
		{"year 0 minus an offset is out of range", ev(`"timestamp":"0000-01-01T00:00:00+01:00"`), testRecord, []string{WarnInvalidTimestamp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustDecode(t, tt.in)
			assert.True(t, tt.want.Equal(e.Timestamp), "want %s, got %s", tt.want, e.Timestamp)
			assert.Equal(t, time.UTC, e.Timestamp.Location())
			assert.Equal(t, tt.warnings, warningTypes(e))
		})
	}
}

func TestTimestampWithoutRecordTime(t *testing.T) {
	e, err := testDecoder().Decode([]byte(ev("")), Source{Topic: "events_raw"})
	require.NoError(t, err)
	assert.Equal(t, testNow, e.Timestamp, "no time at all: the processing time")
}

func TestSetMerge(t *testing.T) {
	tests := []struct {
		name, in          string
		set, setOnce      map[string]string // nil: want nil
		propSet, propOnce string            // "" : want absent
	}{
		{"top level only", ev(`"$set":{"a":1},"$set_once":{"b":2}`),
			map[string]string{"a": "1"}, map[string]string{"b": "2"}, `{"a":1}`, `{"b":2}`},
		{"properties only, passed through as written", ev(`"properties":{"$set":{"a": 1},"$set_once":{"b" : 2}}`),
			map[string]string{"a": "1"}, map[string]string{"b": "2"}, `{"a": 1}`, `{"b" : 2}`},
		{"top level wins a clash, order kept", ev(`"properties":{"$set":{"a":1,"b":2}},"$set":{"c":3,"a":4}`),
			map[string]string{"a": "4", "b": "2", "c": "3"}, nil, `{"a":4,"b":2,"c":3}`, ""},
		{"empty objects", ev(`"properties":{"$set":{}},"$set":{}`),
			map[string]string{}, nil, `{}`, ""},
		{"non-object top level ignored", ev(`"properties":{"$set":{"a":1}},"$set":"x","$set_once":null`),
			map[string]string{"a": "1"}, nil, `{"a":1}`, ""},
		{"non-object in properties left alone", ev(`"properties":{"$set":"x"}`),
			nil, nil, `"x"`, ""},
		{"non-object in properties replaced by a top-level object", ev(`"properties":{"$set":"x"},"$set":{"a":1}`),
			map[string]string{"a": "1"}, nil, `{"a":1}`, ""},
		{"none", ev(""), nil, nil, "", ""},
		{"escaped keys", ev(`"$set":{"\u0061":1}`), map[string]string{"a": "1"}, nil, `{"a":1}`, ""},
	}
	raw := func(m map[string]string) map[string]json.RawMessage {
		if m == nil {
			return nil
		}
		out := map[string]json.RawMessage{}
		for k, v := range m {
			out[k] = json.RawMessage(v)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustDecode(t, tt.in)
			assert.Equal(t, raw(tt.set), e.Set)
			assert.Equal(t, raw(tt.setOnce), e.SetOnce)
			for key, want := range map[string]string{"$set": tt.propSet, "$set_once": tt.propOnce} {
				got, ok := e.Properties[key]
				if want == "" {
					assert.False(t, ok, key)
				} else {
					assert.Equal(t, want, string(got), key)
				}
			}
		})
	}
}

func TestUnset(t *testing.T) {
	assert.Equal(t, []string{"a", "b"}, mustDecode(t, ev(`"properties":{"$unset":["a","b",1,null]}`)).Unset)
	assert.Equal(t, []string{"a", "b"}, mustDecode(t, ev(`"properties":{"$unset":{"b":1,"a":null}}`)).Unset)
	assert.Nil(t, mustDecode(t, ev(`"properties":{"$unset":"a"}`)).Unset)
	assert.Nil(t, mustDecode(t, ev("")).Unset)
	assert.Equal(t, `["a"]`, string(mustDecode(t, ev(`"properties":{"$unset":["a"]}`)).Properties["$unset"]))
}

func TestMode(t *testing.T) {
	tests := []struct {
		name, value string // value "" : key absent
		want        Mode
		warn        bool
	}{
		{"absent", "", Full, false},
		{"true", "true", Full, false},
		{"false", "false", Personless, false},
		{"string false", `"false"`, Full, true},
		{"null", "null", Full, true},
		{"zero", "0", Full, true},
		{"object", "{}", Full, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ev(`"properties":{"x":1}`)
			if tt.value != "" {
				in = ev(`"properties":{"x":1,"$process_person_profile":` + tt.value + `}`)
			}
			e := mustDecode(t, in)
			assert.Equal(t, tt.want, e.Mode)
			if tt.warn {
				assert.Equal(t, []string{WarnInvalidProcessPersonProfile}, warningTypes(e))
			} else {
				assert.Empty(t, e.Warnings)
			}
		})
	}
}

func TestPersonlessStripsPersonUpdates(t *testing.T) {
	e := mustDecode(t, ev(`"$set":{"a":1},"$set_once":{"b":1},"properties":{"$process_person_profile":false,"$set":{"c":1},"$set_once":{"d":1},"$unset":["e"],"x":1}`))
	assert.Equal(t, Personless, e.Mode)
	assert.Nil(t, e.Set)
	assert.Nil(t, e.SetOnce)
	assert.Nil(t, e.Unset)
	assert.Equal(t, map[string]json.RawMessage{"$process_person_profile": json.RawMessage("false"), "x": json.RawMessage("1")}, e.Properties)
}

func TestKind(t *testing.T) {
	tests := []struct {
		name, event, props string
		kind               Kind
		other              string
	}{
		{"identify", "$identify", `{"$anon_distinct_id":"anon"}`, Identify, "anon"},
		{"identify, null anon id", "$identify", `{"$anon_distinct_id":null}`, Identify, "null"},
		{"identify, numeric anon id", "$identify", `{"$anon_distinct_id":42}`, Identify, "42"},
		{"identify, boolean anon id", "$identify", `{"$anon_distinct_id":true}`, Identify, "true"},
		{"identify, empty anon id", "$identify", `{"$anon_distinct_id":""}`, Identify, ""},
		{"identify, object anon id", "$identify", `{"$anon_distinct_id":{"a":1}}`, Identify, "[object Object]"},
		{"identify, array anon id", "$identify", `{"$anon_distinct_id":["a"]}`, Identify, ""},
		{"identify, anon id kept raw", "$identify", `{"$anon_distinct_id":" a\u0000"}`, Identify, " a\x00"},
		{"identify without the key", "$identify", `{"alias":"x"}`, Ordinary, ""},
		{"alias", "$create_alias", `{"alias":"crm-1"}`, Alias, "crm-1"},
		{"alias, empty", "$create_alias", `{"alias":""}`, Ordinary, ""},
		{"alias, not a string", "$create_alias", `{"alias":5}`, Ordinary, ""},
		{"alias, whitespace is non-empty", "$create_alias", `{"alias":" "}`, Alias, " "},
		{"alias without the key", "$create_alias", `{"$anon_distinct_id":"x"}`, Ordinary, ""},
		{"merge dangerously", "$merge_dangerously", `{"alias":"other"}`, MergeDangerously, "other"},
		{"merge dangerously without the key", "$merge_dangerously", `{}`, Ordinary, ""},
		{"other events ignore the keys", "$pageview", `{"$anon_distinct_id":"a","alias":"b"}`, Ordinary, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustDecode(t, `{"event":"`+tt.event+`","distinct_id":"d","token":"t","properties":`+tt.props+`}`)
			assert.Equal(t, tt.kind, e.Kind)
			assert.Equal(t, tt.other, e.MergeOther)
		})
	}
}

func TestPersonlessIdentityEvents(t *testing.T) {
	for _, in := range []string{
		`{"event":"$identify","distinct_id":"d","token":"t","properties":{"$anon_distinct_id":"a","$process_person_profile":false}}`,
		`{"event":"$create_alias","distinct_id":"d","token":"t","properties":{"alias":"a","$process_person_profile":false}}`,
		`{"event":"$merge_dangerously","distinct_id":"d","token":"t","properties":{"alias":"a","$process_person_profile":false}}`,
	} {
		_, err := decode(t, in)
		reason, _ := ReasonOf(err)
		assert.Equal(t, ReasonIdentityWithoutPersonProcessing, reason, in)
	}
	// Without their merge key they are ordinary personless events.
	e := mustDecode(t, `{"event":"$identify","distinct_id":"d","token":"t","properties":{"$process_person_profile":false}}`)
	assert.Equal(t, Ordinary, e.Kind)
	assert.Equal(t, Personless, e.Mode)
}

func TestInvalidJSON(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	for _, in := range []string{
		``, ` `, `null`, `[]`, `"str"`, `42`, `true`,
		`{`, `{"event":"e"`, `{"event":"e",}`, `{"event" "e"}`, `{event:"e"}`, `{'event':'e'}`,
		`{"event":"e"} x`, `{"event":"e"}{}`, `{"a":NaN}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`, `{"a":1e}`,
		`{"a":tru}`, `{"a":nul}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}", `{"a":[1,]}`, `{"a":[1 2]}`, `{"a":{"b"}}`,
		"\xef\xbb\xbf{}",
		`{"a":` + deep + `}`,
		ev(`"properties":"x"`),
		ev(`"properties":[1]`),
		ev(`"properties":5`),
		`{"token":"t","data":"not json"}`,
		`{"token":"t","data":"[]"}`,
		`{"token":"t","data":""}`,
		`{"token":"t","data":"{\"event\":\"e\",\"distinct_id\":\"d\",\"properties\":1}"}`,
	} {
		_, err := decode(t, in)
		reason, _ := ReasonOf(err)
		assert.Equal(t, ReasonInvalidJSON, reason, "%q", in)
	}
	// Space around the object is fine, and so is deep nesting within the limit.
	mustDecode(t, " \n\t"+ev(`"x":`+strings.Repeat("[", 500)+strings.Repeat("]", 500))+"\r\n ")
}

func TestEventTooLarge(t *testing.T) {
	d := NewDecoder(Options{MaxEventBytes: 64, Now: func() time.Time { return testNow }})
	small := ev("")
	_, err := d.Decode([]byte(small), testSource)
	require.NoError(t, err)
	exact := ev(`"x":"` + strings.Repeat("a", 64-len(small)-7) + `"`)
	require.Len(t, exact, 64)
	_, err = d.Decode([]byte(exact), testSource)
	require.NoError(t, err, "exactly MaxEventBytes is accepted")
	_, err = d.Decode([]byte(exact+" "), testSource)
	reason, _ := ReasonOf(err)
	assert.Equal(t, ReasonEventTooLarge, reason)
	// Checked before parsing: a too-large non-JSON record is too large.
	_, err = d.Decode([]byte(strings.Repeat("x", 65)), testSource)
	assert.ErrorIs(t, err, ErrEventTooLarge)
	// The default is 1 MiB.
	assert.Equal(t, DefaultMaxEventBytes, NewDecoder(Options{}).maxBytes)
	big := ev(`"x":"` + strings.Repeat("a", DefaultMaxEventBytes) + `"`)
	_, err = NewDecoder(Options{}).Decode([]byte(big), testSource)
	assert.ErrorIs(t, err, ErrEventTooLarge)
}

// TestCheckOrder pins the order of the checks when a record fails several.
func TestCheckOrder(t *testing.T) {
	d := NewDecoder(Options{MaxEventBytes: 200, Now: func() time.Time { return testNow }})
	tests := []struct {
		in   string
		want Reason
	}{
		{`{"x":"` + strings.Repeat("a", 200) + `"`, ReasonEventTooLarge},
		{`{"event":"","uuid":"x","distinct_id":"","properties":"x"}`, ReasonInvalidJSON},
		{`{"event":"","uuid":"x","distinct_id":""}`, ReasonMissingTeam},
		{`{"event":"","uuid":"x","distinct_id":"","token":"t"}`, ReasonInvalidDistinctID},
		{`{"event":"","uuid":"x","distinct_id":"d","token":"t"}`, ReasonInvalidUUID},
		{`{"event":"","distinct_id":"d","token":"t","properties":{"$process_person_profile":false}}`, ReasonInvalidEventName},
		{`{"event":"$identify","distinct_id":"d","token":"t","properties":{"$anon_distinct_id":"a","$process_person_profile":false}}`, ReasonIdentityWithoutPersonProcessing},
	}
	for _, tt := range tests {
		_, err := d.Decode([]byte(tt.in), testSource)
		reason, ok := ReasonOf(err)
		assert.True(t, ok)
		assert.Equal(t, tt.want, reason, tt.in)
	}
}

func TestRejection(t *testing.T) {
	_, err := decode(t, `{"event":"e","distinct_id":"d"}`)
	require.Error(t, err)
	var r *Rejection
	require.ErrorAs(t, err, &r)
	assert.Equal(t, ReasonMissingTeam, r.Reason)
	assert.True(t, strings.HasPrefix(err.Error(), "event: missing_team: "), err.Error())
	assert.ErrorIs(t, err, ErrMissingTeam)
	assert.NotErrorIs(t, err, ErrInvalidJSON)

	wrapped := errors.Join(errors.New("context"), err)
	reason, ok := ReasonOf(wrapped)
	assert.True(t, ok)
	assert.Equal(t, ReasonMissingTeam, reason)
	_, ok = ReasonOf(errors.New("other"))
	assert.False(t, ok)
	_, ok = ReasonOf(nil)
	assert.False(t, ok)

	assert.Equal(t, "event: invalid_json", (&Rejection{Reason: ReasonInvalidJSON}).Error())
	assert.Len(t, Reasons, 9)
}

func TestAcceptedReturnsNilError(t *testing.T) {
	e, err := decode(t, ev(""))
	assert.NoError(t, err)
	assert.Nil(t, err, "not a typed nil")
	assert.NotNil(t, e)
}

func TestEnvelope(t *testing.T) {
	in := `{"uuid":"01935a2f-2222-7a3b-9c55-2f1d3e4a5b6f","distinct_id":"outer","ip":"203.0.113.7","token":"phc","now":"2026-11-28T09:17:07Z","sent_at":null,"extra":1,` +
		`"data":"{\"event\":\"$pageview\",\"distinct_id\":\"inner\",\"uuid\":\"00000000-0000-0000-0000-000000000001\",\"extra\":0,\"data\":{\"x\":1},\"sent_at\":\"2026-11-28T09:17:06Z\",\"timestamp\":\"2026-11-28T09:17:05Z\",\"properties\":{\"a\":1}}"}`
	e := mustDecode(t, in)
	assert.Equal(t, "outer", e.DistinctID)
	assert.Equal(t, "01935a2f-2222-7a3b-9c55-2f1d3e4a5b6f", e.UUID.String())
	assert.Equal(t, "phc", e.Team)
	assert.Equal(t, "$pageview", e.Name)
	assert.Equal(t, time.Date(2026, 11, 28, 9, 17, 6, 0, time.UTC), e.Timestamp, "null envelope sent_at leaves the event's")
	assert.Equal(t, map[string]json.RawMessage{"a": json.RawMessage("1")}, e.Properties)
	var keys []string
	for _, x := range e.extras {
		keys = append(keys, x.key+"="+string(x.raw))
	}
	assert.Equal(t, []string{`extra=1`, `data={"x":1}`, `ip="203.0.113.7"`, `token="phc"`}, keys)
}

func TestNonStringDataIsNotAnEnvelope(t *testing.T) {
	e := mustDecode(t, ev(`"data":{"event":"x"}`))
	assert.Equal(t, "e", e.Name)
	require.Len(t, e.extras, 2)
	assert.Equal(t, extra{key: "data", raw: json.RawMessage(`{"event":"x"}`)}, e.extras[1])
}

func TestDuplicateKeysLastWins(t *testing.T) {
	e := mustDecode(t, `{"event":"a","event":"b","distinct_id":"d","token":"t","x":1,"x":2,"properties":{"p":1,"q":2,"p":3}}`)
	assert.Equal(t, "b", e.Name)
	assert.Equal(t, []extra{{key: "token", raw: json.RawMessage(`"t"`)}, {key: "x", raw: json.RawMessage("2")}}, e.extras)
	assert.Equal(t, map[string]json.RawMessage{"p": json.RawMessage("3"), "q": json.RawMessage("2")}, e.Properties)
	assert.Equal(t, []string{"p", "q"}, orderKeys(e))

	e = mustDecode(t, ev(`"properties":{"p":1},"properties":{"q":2}`))
	assert.Equal(t, map[string]json.RawMessage{"q": json.RawMessage("2")}, e.Properties)
}

func TestDecodeDoesNotRetainInput(t *testing.T) {
	in := []byte(ev(`"properties":{"k":"value"}`))
	e, err := testDecoder().Decode(in, testSource)
	require.NoError(t, err)
	for i := range in {
		in[i] = 'X'
	}
	assert.Equal(t, `"value"`, string(e.Properties["k"]))
	assert.Equal(t, "d", e.DistinctID)
	assert.Equal(t, []string{"k"}, orderKeys(e))
}

func TestDefaultNow(t *testing.T) {
	before := time.Now().UTC()
	e, err := NewDecoder(Options{}).Decode([]byte(ev(`"timestamp":"2999-01-01T00:00:00Z"`)), Source{})
	require.NoError(t, err)
	assert.False(t, e.Timestamp.Before(before.Truncate(time.Second)))
	assert.Equal(t, []string{WarnTimestampInFuture}, warningTypes(e))
}

func TestKindAndModeStrings(t *testing.T) {
	assert.Equal(t, "ordinary", Ordinary.String())
	assert.Equal(t, "identify", Identify.String())
	assert.Equal(t, "alias", Alias.String())
	assert.Equal(t, "merge_dangerously", MergeDangerously.String())
	assert.Equal(t, "kind(9)", Kind(9).String())
	assert.Equal(t, "full", Full.String())
	assert.Equal(t, "personless", Personless.String())
	assert.Equal(t, "mode(7)", Mode(7).String())
}

// TestRawMessagesAreCapacityLimited: appending to a property value must
// not write into the shared copy of the record (the next property, keys).
func TestRawMessagesAreCapacityLimited(t *testing.T) {
	e := mustDecode(t, ev(`"properties":{"a":1,"b":2}`))
	grown := append(e.Properties["a"], `999,"b":3`...)
	assert.Equal(t, `1999,"b":3`, string(grown))
	assert.Equal(t, "1", string(e.Properties["a"]))
	assert.Equal(t, "2", string(e.Properties["b"]))
	assert.Contains(t, string(e.AppendStamped(nil, implicitStamp)), `"properties":{"a":1,"b":2}`)
}
