package resolve

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// BenchmarkStamp is the pipeline's per-event stamping step: Stamper.Stamp
// and Event.AppendStamped into a reused buffer, for a person-processing
// event of an identified person (properties already serialised, as the
// replica's cache keeps them) and a personless one of an implicit person.
func BenchmarkStamp(b *testing.B) {
	d := event.NewDecoder(event.Options{Now: func() time.Time { return time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC) }})
	ev, err := d.Decode([]byte(`{"uuid":"0190a4f2-6c1e-7b3a-9d2e-5f4b3c2a1908","event":"$pageview","distinct_id":"user-1","team_id":1,`+
		`"timestamp":"2026-12-06T10:00:00Z","properties":{"$current_url":"https://example.com/a","$browser":"Firefox"}}`), event.Source{Topic: "events_raw"})
	if err != nil {
		b.Fatal(err)
	}
	s := &Stamper{Classifier: billing.NewClassifier(nil)}
	person := unionfind.Person{ID: uuid.MustParse("246f7a43-5507-564f-b687-793ee3c2dd79"), CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), Size: 2}
	props := []byte(`{"email":"u@example.com","plan":"pro"}`)
	implicit := unionfind.Person{ID: unionfind.ImplicitPersonID("1", "user-1"), Size: 1}
	for _, tc := range []struct {
		name     string
		p        *unionfind.Person
		props    []byte
		explicit bool
	}{{"identified", &person, props, true}, {"implicit", &implicit, nil, false}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var dst []byte
			for b.Loop() {
				st, _ := s.Stamp(ev, tc.p, tc.props, tc.explicit)
				dst = ev.AppendStamped(dst[:0], st)
			}
		})
	}
}
