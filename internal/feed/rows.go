package feed

import (
	"encoding/json"
	"time"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TimeFormat is how every time in the resolver's outputs is written:
// RFC 3339, UTC, milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// FormatMillis writes Unix milliseconds in TimeFormat.
func FormatMillis(ms int64) string { return time.UnixMilli(ms).UTC().Format(TimeFormat) }

// PersonRow is the value of a persons record (docs/SEMANTICS.md §6): a
// ClickHouse ReplacingMergeTree keeps the highest version per (team, id).
type PersonRow struct {
	Team         string          `json:"team"`
	ID           string          `json:"id"`
	CreatedAt    string          `json:"created_at"`
	Properties   json.RawMessage `json:"properties"`
	IsIdentified bool            `json:"is_identified"`
	IsDeleted    bool            `json:"is_deleted"`
	Version      uint64          `json:"version"`
}

// DistinctIDRow is the value of a person_distinct_ids record.
type DistinctIDRow struct {
	Team       string `json:"team"`
	DistinctID string `json:"distinct_id"`
	PersonID   string `json:"person_id"`
	Version    uint64 `json:"version"`
	IsDeleted  bool   `json:"is_deleted"`
}

// WarningRow is the value of an ingestion_warnings record.
type WarningRow struct {
	Team       string `json:"team"`
	Type       string `json:"type"`
	EventUUID  string `json:"event_uuid"`
	DistinctID string `json:"distinct_id"`
	Details    string `json:"details"`
	Timestamp  string `json:"timestamp"`
}

// FromPerson is the row of a person the graph changed.
func FromPerson(r *unionfind.PersonRow) PersonRow {
	return PersonRow{
		Team:         r.Team,
		ID:           r.Person.ID.String(),
		CreatedAt:    FormatMillis(r.Person.CreatedAt),
		Properties:   r.Person.AppendPropertiesJSON(nil),
		IsIdentified: r.Person.Identified,
		IsDeleted:    r.Person.Deleted,
		Version:      r.Person.Version,
	}
}

// FromDistinctID is the row of a distinct_id the graph changed.
func FromDistinctID(r *unionfind.DistinctIDRow) DistinctIDRow {
	return DistinctIDRow{Team: r.Team, DistinctID: r.DistinctID, PersonID: r.PersonID.String(), Version: r.Version, IsDeleted: r.Deleted}
}

// FromWarning is the row of a warning the graph raised.
func FromWarning(w *unionfind.Warning) WarningRow {
	return WarningRow{Team: w.Team, Type: w.Type, EventUUID: w.EventUUID, DistinctID: w.DistinctID, Details: w.Details, Timestamp: FormatMillis(w.Timestamp)}
}
