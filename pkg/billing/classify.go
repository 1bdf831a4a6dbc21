package billing

import "slices"

// Person modes of a stamped event (docs/SEMANTICS.md §6), the input of Classify.
const (
	PersonModeFull         = "full"
	PersonModePropertyless = "propertyless"
	PersonModeForceUpgrade = "force_upgrade"
)

// DefaultExcludedEvents returns the event names that are never billed
// (docs/SEMANTICS.md §7): $feature_flag_called, $experiment_exposure,
// "survey sent", "survey shown", "survey dismissed" and $exception. The
// slice is new on every call.
func DefaultExcludedEvents() []string {
	return []string{
		"$feature_flag_called",
		"$experiment_exposure",
		"survey sent",
		"survey shown",
		"survey dismissed",
		"$exception",
	}
}

// Classifier assigns the billing class of a stamped event from its event name
// and person mode.
//
// A Classifier is immutable once built, so one may be shared by any number of
// goroutines (every partition worker can use the same one).
type Classifier struct {
	excluded map[string]struct{}
}

// NewClassifier returns a Classifier that excludes exactly the given event
// names (exact, case-sensitive match: "Survey Sent" is billed). Pass
// DefaultExcludedEvents() for the default list; an empty list excludes
// nothing.
func NewClassifier(excluded []string) *Classifier {
	c := &Classifier{excluded: make(map[string]struct{}, len(excluded))}
	for _, name := range excluded {
		c.excluded[name] = struct{}{}
	}
	return c
}

// Classify returns the billing class of an event:
//
//   - Excluded if its name is on the excluded list, whatever its mode;
//   - Anonymous if personMode is "propertyless";
//   - Identified if personMode is "full" or "force_upgrade".
//
// The resolver only ever stamps those three modes. Any other personMode
// (including "") is classified Identified: full person processing is the
// default (docs/SEMANTICS.md §2), so an unexpected mode is billed as the default
// rather than silently discounted.
//
// A nil *Classifier excludes nothing.
func (c *Classifier) Classify(eventName, personMode string) Class {
	if c.IsExcluded(eventName) {
		return Excluded
	}
	if personMode == PersonModePropertyless {
		return Anonymous
	}
	return Identified
}

// IsExcluded reports whether events named eventName are never billed.
func (c *Classifier) IsExcluded(eventName string) bool {
	if c == nil {
		return false
	}
	_, ok := c.excluded[eventName]
	return ok
}

// Excluded returns the excluded event names, sorted.
func (c *Classifier) Excluded() []string {
	if c == nil {
		return nil
	}
	names := make([]string, 0, len(c.excluded))
	for name := range c.excluded {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
