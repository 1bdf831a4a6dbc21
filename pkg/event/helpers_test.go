package event

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Fixed clocks for tests: the processing time and the Kafka record time.
var (
	testNow    = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	testRecord = time.Date(2026, 11, 28, 9, 59, 0, 0, time.UTC)
	testSource = Source{Topic: "events_raw", Partition: 3, Offset: 7, Timestamp: testRecord}
)

func testDecoder() *Decoder {
	return NewDecoder(Options{Now: func() time.Time { return testNow }})
}

// decode decodes js with the test decoder and source.
func decode(t *testing.T, js string) (*Event, error) {
	t.Helper()
	return testDecoder().Decode([]byte(js), testSource)
}

// mustDecode decodes js and fails the test if it is rejected.
func mustDecode(t *testing.T, js string) *Event {
	t.Helper()
	ev, err := decode(t, js)
	require.NoError(t, err, "input: %s", js)
	require.NotNil(t, ev)
	return ev
}

// warningTypes lists the types of ev's warnings.
func warningTypes(ev *Event) []string {
	var types []string
	for _, w := range ev.Warnings {
		types = append(types, w.Type)
	}
	return types
}

// orderKeys lists ev's property keys in the order AppendStamped writes
// those that came with the event.
func orderKeys(ev *Event) []string {
	var keys []string
	for i := range ev.order.refs {
		keys = append(keys, ev.order.key(i))
	}
	return keys
}
