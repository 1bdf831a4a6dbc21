package unionfind

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/resolver-dev/resolver/internal/teamrule"
)

// Bounds of an op. Every string of an op that becomes part of a Store key
// is bounded here, so that no op that decodes can make a store refuse a key
// (Badger refuses keys over 65,000 bytes): identity_log is applied by every
// replica, and an op that stopped one would stop them all (docs/DESIGN.md, "No
// single record stops the fleet"). The bounds are those the decoder
// (package event) already guarantees for every event; an op outside them
// was not made by a resolver, and Apply refuses it, identically everywhere.
const (
	// MaxTeamBytes is the longest team, in bytes (event.MaxTeamBytes,
	// teamrule.MaxBytes).
	MaxTeamBytes = teamrule.MaxBytes
	// MaxDistinctIDRunes is the longest distinct_id of an op, in
	// characters (event.MaxDistinctIDRunes: the decoder cuts longer ids).
	MaxDistinctIDRunes = 200
	// MaxOtherRunes is the longest Merge.Other, in characters: one more than
	// the longest id that may merge (§4: over 400 characters is illegal), so
	// that an overlong id cut to it by BoundOther is still illegal and
	// gives the same outcome, the cannot_merge_with_illegal_distinct_id
	// warning.
	MaxOtherRunes = maxMergeIDLen + 1
	// MaxTopicBytes is the longest Source.Topic, in bytes (Kafka's limit
	// on topic names).
	MaxTopicBytes = 249
	// MaxEventUUIDBytes is the longest EventUUID, in bytes (a canonical
	// UUID has 36).
	MaxEventUUIDBytes = 64
	// MaxSplitIDs is the most SplitIDs a split op may name.
	MaxSplitIDs = 1000
)

// BoundOther returns id cut to at most MaxOtherRunes characters. An id
// that it shortens is over 400 characters, so illegal for merging, and
// stays so: the op it goes into is valid and has the same outcome as with
// the whole id (the merge is refused with a warning, the rest of the event
// applies). Characters are counted as IsIllegal counts them: runes, an
// invalid byte counting as one.
func BoundOther(id string) string {
	if len(id) <= MaxOtherRunes {
		return id
	}
	n := 0
	for i := range id {
		if n == MaxOtherRunes {
			return id[:i]
		}
		n++
	}
	return id
}

// Validate reports whether Apply would accept op: nil, or an error wrapping
// ErrInvalidOp that says what is wrong. It reads nothing but op, so every
// replica decides alike. Producers of ops (resolve.Op, the admin commands)
// can call it before logging an op.
//
// An op is invalid when:
//   - its Kind is unknown;
//   - its Source.Topic is over MaxTopicBytes bytes, or its EventUUID over
//     MaxEventUUIDBytes;
//   - its Team is empty or whitespace only, over MaxTeamBytes bytes, not
//     valid UTF-8, or holds a control character (C0, DEL, C1: Unicode
//     category Cc) — the decoder's invalid_team rule (teamrule.Problem);
//   - (event and split ops, and delete ops that name one) its DistinctID
//     is empty, over MaxDistinctIDRunes characters, not valid UTF-8, or
//     holds NUL;
//   - (split ops) it names more than MaxSplitIDs SplitIDs, or one of them
//     is not a distinct_id by the rule above;
//   - (event ops) its Merge.Other is over MaxOtherRunes characters (see
//     BoundOther);
//   - (event ops) its Set or SetOnce keys are not sorted and unique, a key
//     is in both, a key is not valid UTF-8, or — unless the values are
//     sealed (KeyID != 0) — a value is not one valid JSON value;
//   - (event ops) it says ValuesErased while not Sealed, or while still
//     carrying Set or SetOnce;
//   - (delete ops) its DistinctID is set and not a valid distinct_id as
//     above (a version-1 delete names only PersonID);
//   - (split ops) its DistinctID or one of its SplitIDs is not a valid
//     distinct_id, or it has over MaxSplitIDs SplitIDs.
//
// Sealed values. KeyID != 0 means the op's Set and SetOnce values are
// still ciphertext, as logged (package shred seals and opens them): Validate
// accepts such an op, so that producers can check a sealed op before
// logging it, but Apply refuses it with ErrInvalidOp. The applier opens
// the values (or, when their key is erased, drops them and sets
// ValuesErased), then sets KeyID to 0 and Sealed to true; only then is the
// op applied, and its values are JSON again and checked as such.
func (op *Op) Validate() error {
	if err := op.validate(); err != "" {
		return op.invalid(err)
	}
	return nil
}

