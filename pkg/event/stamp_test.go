package event

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

var implicitStamp = Stamp{
	PersonID:        uuid.MustParse("246f7a43-5507-564f-b687-793ee3c2dd79"),
	PersonCreatedAt: time.Unix(5, 0),
	PersonMode:      "propertyless",
	BillingClass:    "anonymous",
}

func TestAppendStamped(t *testing.T) {
	in := `{"uuid":"01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c","event":"$identify","distinct_id":23,"$distinct_id":"x","team_id":1,"token":"phc",` +
		`"timestamp":"2026-11-28T09:15:02.114Z","sent_at":"2026-11-28T09:15:03Z","offset":5,"team":"evil","person_id":"evil","billing_class":"evil",` +
		`"properties":{"$anon_distinct_id":"a","$set":{"a":1},"b":"\u00e9\n"},"$set":{"c":2},"$set_once":{"d":3},"custom":{"k":[1,2]}}`
	e := mustDecode(t, in)
	out := e.AppendStamped([]byte("prefix:"), Stamp{
		PersonID:         uuid.MustParse("246f7a43-5507-564f-b687-793ee3c2dd79"),
		PersonCreatedAt:  time.Date(2026, 11, 28, 9, 0, 0, 123_000_000, time.FixedZone("x", 3600)),
		PersonProperties: json.RawMessage(`{"a":1}`),
		PersonMode:       "full",
		BillingClass:     "identified",
	})
	want := `prefix:{"uuid":"01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c","event":"$identify","distinct_id":"23","team":"1",` +
		`"timestamp":"2026-11-28T09:15:02.114Z","properties":{"$anon_distinct_id":"a","$set":{"a":1,"c":2},"b":"\u00e9\n","$set_once":{"d":3}},` +
		`"team_id":1,"token":"phc","custom":{"k":[1,2]},` +
		`"person_id":"246f7a43-5507-564f-b687-793ee3c2dd79","person_created_at":"2026-11-28T08:00:00.123Z","person_properties":{"a":1},` +
		`"person_mode":"full","billing_class":"identified"}`
	assert.Equal(t, want, string(out))
	assert.True(t, json.Valid(out[len("prefix:"):]))
}

func TestAppendStampedPersonless(t *testing.T) {
	e := mustDecode(t, `{"event":"e","distinct_id":"d","token":"t","$set":{"a":1},"properties":{"$process_person_profile":false,"$set":{"b":1},"$unset":["c"],"x":1}}`)
	out := e.AppendStamped(nil, implicitStamp)
	assert.JSONEq(t, `{"uuid":"11055b40-56ba-584b-9e57-932b80701889","event":"e","distinct_id":"d","team":"t","timestamp":"2026-11-28T09:59:00Z",
		"properties":{"$process_person_profile":false,"x":1},"token":"t",
		"person_id":"246f7a43-5507-564f-b687-793ee3c2dd79","person_created_at":"1970-01-01T00:00:05Z","person_properties":{},
		"person_mode":"propertyless","billing_class":"anonymous"}`, string(out))
}

func TestAppendStampedEnvelope(t *testing.T) {
	lines := sampleLines(t)
	e := mustDecode(t, string(lines[3]))
	out := e.AppendStamped(nil, implicitStamp)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(out, &m))
	for _, gone := range []string{"data", "now", "sent_at"} {
		assert.NotContains(t, m, gone)
	}
	assert.Equal(t, `"203.0.113.7"`, string(m["ip"]))
	assert.Equal(t, `"2026-11-28T09:17:06.500Z"`, string(m["timestamp"]))
}

func TestAppendStampedReflectsPropertyChanges(t *testing.T) {
	e := mustDecode(t, ev(`"properties":{"a":1,"b":2,"c":3}`))
	delete(e.Properties, "b")
	e.Properties["a"] = json.RawMessage(`"changed"`)
	e.Properties["z"] = json.RawMessage(`true`)
	e.Properties["$ip"] = json.RawMessage(`"1.2.3.4"`)
	e.Properties["n"] = nil
	out := e.AppendStamped(nil, implicitStamp)
	assert.Contains(t, string(out), `"properties":{"a":"changed","c":3,"$ip":"1.2.3.4","n":null,"z":true}`)

	e.Properties = nil
	assert.Contains(t, string(e.AppendStamped(nil, implicitStamp)), `"properties":{}`)
}

