package unionfind

// Warning types the graph raises (docs/SEMANTICS.md §4, §5).
const (
	WarnIllegalMerge      = "cannot_merge_with_illegal_distinct_id"
	WarnAlreadyIdentified = "cannot_merge_already_identified"
	WarnMergeMoveLimit    = "merge_move_limit_exceeded"
	// WarnPropertiesSize: the op's $set / $set_once (or a merge) would
	// have taken the person's properties past the size cap; Details says
	// how many keys were not written (docs/SEMANTICS.md §5). At most one per op.
	WarnPropertiesSize = "person_properties_size_violation"
)

// IsMergeRefusal reports whether a warning type is the refusal of a merge
// request (illegal id, already identified, move limit), as opposed to a
// warning about the event's properties.
func IsMergeRefusal(typ string) bool {
	switch typ {
	case WarnIllegalMerge, WarnAlreadyIdentified, WarnMergeMoveLimit:
		return true
	}
	return false
}

// PersonRow is a row of the persons feed: the person after a change.
type PersonRow struct {
	Team   string
	Person Person
}

// DistinctIDRow is a row of the person_distinct_ids feed.
type DistinctIDRow struct {
	Team       string
	DistinctID string
	PersonID   PersonID
	Version    uint64
	Deleted    bool
}

// Warning is an ingestion warning raised while applying an op.
type Warning struct {
	Team       string
	Type       string
	EventUUID  string
	DistinctID string
	Details    string
	Timestamp  int64 // Unix milliseconds, the op's
}

// Result is what one op changed, in the order it happened: the rows the
// warehouse feed must carry and the warnings to report. An op that changed
// nothing has an empty Result.
type Result struct {
	Persons     []PersonRow
	DistinctIDs []DistinctIDRow
	Warnings    []Warning
}

// Empty reports whether the result carries nothing.
func (r *Result) Empty() bool {
	return len(r.Persons) == 0 && len(r.DistinctIDs) == 0 && len(r.Warnings) == 0
}
