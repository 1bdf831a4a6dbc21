package unionfind

import (
	"cmp"
	"encoding/json"
)

// OpKind says what an Op does.
type OpKind uint8

const (
	// OpEvent is the identity effect of one full (person-processing) event:
	// an optional merge request, then making the event's person explicit,
	// then its $set / $set_once / $unset.
	OpEvent OpKind = iota + 1
	// OpDeletePerson deletes the person of DistinctID and its distinct-id
	// mappings, erasing its properties (docs/SEMANTICS.md §8, "Deletion").
	OpDeletePerson
	// OpSplit moves DistinctID and SplitIDs out of their person into one
	// new explicit person (docs/SEMANTICS.md §8, "Split").
	OpSplit
)

func (k OpKind) String() string {
	switch k {
	case OpEvent:
		return "event"
	case OpDeletePerson:
		return "delete_person"
	case OpSplit:
		return "split"
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

// Compare orders sources of the same topic and partition (by offset, then
// index): -1, 0 or +1, for slices.SortFunc and the like.
func (s Source) Compare(o Source) int {
	return cmp.Or(cmp.Compare(s.Offset, o.Offset), cmp.Compare(s.Index, o.Index))
}

// Less orders sources of the same topic and partition.
func (s Source) Less(o Source) bool { return s.Compare(o) < 0 }

// Merge is a merge request (docs/SEMANTICS.md §4): move Other's person into the
// person of the op's DistinctID. Guarded requests ($identify,
// $create_alias) refuse to absorb an identified person; $merge_dangerously
// is unguarded.
type Merge struct {
	Other   string `json:"other"`
	Guarded bool   `json:"guarded,omitempty"`
	// Rule is the event that asked for the merge, for lineage. Zero in ops
	// logged before lineage existed: RuleOf reports them as identify
	// (guarded) or merge_dangerously.
	Rule Rule `json:"rule,omitempty"`
}

// Rule is why ids were merged or moved: the lineage rule of
// docs/SEMANTICS.md §8.
type Rule uint8

// Rules. The numbers are logged (oplog.proto's Merge.rule); never reuse one.
const (
	RuleIdentify         Rule = 1
	RuleAlias            Rule = 2
	RuleMergeDangerously Rule = 3
	RuleSplit            Rule = 4
	RuleDelete           Rule = 5
)

func (r Rule) String() string {
	switch r {
	case RuleIdentify:
		return "identify"
	case RuleAlias:
		return "alias"
	case RuleMergeDangerously:
		return "merge_dangerously"
	case RuleSplit:
		return "split"
	case RuleDelete:
		return "delete"
	default:
		return "unknown"
	}
}

// RuleOf is the rule of a merge request, for ops logged before Merge.Rule
// existed too.
func RuleOf(m *Merge) Rule {
	switch {
	case m.Rule != 0:
		return m.Rule
	case m.Guarded:
		return RuleIdentify
	default:
		return RuleMergeDangerously
	}
}

// LogPos is where an op sits in identity_log: its partition, offset and
// record time (Unix milliseconds). The applier sets Op.Log before Apply;
// it is not part of the op's encoding (the log says where a record is).
type LogPos struct {
	Partition int32
	Offset    int64
	Time      int64
}

// KeyRef names a data key of the property values of ops: the values an
// op for DistinctID wrote under erasure generation Gen (docs/SEMANTICS.md
// §8, "Erasure"). A person holds a ref to every key whose values its state
// depends on; a key is erased when the last person holding it is deleted.
type KeyRef struct {
	DistinctID string
	Gen        uint32
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

	// OpDeletePerson, OpSplit: DistinctID names the person (the first named
	// id of a split). PersonID is read from version-1 delete ops only.
	PersonID PersonID `json:"person,omitzero"`
	// Block (OpDeletePerson) keeps the deleted ids blocked: later events of
	// them are dead-lettered deleted_distinct_id.
	Block bool `json:"block,omitempty"`
	// SplitIDs (OpSplit) are the named ids after DistinctID, in the order
	// named; NoProperties starts the new person without properties.
	SplitIDs     []string `json:"split,omitempty"`
	NoProperties bool     `json:"no_props,omitempty"`

	// Gen is the erasure generation of DistinctID under whose data key the
	// op's Set and SetOnce values were sealed (Sealed). The applier opens
	// sealed values before Apply; when the key is erased it clears Set and
	// SetOnce and sets ValuesErased, and Apply applies the op without them.
	Gen uint32 `json:"gen,omitempty"`
	// KeyID names which data key of (Team, DistinctID, Gen) sealed the
	// values (two workers may create one for the same generation at once;
	// both are kept). Non-zero exactly while the values are ciphertext:
	// Validate then skips their JSON check and Apply refuses the op. The
	// applier opens the values (package shred) or erases them, then sets
	// KeyID to 0; Sealed says the op was sealed when it was logged (it
	// stays set after the applier opens the values).
	KeyID        uint64 `json:"kid,omitempty"`
	Sealed       bool   `json:"-"`
	ValuesErased bool   `json:"-"`

	// Log is set by the applier before Apply (not encoded).
	Log LogPos `json:"-"`
}
