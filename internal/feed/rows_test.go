package feed

import (
	"encoding/json"
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
