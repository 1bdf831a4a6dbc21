package resolve_test

import (
	"testing"
	"time"

	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/resolve"
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
