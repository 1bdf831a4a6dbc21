package stream

import "github.com/resolver-dev/resolver/internal/feed"

// The feed rows the pipeline writes, as JSON whose field names are the
// warehouse tables' columns (docs/SEMANTICS.md §6): the value of a persons,
// person_distinct_ids or ingestion_warnings record unmarshals into one of
// these. They are defined in the module's internal/feed, which package
// warehouse's model shares; these aliases are their public names.
//
//	PersonRow      {team, id, created_at, properties, is_identified, is_deleted, version}
//	DistinctIDRow  {team, distinct_id, person_id, version, is_deleted}
//	WarningRow     {team, type, event_uuid, distinct_id, details, timestamp}
type (
	PersonRow     = feed.PersonRow
	DistinctIDRow = feed.DistinctIDRow
	WarningRow    = feed.WarningRow
	MergeRow      = feed.MergeRow
)
