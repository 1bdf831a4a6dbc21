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

// Warnings and refusals of the lifecycle ops (docs/SEMANTICS.md §8). Each
// is also the Refused of the op's MergeRow.
const (
	// WarnMergeBlocked: a merge request named a blocked (deleted with
	// --block) distinct_id.
	WarnMergeBlocked = "cannot_merge_with_blocked_distinct_id"
	// RefuseUnknownDistinctID: a delete or split named an id that has no
	// explicit person: nothing changed.
	RefuseUnknownDistinctID = "unknown_distinct_id"
	// RefuseSplitAll: a split named every id of its person.
	RefuseSplitAll = "cannot_split_every_distinct_id"
	// RefuseSplitNotInPerson: a split named ids of different persons.
	RefuseSplitNotInPerson = "cannot_split_distinct_id_not_in_person"
	// RefuseSplitIDTaken: the id a split would give its new person is a
	// live person's (only a log that applies two splits of one id at one
	// offset can get there).
	RefuseSplitIDTaken = "cannot_split_person_id_taken"
)

// IsMergeRefusal reports whether a warning type is the refusal of a merge
// request (illegal id, already identified, move limit, blocked id), as
// opposed to a warning about the event's properties.
func IsMergeRefusal(typ string) bool {
	switch typ {
	case WarnIllegalMerge, WarnAlreadyIdentified, WarnMergeMoveLimit, WarnMergeBlocked:
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

// MergeRow is one lineage record (docs/SEMANTICS.md §8): a merge, split or
// deletion that moved distinct_ids, or one that was refused (Refused is
// the warning type; nothing moved).
type MergeRow struct {
	Team string
	// Survivor is the person the ids moved into (the new person of a
	// split; zero for a deletion); Absorbed the person they left.
	Survivor, Absorbed PersonID
	// Moved are the distinct_ids that changed person, sorted.
	Moved []string
	Rule  Rule
	// Refused is "" for a merge that happened, else why it did not.
	Refused string
	// Other and Into are the ids the request named (Into: the op's
	// DistinctID).
	Other, Into string
	EventUUID   string
	Timestamp   int64 // the op's, Unix milliseconds
	Source      Source
	Log         LogPos
}

// Result is what one op changed, in the order it happened: the rows the
// warehouse feed must carry and the warnings to report. An op that changed
// nothing has an empty Result.
type Result struct {
	Persons     []PersonRow
	DistinctIDs []DistinctIDRow
	Warnings    []Warning
	// Merges are the op's lineage records (person_merges).
	Merges []MergeRow
	// Erased are the data keys the op erased: tombstoned on identity_keys
	// by whoever emits the op's rows.
	Erased []KeyRef
}

// Empty reports whether the result carries nothing.
func (r *Result) Empty() bool {
	return len(r.Persons) == 0 && len(r.DistinctIDs) == 0 && len(r.Warnings) == 0 && len(r.Merges) == 0 && len(r.Erased) == 0
}
