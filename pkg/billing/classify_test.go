package billing

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestClassify(t *testing.T) {
	c := NewClassifier(DefaultExcludedEvents())
	modes := []string{PersonModeFull, PersonModePropertyless, PersonModeForceUpgrade}

	// Every excluded name is excluded in every mode.
	for _, name := range []string{
		"$feature_flag_called", "$experiment_exposure",
		"survey sent", "survey shown", "survey dismissed", "$exception",
	} {
		for _, mode := range modes {
			assert.Equal(t, Excluded, c.Classify(name, mode), "%q in mode %q", name, mode)
		}
	}

	tests := []struct {
		event, mode string
		want        Class
	}{
		{"$pageview", "full", Identified},
		{"$pageview", "force_upgrade", Identified},
		{"$pageview", "propertyless", Anonymous},
		{"$identify", "full", Identified},
		// Unknown modes are billed as the default, full person processing.
		{"$pageview", "", Identified},
		{"$pageview", "Propertyless", Identified},
		// Names match exactly.
		{"Survey Sent", "propertyless", Anonymous},
		{"survey  sent", "full", Identified},
		{"$exception ", "full", Identified},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, c.Classify(tt.event, tt.mode), "%q in mode %q", tt.event, tt.mode)
	}
}

func TestClassifierCustomList(t *testing.T) {
	c := NewClassifier([]string{"$heartbeat"})
	assert.Equal(t, Excluded, c.Classify("$heartbeat", "full"))
	assert.Equal(t, Identified, c.Classify("$exception", "full"), "only the given names are excluded")
	assert.Equal(t, []string{"$heartbeat"}, c.Excluded())

	empty := NewClassifier(nil)
	assert.Equal(t, Anonymous, empty.Classify("$feature_flag_called", "propertyless"))

	var nilC *Classifier
	assert.Equal(t, Identified, nilC.Classify("$exception", "full"))
	assert.Nil(t, nilC.Excluded())
}

func TestDefaultExcludedEventsIsACopy(t *testing.T) {
	a := DefaultExcludedEvents()
	a[0] = "mutated"
	assert.Equal(t, "$feature_flag_called", DefaultExcludedEvents()[0])
	assert.Len(t, NewClassifier(DefaultExcludedEvents()).Excluded(), 6)
}