func TestAppendStampedEscapes(t *testing.T) {
	e := mustDecode(t, `{"event":"a\"b","distinct_id":"\u2028\u0001\\","token":"t","properties":{"k\"ey":1}}`)
	out := e.AppendStamped(nil, implicitStamp)
	require.True(t, json.Valid(out), string(out))
	var m struct {
		Event      string          `json:"event"`
		DistinctID string          `json:"distinct_id"`
		Properties map[string]int  `json:"properties"`
		Person     json.RawMessage `json:"person_properties"`
	}
	require.NoError(t, json.Unmarshal(out, &m))
	assert.Equal(t, "a\"b", m.Event)
	assert.Equal(t, "\u2028\u0001\\", m.DistinctID)
	assert.Equal(t, map[string]int{"k\"ey": 1}, m.Properties)
	assert.Contains(t, string(out), `"distinct_id":"\u2028\u0001\\"`)
}

func TestAppendStampedRoundTrip(t *testing.T) {
	for i, line := range sampleLines(t) {
		e := mustDecode(t, string(line))
		out := e.AppendStamped(nil, implicitStamp)
		again := mustDecode(t, string(out))
		assert.Equal(t, e.Team, again.Team, "line %d", i+1)
		assert.Equal(t, e.DistinctID, again.DistinctID, "line %d", i+1)
		assert.Equal(t, e.UUID, again.UUID, "line %d", i+1)
		assert.Equal(t, e.Name, again.Name, "line %d", i+1)
		assert.Equal(t, e.Timestamp, again.Timestamp, "line %d", i+1)
		assert.Equal(t, e.Kind, again.Kind, "line %d", i+1)
		assert.Equal(t, e.Mode, again.Mode, "line %d", i+1)
		assert.Equal(t, e.Set, again.Set, "line %d", i+1)
		assert.Equal(t, e.Properties, again.Properties, "line %d", i+1)
	}
}

// TestParseRFC3339ReadsAppendTime: the times stamped events carry
// (jsonlit.AppendTime) parse back as the same instant, whatever the
// fraction's width.
func TestParseRFC3339ReadsAppendTime(t *testing.T) {
	for _, in := range []time.Time{
		time.Unix(5, 0),
		time.Date(2026, 11, 28, 9, 15, 2, 114_000_000, time.UTC),
		time.Date(2026, 11, 28, 9, 15, 2, 114_500_000, time.UTC),
		time.Date(2026, 11, 28, 9, 15, 2, 1, time.UTC),
		time.Date(2026, 11, 28, 10, 15, 2, 0, time.FixedZone("CET", 3600)),
		time.Time{},
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		minTime, maxTime,
	} {
		s := jsonlit.AppendTime(nil, in)
		parsed, ok := parseRFC3339(s)
		require.True(t, ok, "%s", s)
		assert.True(t, parsed.Equal(in), "%s parses as %v, want %v", s, parsed, in)
	}
}

// TestAppendStampedKeyOrder pins the property order for keys that are not
// their own text in the input (escapes, invalid UTF-8) and for repeats.
func TestAppendStampedKeyOrder(t *testing.T) {
	in := "{\"event\":\"e\",\"distinct_id\":\"d\",\"token\":\"t\",\"properties\":{\"z\":1,\"\\u0061\":2,\"\xff\":3,\"é\":4,\"z\":5,\"\\u0061\":6,\"m\":7}}"
	e := mustDecode(t, in)
	assert.Equal(t, []string{"z", "a", "\uFFFD", "é", "m"}, orderKeys(e))
	out := e.AppendStamped(nil, implicitStamp)
	assert.Contains(t, string(out), `"properties":{"z":5,"a":6,"`+"\uFFFD"+`":3,"é":4,"m":7}`)
}

// TestAppendStampedHandBuiltEvent: an Event built by hand (as other
// packages' tests do) encodes too, its properties sorted by key.
func TestAppendStampedHandBuiltEvent(t *testing.T) {
	e := &Event{
		Team: "1", DistinctID: "d", Name: "e",
		UUID:       uuid.MustParse("01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c"),
		Timestamp:  time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC),
		Properties: map[string]json.RawMessage{"b": json.RawMessage("2"), "a": json.RawMessage(`"x"`)},
	}
	out := e.AppendStamped(nil, implicitStamp)
	assert.Equal(t, `{"uuid":"01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c","event":"e","distinct_id":"d","team":"1","timestamp":"2026-11-28T09:00:00Z",`+
		`"properties":{"a":"x","b":2},"person_id":"246f7a43-5507-564f-b687-793ee3c2dd79","person_created_at":"1970-01-01T00:00:05Z",`+
		`"person_properties":{},"person_mode":"propertyless","billing_class":"anonymous"}`, string(out))
	assert.Contains(t, string((&Event{}).AppendStamped(nil, Stamp{})), `"properties":{}`)
	assert.True(t, json.Valid((&Event{}).AppendStamped(nil, Stamp{})))
}
