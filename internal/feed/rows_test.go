package feed

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestRowsJSON pins the column names and formats of the feeds: a warehouse
// table reads exactly these fields.
func TestRowsJSON(t *testing.T) {
	id := unionfind.ImplicitPersonID("1", "test")
	p := FromPerson(&unionfind.PersonRow{Team: "1", Person: unionfind.Person{
		ID: id, CreatedAt: 1764324000123, Identified: true, Version: 3,
		Props: []unionfind.Property{{Key: "email", Value: json.RawMessage(`"a@b.c"`), Time: 1}},
	}})
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, `{"team":"1","id":"246f7a43-5507-564f-b687-793ee3c2dd79","created_at":"2025-11-28T10:00:00.123Z",
		"properties":{"email":"a@b.c"},"is_identified":true,"is_deleted":false,"version":3}`, string(b))

	d, err := json.Marshal(FromDistinctID(&unionfind.DistinctIDRow{Team: "1", DistinctID: "test", PersonID: id, Version: 1, Deleted: true}))
	require.NoError(t, err)
	assert.JSONEq(t, `{"team":"1","distinct_id":"test","person_id":"246f7a43-5507-564f-b687-793ee3c2dd79","version":1,"is_deleted":true}`, string(d))

	w, err := json.Marshal(FromWarning(&unionfind.Warning{Team: "1", Type: unionfind.WarnAlreadyIdentified, EventUUID: "u", DistinctID: "x", Details: "{}", Timestamp: 0}))
	require.NoError(t, err)
	assert.JSONEq(t, `{"team":"1","type":"cannot_merge_already_identified","event_uuid":"u","distinct_id":"x","details":"{}","timestamp":"1970-01-01T00:00:00.000Z"}`, string(w))
}

func TestFromMerge(t *testing.T) {
	surv := unionfind.ImplicitPersonID("t", "u")
	r := unionfind.MergeRow{Team: "t", Survivor: surv, Absorbed: unionfind.ImplicitPersonID("t", "a"), Moved: []string{"a"},
		Rule: unionfind.RuleIdentify, Other: "a", Into: "u", EventUUID: "e", Timestamp: 1000,
		Source: unionfind.Source{Topic: "events_raw", Partition: 2, Offset: 9}, Log: unionfind.LogPos{Partition: 1, Offset: 4, Time: 2000}}
	rows := FromMerge(&r)
	if len(rows) != 1 {
		t.Fatalf("rows %d", len(rows))
	}
	b, err := json.Marshal(rows[0])
	if err != nil {
		t.Fatal(err)
	}
	want := `{"team":"t","survivor_person_id":"` + surv.String() + `","absorbed_person_id":"` + r.Absorbed.String() +
		`","distinct_ids_moved":["a"],"rule":"identify","refused":"","other_distinct_id":"a","distinct_id":"u","event_uuid":"e",` +
		`"event_timestamp":"1970-01-01T00:00:01.000Z","source_topic":"events_raw","source_partition":2,"source_offset":9,` +
		`"log_partition":1,"log_offset":4,"log_timestamp":"1970-01-01T00:00:02.000Z","part":1,"parts":1}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}

	// A refusal moves nothing: an empty list, not null; a deletion has no survivor.
	del := unionfind.MergeRow{Team: "t", Absorbed: surv, Rule: unionfind.RuleDelete, Refused: unionfind.RefuseUnknownDistinctID}
	b, _ = json.Marshal(FromMerge(&del)[0])
	for _, s := range []string{`"distinct_ids_moved":[]`, `"survivor_person_id":""`, `"rule":"delete"`, `"refused":"unknown_distinct_id"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s lacks %s", b, s)
		}
	}

	// A large merge is cut into parts that together hold every id once.
	big := r
	big.Moved = nil
	for i := range 2*MergeIDsPerRow + 1 {
		big.Moved = append(big.Moved, strings.Repeat("\x01", 200)+strconv.Itoa(i))
	}
	rows = FromMerge(&big)
	if len(rows) != 3 {
		t.Fatalf("parts %d", len(rows))
	}
	n := 0
	for i, row := range rows {
		if row.Part != i+1 || row.Parts != 3 {
			t.Fatalf("part %d/%d", row.Part, row.Parts)
		}
		n += len(row.DistinctIDsMoved)
		b, _ := json.Marshal(row)
		if len(b) > 300<<10 {
			t.Fatalf("part of %d bytes", len(b))
		}
	}
	if n != len(big.Moved) {
		t.Fatalf("ids %d of %d", n, len(big.Moved))
	}
}
