package event

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCaptureSample decodes every line of testdata/capture-sample.jsonl (a
// copy of shared/testdata/capture-sample.jsonl).
func TestCaptureSample(t *testing.T) {
	lines := sampleLines(t)
	require.Len(t, lines, 4)
	type want struct {
		uuid, name, distinctID, team string
		timestamp                    time.Time
		kind                         Kind
		mode                         Mode
		other                        string
		set, setOnce                 map[string]json.RawMessage
		propertyKeys                 []string
	}
	wants := []want{
		{ // posthog-js $pageview, personless, token and distinct_id in properties
			uuid: "01935a2e-7c1f-7a3b-9c55-2f1d3e4a5b6c", name: "$pageview",
			distinctID: "01935a2e-6a00-7000-8000-000000000d01", team: "phc_demo_project_token",
			timestamp: time.Date(2026, 11, 28, 9, 15, 2, 114_000_000, time.UTC),
			kind:      Ordinary, mode: Personless,
			propertyKeys: []string{"$os", "$browser", "$browser_version", "$device_type", "$current_url", "$host", "$pathname",
				"$lib", "$lib_version", "$session_id", "$window_id", "$device_id", "distinct_id", "token", "$process_person_profile", "$referrer"},
		},
		{ // $identify with top-level $set / $set_once
			uuid: "01935a2f-0000-7a3b-9c55-2f1d3e4a5b6d", name: "$identify",
			distinctID: "user_8841", team: "phc_demo_project_token",
			timestamp: time.Date(2026, 11, 28, 9, 16, 40, 2_000_000, time.UTC),
			kind:      Identify, mode: Full, other: "01935a2e-6a00-7000-8000-000000000d01",
			set:          map[string]json.RawMessage{"email": json.RawMessage(`"ana@example.com"`), "plan": json.RawMessage(`"pro"`)},
			setOnce:      map[string]json.RawMessage{"first_seen_plan": json.RawMessage(`"pro"`)},
			propertyKeys: []string{"$lib", "$lib_version", "distinct_id", "token", "$anon_distinct_id", "$device_id", "$session_id", "$set", "$set_once"},
		},
		{ // server-side event with top-level distinct_id and token
			uuid: "01935a2f-1111-7a3b-9c55-2f1d3e4a5b6e", name: "checkout_started",
			distinctID: "user_8841", team: "phc_demo_project_token",
			timestamp: time.Date(2026, 11, 28, 9, 17, 0, 0, time.UTC),
			kind:      Ordinary, mode: Full,
			set:          map[string]json.RawMessage{"last_cart_value": json.RawMessage(`129.5`)},
			propertyKeys: []string{"cart_value", "$set"},
		},
		{ // capture envelope: $create_alias in data, clock skew corrected
			uuid: "01935a2f-2222-7a3b-9c55-2f1d3e4a5b6f", name: "$create_alias",
			distinctID: "user_8841", team: "phc_demo_project_token",
			// now + (timestamp − sent_at) = 09:17:07.5 + (09:17:05 − 09:17:06)
			timestamp: time.Date(2026, 11, 28, 9, 17, 6, 500_000_000, time.UTC),
			kind:      Alias, mode: Full, other: "crm-000193",
			propertyKeys: []string{"alias", "distinct_id", "$lib"},
		},
	}
	for i, line := range lines {
		w := wants[i]
		e, err := testDecoder().Decode(line, Source{Topic: "events_raw", Partition: 0, Offset: int64(i)})
		require.NoError(t, err, "line %d", i+1)
		assert.Equal(t, w.uuid, e.UUID.String(), "line %d", i+1)
		assert.Equal(t, w.name, e.Name, "line %d", i+1)
		assert.Equal(t, w.distinctID, e.DistinctID, "line %d", i+1)
		assert.Equal(t, w.team, e.Team, "line %d", i+1)
		assert.Equal(t, w.timestamp, e.Timestamp, "line %d", i+1)
		assert.Equal(t, w.kind, e.Kind, "line %d", i+1)
		assert.Equal(t, w.mode, e.Mode, "line %d", i+1)
		assert.Equal(t, w.other, e.MergeOther, "line %d", i+1)
		assert.Equal(t, w.set, e.Set, "line %d", i+1)
		assert.Equal(t, w.setOnce, e.SetOnce, "line %d", i+1)
		assert.Nil(t, e.Unset, "line %d", i+1)
		assert.Empty(t, e.Warnings, "line %d", i+1)
		assert.Equal(t, w.propertyKeys, orderKeys(e), "line %d", i+1)
		assert.Len(t, e.Properties, len(w.propertyKeys), "line %d", i+1)
		out := e.AppendStamped(nil, implicitStamp)
		assert.True(t, json.Valid(out), "line %d: %s", i+1, out)
	}
}
