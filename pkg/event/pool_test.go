package event

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReleaseReuse(t *testing.T) {
	first := mustDecode(t, `{"event":"a","distinct_id":"d1","token":"t","properties":{"x":1,"y":2},"$set":{"s":1}}`)
	id, set, warnings := first.DistinctID, first.Set, first.Warnings
	first.Release()
	assert.Nil(t, first.Properties["x"], "released: emptied")

	// Whatever Decode returns next, released storage or not, carries
	// nothing of the first event.
	for i := 0; i < 3; i++ {
		e := mustDecode(t, `{"event":"b","distinct_id":"d2","token":"t","properties":{"z":3}}`)
		assert.Equal(t, map[string]json.RawMessage{"z": json.RawMessage("3")}, e.Properties)
		assert.Equal(t, []string{"z"}, orderKeys(e))
		assert.Nil(t, e.Set)
		assert.Empty(t, e.Warnings)
		assert.Contains(t, string(e.AppendStamped(nil, implicitStamp)), `"properties":{"z":3}`)
		e.Release()
	}
	// What was taken from the first event stays valid.
	assert.Equal(t, "d1", id)
	assert.Equal(t, map[string]json.RawMessage{"s": json.RawMessage("1")}, set)
	assert.Nil(t, warnings)

	var nilEvent *Event
	nilEvent.Release() // no-op
}

func TestReleaseDropsHugeMaps(t *testing.T) {
	props := "{"
	for i := range maxPooledProperties + 1 {
		if i > 0 {
			props += ","
		}
		props += `"k` + itoa(int64(i)) + `":1`
	}
	e := mustDecode(t, ev(`"properties":`+props+"}"))
	e.Release()
	assert.Nil(t, e.Properties)
}

// TestReleaseConcurrent decodes, stamps and releases from many goroutines
// (run with -race).
func TestReleaseConcurrent(t *testing.T) {
	d := testDecoder()
	lines := sampleLines(t)
	want := make([]string, len(lines))
	for i, line := range lines {
		e, err := d.Decode(line, testSource)
		require.NoError(t, err)
		want[i] = string(e.AppendStamped(nil, implicitStamp))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % len(lines)
				e, err := d.Decode(lines[k], testSource)
				if !assert.NoError(t, err) {
					return
				}
				if got := string(e.AppendStamped(nil, implicitStamp)); got != want[k] {
					assert.Equal(t, want[k], got)
					return
				}
				e.Release()
			}
		})
	}
	wg.Wait()
}
