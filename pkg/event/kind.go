package event

// Kind says what an event asks of the identity graph (docs/SEMANTICS.md §4).
type Kind uint8

const (
	// Ordinary events touch only the person of their own distinct_id.
	Ordinary Kind = iota
	// Identify is a $identify whose properties have the key $anon_distinct_id.
	Identify
	// Alias is a $create_alias whose properties.alias is a non-empty string.
	Alias
	// MergeDangerously is a $merge_dangerously whose properties.alias is a
	// non-empty string: an unguarded merge.
	MergeDangerously
)

// String returns "ordinary", "identify", "alias" or "merge_dangerously".
func (k Kind) String() string {
	switch k {
	case Ordinary:
		return "ordinary"
	case Identify:
		return "identify"
	case Alias:
		return "alias"
	case MergeDangerously:
		return "merge_dangerously"
	default:
		return "kind(" + itoa(int64(k)) + ")"
	}
}

// Mode is the event's person-processing mode (docs/SEMANTICS.md §2).
type Mode uint8

const (
	// Full events may create persons and change their properties.
	Full Mode = iota
	// Personless events (properties.$process_person_profile == false) never
	// change identity state.
	Personless
)

// String returns "full" or "personless".
func (m Mode) String() string {
	switch m {
	case Full:
		return "full"
	case Personless:
		return "personless"
	default:
		return "mode(" + itoa(int64(m)) + ")"
	}
}
