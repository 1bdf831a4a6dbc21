package stream

import "github.com/resolver-dev/resolver/pkg/feed"

// The feed rows the pipeline writes; their format is package feed's.
type (
	PersonRow     = feed.PersonRow
	DistinctIDRow = feed.DistinctIDRow
	WarningRow    = feed.WarningRow
)
