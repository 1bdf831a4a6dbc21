package warehouse

import (
	"encoding/json"

	"github.com/resolver-dev/resolver/internal/feed"
)

// Person is a row of the persons topic and of the persons table
// (docs/SEMANTICS.md §6): the format package feed defines and the resolver writes.
type Person = feed.PersonRow

// DistinctID is a row of the person_distinct_ids topic and table.
type DistinctID = feed.DistinctIDRow

// Event is a person-stamped event as the events table stores it: the
// members of an events_person record that are columns. The record's other
// members (the input's token, team_id, ip, …) are not stored.
type Event struct {
	UUID             string          `json:"uuid"`
	Event            string          `json:"event"`
	DistinctID       string          `json:"distinct_id"`
	Team             string          `json:"team"`
	Timestamp        string          `json:"timestamp"`
	Properties       json.RawMessage `json:"properties"`
	PersonID         string          `json:"person_id"`
	PersonCreatedAt  string          `json:"person_created_at"`
	PersonProperties json.RawMessage `json:"person_properties"`
	PersonMode       string          `json:"person_mode"`
	BillingClass     string          `json:"billing_class"`
}
