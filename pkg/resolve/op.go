package resolve

import (
	"bytes"
	"encoding/json"
	"sort"

	"github.com/resolver-dev/resolver/internal/jsonlit"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Op returns the identity op a decoded event implies, if any. Personless
// events imply none: they never change identity state (docs/SEMANTICS.md §2).
// Every full event implies one (its person becomes explicit); see NeedsOp
// for when a pipeline may leave it out.
//
// The op of a decoded event is always valid (unionfind.Op.Validate): the
// decoder bounds the team and the distinct_id, and a merge's other id,
// which the decoder passes on as sent (§4 judges it whole), is cut by
// unionfind.BoundOther. An id over 400 characters is illegal for merging,
// and cut to 401 it still is: the merge is refused with the same
// cannot_merge_with_illegal_distinct_id warning (its details quoting the
// first 401 characters) and the event's own $set, $set_once and $unset
// still apply, where the whole id would have made the op invalid and lost
// them.
func Op(ev *event.Event, src unionfind.Source) (unionfind.Op, bool) {
	if ev.Mode != event.Full {
		return unionfind.Op{}, false
	}
	op := unionfind.Op{
		Kind:       unionfind.OpEvent,
		Source:     src,
		Team:       ev.Team,
		DistinctID: ev.DistinctID,
		EventUUID:  ev.UUID.String(),
		Timestamp:  ev.Timestamp.UnixMilli(),
	}
	switch ev.Kind {
	case event.Identify:
		op.Merge = &unionfind.Merge{Other: unionfind.BoundOther(ev.MergeOther), Guarded: true, Rule: unionfind.RuleIdentify}
	case event.Alias:
		op.Merge = &unionfind.Merge{Other: unionfind.BoundOther(ev.MergeOther), Guarded: true, Rule: unionfind.RuleAlias}
	case event.MergeDangerously:
		op.Merge = &unionfind.Merge{Other: unionfind.BoundOther(ev.MergeOther), Rule: unionfind.RuleMergeDangerously}
	}
	op.Set = sortedKVs(ev.Set, nil)
	op.SetOnce = sortedKVs(ev.SetOnce, ev.Set) // $set wins over $set_once
	if len(ev.Unset) > 0 {
		op.Unset = append([]string(nil), ev.Unset...)
		sort.Strings(op.Unset)
	}
	return op, true
}

// NeedsOp reports whether the op of a full event can change anything, given
// its distinct_id's person p as found in the local replica: an ordinary
// event without $set, $set_once or $unset, for an explicit person created no
// later than the event, changes nothing, so a pipeline need not log it. (A
// person deletion logged between the look and the op is the one case where
// skipping differs; the event is then stamped with its implicit person.)
func NeedsOp(op *unionfind.Op, p *unionfind.Person, explicit bool) bool {
	return !explicit || op.Timestamp < p.CreatedAt || op.Merge != nil ||
		len(op.Set) > 0 || len(op.SetOnce) > 0 || len(op.Unset) > 0
}

// EventNeedsOp is NeedsOp(Op(ev)) without building the op: false for a
// personless event and for one whose op would change nothing. The pipeline
// asks it of every event, most of which need no op, so it allocates nothing;
// the op (with its canonical JSON values) is built only when needed.
func EventNeedsOp(ev *event.Event, p *unionfind.Person, explicit bool) bool {
	if ev.Mode != event.Full {
		return false
	}
	if !explicit || ev.Timestamp.UnixMilli() < p.CreatedAt || len(ev.Set) > 0 || len(ev.Unset) > 0 {
		return true
	}
	switch ev.Kind {
	case event.Identify, event.Alias, event.MergeDangerously:
		return true
	}
	for k := range ev.SetOnce { // a $set_once key also in $set is dropped from the op
		if _, ok := ev.Set[k]; !ok {
			return true
		}
	}
	return false
}

func sortedKVs(m, except map[string]json.RawMessage) []unionfind.KV {
	if len(m) == 0 {
		return nil
	}
	kvs := make([]unionfind.KV, 0, len(m))
	for k, v := range m {
		if _, ok := except[k]; ok {
			continue
		}
		kvs = append(kvs, unionfind.KV{Key: k, Value: canonicalJSON(v)})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].Key < kvs[j].Key })
	if len(kvs) == 0 {
		return nil
	}
	return kvs
}

// canonicalJSON rewrites a property value in one spelling per value: no
// insignificant space, object members sorted, strings escaped one way,
// numbers as written. SDKs spell the same value differently (posthog-python
// puts spaces in nested objects, posthog-js does not), and §5 says a $set of
// an equal value writes nothing, so the graph, which compares bytes, must
// only ever see one spelling. A value that does not parse is kept as it is.
func canonicalJSON(v json.RawMessage) json.RawMessage {
	if isCanonicalScalar(v) {
		return v // most $set values: nothing to rewrite, and no reflection
	}
	return canonicalJSONSlow(v)
}

// isCanonicalScalar reports whether v is a JSON scalar already spelled the
// one way canonicalJSONSlow spells it: true, false, null, a number (kept
// as written), or a string of bytes that need no escape (jsonlit.Plain:
// printable ASCII and DEL, without '"' or '\\'). Anything
// else (objects, arrays, escapes, non-ASCII, surrounding space) takes the
// slow path. FuzzCanonicalJSON checks the two agree.
func isCanonicalScalar(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '"':
		if len(v) < 2 || v[len(v)-1] != '"' {
			return false
		}
		for _, c := range v[1 : len(v)-1] {
			if !jsonlit.Plain(c) {
				return false
			}
		}
		return true
	case 't':
		return string(v) == "true"
	case 'f':
		return string(v) == "false"
	case 'n':
		return string(v) == "null"
	}
	return jsonlit.IsNumber(v)
}

// canonicalJSONSlow is canonicalJSON by a round trip through encoding/json.
func canonicalJSONSlow(v json.RawMessage) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return v
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return v
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}
