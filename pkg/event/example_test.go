package event_test

import (
	"fmt"
	"time"

	"github.com/resolver-dev/resolver/pkg/event"
)

func Example() {
	d := event.NewDecoder(event.Options{Now: func() time.Time {
		return time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	}})
	record := []byte(`{"event":"$identify","distinct_id":42,"token":"phc_abc",` +
		`"timestamp":"2026-11-28T09:16:40.002Z",` +
		`"properties":{"$anon_distinct_id":"anon-1"},"$set":{"plan":"pro"}}`)
	e, err := d.Decode(record, event.Source{Topic: "events_raw", Partition: 0, Offset: 1})
	if err != nil {
		reason, _ := event.ReasonOf(err)
		fmt.Println("dead letter:", reason)
		return
	}
	fmt.Println(e.Team, e.DistinctID, e.Kind, e.MergeOther, e.Mode)
	out := e.AppendStamped(nil, event.Stamp{
		PersonID:         "45c17302-ee44-5596-916a-0eba21f4b638",
		PersonCreatedAt:  time.Date(2026, 11, 28, 9, 16, 40, 2_000_000, time.UTC),
		PersonProperties: []byte(`{"plan":"pro"}`),
		PersonMode:       "full",
		BillingClass:     "identified",
	})
	fmt.Println(string(out))

	_, err = d.Decode([]byte(`{"event":"$pageview","token":"phc_abc"}`), event.Source{})
	fmt.Println(err)
	// Output:
	// phc_abc 42 identify anon-1 full
	// {"uuid":"aec81a94-59c8-5998-b0e4-d8882f09f393","event":"$identify","distinct_id":"42","team":"phc_abc","timestamp":"2026-11-28T09:16:40.002Z","properties":{"$anon_distinct_id":"anon-1","$set":{"plan":"pro"}},"token":"phc_abc","person_id":"45c17302-ee44-5596-916a-0eba21f4b638","person_created_at":"2026-11-28T09:16:40.002Z","person_properties":{"plan":"pro"},"person_mode":"full","billing_class":"identified"}
	// event: invalid_distinct_id: no distinct_id, $distinct_id or properties.distinct_id
}
