package resolve_test

import (
	"fmt"
	"time"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/resolve"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// The resolver's core without Kafka, as the pipeline runs it per event:
// decode, the op the event implies, apply it to the identity graph, find
// the event's person, stamp. A personless page view implies no op and is
// stamped with its id's implicit person; the $identify after it makes that
// person explicit and joins user-42 to it (the person keeps anon-1's id, so
// the first page view's stamp stays right), with the user's properties; the
// next personless page view gets the same person, without properties and
// billed as anonymous (docs/SEMANTICS.md §6, §7).
func Example() {
	dec := event.NewDecoder(event.Options{Now: func() time.Time { return time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC) }})
	st := state.NewMemory()
	defer st.Close()
	var g unionfind.Graph
	stamper := resolve.Stamper{Classifier: billing.NewClassifier(billing.DefaultExcludedEvents())}

	records := []string{
		`{"event":"$pageview","distinct_id":"anon-1","token":"phc_abc","timestamp":"2026-11-28T09:00:00Z","properties":{"$process_person_profile":false}}`,
		`{"event":"$identify","distinct_id":"user-42","token":"phc_abc","timestamp":"2026-11-28T09:01:00Z","properties":{"$anon_distinct_id":"anon-1"},"$set":{"plan":"pro"}}`,
		`{"event":"$pageview","distinct_id":"anon-1","token":"phc_abc","timestamp":"2026-11-28T09:02:00Z","properties":{"$process_person_profile":false}}`,
	}
	for i, rec := range records {
		ev, err := dec.Decode([]byte(rec), event.Source{Topic: "events_raw", Offset: int64(i)})
		if err != nil {
			fmt.Println(err)
			return
		}
		if op, ok := resolve.Op(ev, unionfind.Source{Topic: "events_raw", Offset: int64(i)}); ok {
			err := st.Update(func(tx state.Tx) error {
				_, err := g.Apply(tx, &op)
				return err
			})
			if err != nil {
				fmt.Println(err)
				return
			}
		}
		p, explicit, err := st.Find(ev.Team, ev.DistinctID)
		if err != nil {
			fmt.Println(err)
			return
		}
		s, _ := stamper.Stamp(ev, &p, nil, explicit)
		fmt.Println(ev.Name, ev.DistinctID, s.PersonID, s.PersonMode, s.BillingClass, string(s.PersonProperties))
	}
	// Output:
	// $pageview anon-1 5e1cec5f-70d4-54df-b140-ac3d4b7a4990 propertyless anonymous {}
	// $identify user-42 5e1cec5f-70d4-54df-b140-ac3d4b7a4990 full identified {"plan":"pro"}
	// $pageview anon-1 5e1cec5f-70d4-54df-b140-ac3d4b7a4990 propertyless anonymous {}
}
