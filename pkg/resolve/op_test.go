package resolve_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/resolve"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// EventNeedsOp is the pipeline's shortcut for NeedsOp(Op(ev)): for any
// decodable event and any person it is found with, the two must agree, or
// the pipeline would skip an op that changes something (or log one that
// changes nothing, which costs a round trip through identity_log).
func FuzzEventNeedsOp(f *testing.F) {
	for _, s := range []string{
		`{"event":"$pageview","distinct_id":"a","api_key":"t","timestamp":"2026-01-01T00:00:00Z","properties":{}}`,
		`{"event":"$pageview","distinct_id":"a","api_key":"t","properties":{"$process_person_profile":false}}`,
		`{"event":"$identify","distinct_id":"u","api_key":"t","properties":{"$anon_distinct_id":"a"}}`,
		`{"event":"$identify","distinct_id":"u","api_key":"t","properties":{}}`,
		`{"event":"$create_alias","distinct_id":"u","api_key":"t","properties":{"alias":"b"}}`,
		`{"event":"$merge_dangerously","distinct_id":"u","api_key":"t","properties":{"alias":"b"}}`,
		`{"event":"x","distinct_id":"a","api_key":"t","properties":{"$set":{"k":1}}}`,
		`{"event":"x","distinct_id":"a","api_key":"t","$set":{"k":1},"properties":{"$set_once":{"k":2}}}`,
		`{"event":"x","distinct_id":"a","api_key":"t","properties":{"$set_once":{"k":2}}}`,
		`{"event":"x","distinct_id":"a","api_key":"t","properties":{"$set_once":{}}}`,
		`{"event":"x","distinct_id":"a","api_key":"t","properties":{"$unset":["k"]}}`,
		`{"event":"x","distinct_id":"a","api_key":"t","properties":{"$unset":[]}}`,
	} {
		for _, explicit := range []bool{false, true} {
			f.Add([]byte(s), explicit, int64(0))
			f.Add([]byte(s), explicit, int64(3_600_000))
			f.Add([]byte(s), explicit, int64(-3_600_000))
		}
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	dec := event.NewDecoder(event.Options{Now: func() time.Time { return now }})
	f.Fuzz(func(t *testing.T, value []byte, explicit bool, createdDelta int64) {
		ev, err := dec.Decode(value, event.Source{Topic: "events_raw", Timestamp: now})
		if err != nil {
			return
		}
		p := unionfind.Person{ID: unionfind.ImplicitPersonID(ev.Team, ev.DistinctID), CreatedAt: ev.Timestamp.UnixMilli() + createdDelta, Size: 1}
		want := false
		if op, ok := resolve.Op(ev, unionfind.Source{Topic: "events_raw"}); ok {
			want = resolve.NeedsOp(&op, &p, explicit)
		}
		if got := resolve.EventNeedsOp(ev, &p, explicit); got != want {
			t.Fatalf("EventNeedsOp = %v, NeedsOp(Op) = %v, for %s (explicit %v, created_at %+d ms from the event)", got, want, value, explicit, createdDelta)
		}
	})
}

// The decoder and the graph bound the same things alike: every op of a
// decoded event must pass the graph's validation.
func TestBoundsAgree(t *testing.T) {
	if event.MaxTeamBytes != unionfind.MaxTeamBytes {
		t.Fatalf("event.MaxTeamBytes %d, unionfind.MaxTeamBytes %d", event.MaxTeamBytes, unionfind.MaxTeamBytes)
	}
	if event.MaxDistinctIDRunes != unionfind.MaxDistinctIDRunes {
		t.Fatalf("event.MaxDistinctIDRunes %d, unionfind.MaxDistinctIDRunes %d", event.MaxDistinctIDRunes, unionfind.MaxDistinctIDRunes)
	}
}

// TestHugeMergeIDKeepsTheEvent: a 70 kB $anon_distinct_id (or alias) is
// illegal for merging. Its op must still be valid, so that the event's own
// $set is applied and the merge is refused with a warning, as docs/SEMANTICS.md
// §4 says for illegal ids; the whole id would have made the op invalid and
// lost the $set.
func TestHugeMergeIDKeepsTheEvent(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	dec := event.NewDecoder(event.Options{Now: func() time.Time { return now }})
	huge := strings.Repeat("a", 70_000)
	for _, in := range []string{
		`{"event":"$identify","distinct_id":"u","token":"t","properties":{"$anon_distinct_id":"` + huge + `","$set":{"email":"x@y"}}}`,
		`{"event":"$create_alias","distinct_id":"u","token":"t","properties":{"alias":"` + huge + `","$set":{"email":"x@y"}}}`,
		`{"event":"$merge_dangerously","distinct_id":"u","token":"t","properties":{"alias":"` + huge + `","$set":{"email":"x@y"}}}`,
	} {
		ev, err := dec.Decode([]byte(in), event.Source{Topic: "events_raw", Timestamp: now})
		if err != nil {
			t.Fatal(err)
		}
		op, ok := resolve.Op(ev, unionfind.Source{Topic: "events_raw"})
		if !ok {
			t.Fatal("no op")
		}
		if err := op.Validate(); err != nil {
			t.Fatalf("%s: %v", ev.Name, err)
		}
		if n := utf8.RuneCountInString(op.Merge.Other); n != unionfind.MaxOtherRunes || !unionfind.IsIllegal(op.Merge.Other) {
			t.Fatalf("other cut to %d characters (illegal: %v)", n, unionfind.IsIllegal(op.Merge.Other))
		}
		mem := state.NewMemory()
		var res unionfind.Result
		if err := mem.Update(func(tx state.Tx) error {
			res, err = (&unionfind.Graph{}).Apply(tx, &op)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if len(res.Warnings) != 1 || res.Warnings[0].Type != unionfind.WarnIllegalMerge || len(res.Warnings[0].Details) > 1000 {
			t.Fatalf("%s: warnings %+v", ev.Name, res.Warnings)
		}
		p, explicit, err := mem.Find("t", "u")
		if err != nil || !explicit {
			t.Fatalf("find: %v %v", explicit, err)
		}
		if got := string(p.AppendPropertiesJSON(nil)); got != `{"email":"x@y"}` {
			t.Fatalf("%s: properties %s", ev.Name, got)
		}
		_ = mem.Close()
	}
}

// FuzzOpValid is a differential test of the decoder against the graph:
// every op resolve.Op builds from an event the decoder accepts (with the
// pipeline's options too) passes unionfind.Op.Validate, and applies to a
// store without error. An op the graph refused would be skipped by every
// replica, losing the event's identity effect.
func FuzzOpValid(f *testing.F) {
	for _, s := range []string{
		`{"event":"$identify","distinct_id":"u","token":"t","properties":{"$anon_distinct_id":"a","$set":{"b":1,"a":2},"$set_once":{"a":3,"c":{"x":[1]}},"$unset":["z","z"]}}`,
		`{"event":"$create_alias","distinct_id":23,"team_id":1,"properties":{"alias":"` + strings.Repeat("é", 500) + `"}}`,
		`{"event":"$merge_dangerously","distinct_id":"` + strings.Repeat("😀", 300) + `","token":"` + strings.Repeat("t", 200) + `","properties":{"alias":"x\u0000y"}}`,
		`{"token":"phc","data":"{\"event\":\"$identify\",\"distinct_id\":\"d\",\"team_id\":\"x\",\"properties\":{\"$anon_distinct_id\":null,\"$set\":{\"\\u003c\":\"\\ud800\"}}}"}`,
		`{"event":"x","distinct_id":"a","api_key":"k","$set":{"k\u2028":"\u2029"},"properties":{"$set":{"k":1e400}}}`,
		`{"event":"x","distinct_id":"` + strings.Repeat(" ", 199) + `x","token":"t"}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	decs := []*event.Decoder{
		event.NewDecoder(event.Options{Now: func() time.Time { return now }}),
		event.NewDecoder(event.Options{Now: func() time.Time { return now }, LazyProperties: true, NoCopy: true}),
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		for _, dec := range decs {
			ev, err := dec.Decode(value, event.Source{Topic: "events_raw", Partition: 3, Offset: 9, Timestamp: now})
			if err != nil {
				continue
			}
			op, ok := resolve.Op(ev, unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 9})
			if !ok {
				continue
			}
			if err := op.Validate(); err != nil {
				t.Fatalf("the op of an accepted event is invalid: %v\ninput: %q", err, value)
			}
			mem := state.NewMemory()
			if err := mem.Update(func(tx state.Tx) error {
				_, err := (&unionfind.Graph{}).Apply(tx, &op)
				return err
			}); err != nil {
				t.Fatalf("apply: %v\ninput: %q", err, value)
			}
			_ = mem.Close()
		}
	})
}