// validateApply is Validate and the one rule Apply adds: no value is still
// sealed.
func (op *Op) validateApply() error {
	if err := op.Validate(); err != nil {
		return err
	}
	if op.KeyID != 0 {
		return op.invalid("values still sealed under key id " + strconv.FormatUint(op.KeyID, 10) + " (open them before Apply)")
	}
	return nil
}

func (op *Op) invalid(why string) error {
	return fmt.Errorf("%w: %s (kind %s, source %s/%d@%d#%d)", ErrInvalidOp, why, op.Kind,
		quoteShort(op.Source.Topic), op.Source.Partition, op.Source.Offset, op.Source.Index)
}

func (op *Op) validate() string {
	switch op.Kind {
	case OpEvent, OpDeletePerson, OpSplit:
	default:
		return "unknown kind " + strconv.Itoa(int(op.Kind))
	}
	if len(op.Source.Topic) > MaxTopicBytes {
		return "source topic of " + strconv.Itoa(len(op.Source.Topic)) + " bytes, over " + strconv.Itoa(MaxTopicBytes)
	}
	if len(op.EventUUID) > MaxEventUUIDBytes {
		return "event uuid of " + strconv.Itoa(len(op.EventUUID)) + " bytes, over " + strconv.Itoa(MaxEventUUIDBytes)
	}
	if why := teamrule.Problem(op.Team); why != "" {
		return "team " + why
	}
	switch op.Kind {
	case OpDeletePerson:
		if op.DistinctID == "" {
			return "" // a version-1 delete, by PersonID
		}
		if why := distinctIDProblem(op.DistinctID); why != "" {
			return "distinct_id " + why
		}
		return ""
	case OpSplit:
		if why := distinctIDProblem(op.DistinctID); why != "" {
			return "distinct_id " + why
		}
		if len(op.SplitIDs) > MaxSplitIDs {
			return "split of " + strconv.Itoa(len(op.SplitIDs)) + " ids, over " + strconv.Itoa(MaxSplitIDs)
		}
		for i, id := range op.SplitIDs {
			if why := distinctIDProblem(id); why != "" {
				return "split id " + strconv.Itoa(i) + " " + why
			}
		}
		return ""
	}
	if why := distinctIDProblem(op.DistinctID); why != "" {
		return "distinct_id " + why
	}
	switch {
	case op.ValuesErased && !op.Sealed:
		return "values erased but the op is not sealed"
	case op.ValuesErased && op.hasValues():
		return "values erased but $set or $set_once present"
	}
	if op.Merge != nil && runesOver(op.Merge.Other, MaxOtherRunes) {
		return "merge other of " + strconv.Itoa(len(op.Merge.Other)) + " bytes, over " + strconv.Itoa(MaxOtherRunes) + " characters (never a key, and cut to that by BoundOther)"
	}
	sealed := op.KeyID != 0
	if why := kvsProblem(op.Set, sealed); why != "" {
		return "$set " + why
	}
	if why := kvsProblem(op.SetOnce, sealed); why != "" {
		return "$set_once " + why
	}
	for i, j := 0, 0; i < len(op.Set) && j < len(op.SetOnce); {
		switch a, b := op.Set[i].Key, op.SetOnce[j].Key; {
		case a == b:
			return "key " + quoteShort(a) + " in both $set and $set_once"
		case a < b:
			i++
		default:
			j++
		}
	}
	return ""
}

func distinctIDProblem(id string) string {
	switch {
	case id == "":
		return "is empty"
	case runesOver(id, MaxDistinctIDRunes):
		return "of " + strconv.Itoa(len(id)) + " bytes is over " + strconv.Itoa(MaxDistinctIDRunes) + " characters"
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	case strings.IndexByte(id, 0) >= 0:
		return "holds NUL"
	}
	return ""
}

// runesOver reports whether s has more than n runes, without counting past
// what it needs to (a rune is at most 4 bytes).
func runesOver(s string, n int) bool {
	switch {
	case len(s) <= n:
		return false
	case len(s) > 4*n:
		return true
	}
	return utf8.RuneCountInString(s) > n
}

// kvsProblem checks keys, and values unless they are sealed (ciphertext).
func kvsProblem(kvs []KV, sealed bool) string {
	for i := range kvs {
		k := kvs[i].Key
		if i > 0 && kvs[i-1].Key >= k {
			return "keys not sorted and unique at " + quoteShort(k)
		}
		if !utf8.ValidString(k) {
			return "key " + quoteShort(k) + " is not valid UTF-8"
		}
		if !sealed && !json.Valid(kvs[i].Value) {
			return "value of key " + quoteShort(k) + " is not one JSON value"
		}
	}
	return ""
}

// quoteShort quotes s for an error, cut to 64 bytes: op strings may be
// long, and some are personal data. Errors of invalid ops name keys and
// sources only, never distinct_ids.
func quoteShort(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}
