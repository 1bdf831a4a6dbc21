package event

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReleaseReusesExtras: released storage for the passed-through
// top-level members carries nothing into the next event, also when a
// rejected record filled it in between.
func TestReleaseReusesExtras(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		d := NewDecoder(Options{Now: testDecoder().now, LazyProperties: lazy})
		for range 3 {
			e, err := d.Decode([]byte(ev(`"a":1,"b":[2]`)), testSource)
			require.NoError(t, err)
			assert.Equal(t, []extra{{"token", []byte(`"t"`)}, {"a", []byte("1")}, {"b", []byte("[2]")}}, e.extras)
			e.Release()

			_, err = d.Decode([]byte(`{"event":"e","distinct_id":"d","x":1,"y":2}`), testSource)
			require.ErrorIs(t, err, ErrMissingTeam)

			e, err = d.Decode([]byte(`{"event":"e","distinct_id":"d","properties":{"token":"t"}}`), testSource)
			require.NoError(t, err)
			assert.Empty(t, e.extras)
			assert.Contains(t, string(e.AppendStamped(nil, implicitStamp)), `"properties":{"token":"t"},"person_id"`)
			e.Release()
		}
	}
}
