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

// Merge is a row of the person_merges topic and table (docs/SEMANTICS.md
// §8): one lineage record, or one part of a record that moved more than
// feed.MergeIDsPerRow ids.
type Merge = feed.MergeRow

// MergeEvent is a row of the view person_merge_events
// (configs/clickhouse/08_person_merge_events.sql): an event of a
// distinct_id one lineage record moved, with the person the event was
// stamped with and the record's persons. The JSON names are the view's
// columns.
type MergeEvent struct {
	Team             string `json:"team"`
	LogPartition     int32  `json:"log_partition"`
	LogOffset        int64  `json:"log_offset"`
	Rule             string `json:"rule"`
	SurvivorPersonID string `json:"survivor_person_id"` // "" for a deletion
	AbsorbedPersonID string `json:"absorbed_person_id"`
	DistinctID       string `json:"distinct_id"`
	UUID             string `json:"uuid"`
	Event            string `json:"event"`
	Timestamp        string `json:"timestamp"`
	StampedPersonID  string `json:"stamped_person_id"`
}
