package unionfind

import "encoding/json"

// OpKind says what an Op does.
type OpKind uint8

const (
	// OpEvent is the identity effect of one full (person-processing) event:
	// an optional merge request, then making the event's person explicit,
	// then its $set / $set_once / $unset.
	OpEvent OpKind = iota + 1
	// OpDeletePerson deletes a person and its distinct-id mappings.
	OpDeletePerson
)

func (k OpKind) String() string {
	switch k {
	case OpEvent:
		return "event"
	case OpDeletePerson:
		return "delete_person"
	default:
		return "unknown"
	}
}

// Source is where an op came from: the input record (topic, partition,
// offset) and the op's index among the ops of that record. Sources of one
// source partition are strictly increasing in the order the ops were made.
type Source struct {
	Topic     string `json:"t"`
	Partition int32  `json:"p"`
	Offset    int64  `json:"o"`
	Index     uint32 `json:"i,omitempty"`
}

// Less orders sources of the same topic and partition.
func (s Source) Less(o Source) bool {
	return s.Offset < o.Offset || s.Offset == o.Offset && s.Index < o.Index
}

// Merge is a merge request (docs/SEMANTICS.md §4): move Other's person into the
// person of the op's DistinctID. Guarded requests ($identify,
// $create_alias) refuse to absorb an identified person; $merge_dangerously
// is unguarded.
type Merge struct {
	Other   string `json:"other"`
	Guarded bool   `json:"guarded,omitempty"`
}

// KV is one property assignment of an op.
type KV struct {
	Key   string          `json:"k"`
	Value json.RawMessage `json:"v"`
}

// Op is one change to identity state. Ops are applied in identity-log order by
// Graph.Apply; everything Apply does follows from the op and the state.
type Op struct {
	Kind   OpKind `json:"kind"`
	Source Source `json:"src"`
	Team   string `json:"team"`

	// OpEvent fields.
	DistinctID string `json:"did,omitempty"`
	EventUUID  string `json:"uuid,omitempty"`
	Timestamp  int64  `json:"ts,omitempty"` // Unix milliseconds
	Merge      *Merge `json:"merge,omitempty"`
	// Set, SetOnce are sorted by key and unique; a key in both is only in Set.
	Set     []KV     `json:"set,omitempty"`
	SetOnce []KV     `json:"set_once,omitempty"`
	Unset   []string `json:"unset,omitempty"`

	// OpDeletePerson field.
	PersonID PersonID `json:"person,omitzero"`
}
