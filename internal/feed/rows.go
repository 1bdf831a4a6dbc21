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

// MergeIDsPerRow is the most distinct_ids one person_merges row carries: a
// merge that moved more is emitted as several rows (Part 1 … Parts), each
// well within the record bound (an id is at most 200 characters, at most
// 1,200 bytes as JSON).
const MergeIDsPerRow = 200

// MergeRow is the value of a person_merges record: one lineage record of
// docs/SEMANTICS.md §8 (or one part of it).
type MergeRow struct {
	Team             string   `json:"team"`
	SurvivorPersonID string   `json:"survivor_person_id"`
	AbsorbedPersonID string   `json:"absorbed_person_id"`
	DistinctIDsMoved []string `json:"distinct_ids_moved"`
	Rule             string   `json:"rule"`
	Refused          string   `json:"refused"`
	Other            string   `json:"other_distinct_id"`
	Into             string   `json:"distinct_id"`
	EventUUID        string   `json:"event_uuid"`
	EventTimestamp   string   `json:"event_timestamp"`
	SourceTopic      string   `json:"source_topic"`
	SourcePartition  int32    `json:"source_partition"`
	SourceOffset     int64    `json:"source_offset"`
	LogPartition     int32    `json:"log_partition"`
	LogOffset        int64    `json:"log_offset"`
	LogTimestamp     string   `json:"log_timestamp"`
	Part             int      `json:"part"`
	Parts            int      `json:"parts"`
}

// FromMerge is the rows of one lineage record: one, or one per
// MergeIDsPerRow moved ids. A zero person id (the survivor of a deletion,
// the persons of a refusal of an illegal id) is written "".
func FromMerge(r *unionfind.MergeRow) []MergeRow {
	row := MergeRow{
		Team:             r.Team,
		SurvivorPersonID: personString(r.Survivor),
		AbsorbedPersonID: personString(r.Absorbed),
		Rule:             r.Rule.String(),
		Refused:          r.Refused,
		Other:            r.Other,
		Into:             r.Into,
		EventUUID:        r.EventUUID,
		EventTimestamp:   FormatMillis(r.Timestamp),
		SourceTopic:      r.Source.Topic,
		SourcePartition:  r.Source.Partition,
		SourceOffset:     r.Source.Offset,
		LogPartition:     r.Log.Partition,
		LogOffset:        r.Log.Offset,
		LogTimestamp:     FormatMillis(r.Log.Time),
		Part:             1,
		Parts:            1,
		DistinctIDsMoved: []string{},
	}
	if len(r.Moved) <= MergeIDsPerRow {
		if len(r.Moved) > 0 {
			row.DistinctIDsMoved = r.Moved
		}
		return []MergeRow{row}
	}
	parts := (len(r.Moved) + MergeIDsPerRow - 1) / MergeIDsPerRow
	rows := make([]MergeRow, 0, parts)
	for i := 0; i < parts; i++ {
		part := row
		part.DistinctIDsMoved = r.Moved[i*MergeIDsPerRow : min((i+1)*MergeIDsPerRow, len(r.Moved))]
		part.Part, part.Parts = i+1, parts
		rows = append(rows, part)
	}
	return rows
}

func personString(id unionfind.PersonID) string {
	if id == (unionfind.PersonID{}) {
		return ""
	}
	return id.String()
}
