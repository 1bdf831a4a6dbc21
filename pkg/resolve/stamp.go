package resolve

import (
	"time"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Person modes of a stamped event (docs/SEMANTICS.md §6).
const (
	ModeFull         = "full"
	ModePropertyless = "propertyless"
	ModeForceUpgrade = "force_upgrade"
)

// forceUpgradeAfter is how long after its person's creation a personless
// event is stamped force_upgrade.
const forceUpgradeAfter = time.Minute

// Stamper stamps decoded events with their person.
type Stamper struct {
	Classifier *billing.Classifier
}

// Stamp returns the stamp of ev given its person p (explicit or implicit, as
// found in the replica after the event's own op was applied) and the event's
// billing class. props is p's properties as JSON when the caller has them
// already serialised (state.Store.FindWithProperties keeps them per person
// version), else nil and Stamp serialises them; the stamp shares it.
func (s *Stamper) Stamp(ev *event.Event, p *unionfind.Person, props []byte, explicit bool) (event.Stamp, billing.Class) {
	st := event.Stamp{
		PersonID:         p.ID,
		PersonCreatedAt:  unionfind.ImplicitCreatedAt,
		PersonProperties: emptyObject,
	}
	if explicit {
		st.PersonCreatedAt = time.UnixMilli(p.CreatedAt).UTC()
	}
	switch {
	case ev.Mode == event.Full:
		st.PersonMode = ModeFull
		if explicit {
			if props == nil {
				props = p.AppendPropertiesJSON(nil)
			}
			st.PersonProperties = props
		}
	case explicit && ev.Timestamp.Sub(st.PersonCreatedAt) > forceUpgradeAfter:
		st.PersonMode = ModeForceUpgrade
	default:
		st.PersonMode = ModePropertyless
	}
	class := s.Classifier.Classify(ev.Name, st.PersonMode)
	st.BillingClass = class.String()
	return st, class
}

var emptyObject = []byte("{}")
