package event_test

import (
	"fmt"
	"time"

	"github.com/google/uuid"

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
		PersonID:         uuid.MustParse("45c17302-ee44-5596-916a-0eba21f4b638"),
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

// The resolver's pipeline decodes record values it keeps unchanged until
// the events are stamped, and never reads the Properties map: it can let
// Decode skip both the copy of the value and the map.
func ExampleOptions_fastPath() {
	d := event.NewDecoder(event.Options{LazyProperties: true, NoCopy: true, Now: func() time.Time {
		return time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	}})
	record := []byte(`{"event":"$pageview","distinct_id":"anon-1","token":"phc_abc","timestamp":"2026-11-28T09:16:40Z",` +
		`"properties":{"$current_url":"https://example.com/","$process_person_profile":false}}`)
	e, err := d.Decode(record, event.Source{Topic: "events_raw", Partition: 0, Offset: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	url, _ := e.Property("$current_url")
	fmt.Println(e.Mode, string(url), e.Properties == nil)
	out := e.AppendStamped(nil, event.Stamp{
		PersonID:        uuid.MustParse("00ce873a-549c-548e-bbec-cc804a385dd8"),
		PersonCreatedAt: time.Unix(5, 0),
		PersonMode:      "propertyless",
		BillingClass:    "anonymous",
	})
	e.Release() // out is a copy; record may go once the batch is done
	fmt.Println(string(out))
	// Output:
	// personless "https://example.com/" true
	// {"uuid":"99ab32ad-4bdf-5b2f-b63a-01461ff2c77d","event":"$pageview","distinct_id":"anon-1","team":"phc_abc","timestamp":"2026-11-28T09:16:40Z","properties":{"$current_url":"https://example.com/","$process_person_profile":false},"token":"phc_abc","person_id":"00ce873a-549c-548e-bbec-cc804a385dd8","person_created_at":"1970-01-01T00:00:05Z","person_properties":{},"person_mode":"propertyless","billing_class":"anonymous"}
}
