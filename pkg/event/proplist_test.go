package event

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lazyDecoder() *Decoder {
	return NewDecoder(Options{Now: func() time.Time { return testNow }, LazyProperties: true})
}

// TestLazyPropertiesVerbatim: the properties object goes out as its own
// bytes exactly when writing it member by member would give those bytes.
func TestLazyPropertiesVerbatim(t *testing.T) {
	tests := []struct {
		name, props string
		verbatim    bool
	}{
		{"compact", `{"a":1,"b":{"c" : [1, 2]},"$set":{"x":1}}`, true},
		{"empty", `{}`, true},
		{"space between members", `{"a":1, "b":2}`, false},
		{"space in an empty object", `{ }`, false},
		{"space before a colon", `{"a" :1}`, false},
		{"repeated key", `{"a":1,"a":2}`, false},
		{"escaped key", `{"\u0061":1}`, false},
		{"non-ASCII key", `{"é":1}`, false},
		{"personless with $unset", `{"$process_person_profile":false,"$unset":["a"]}`, false},
		{"personless without person keys", `{"$process_person_profile":false,"a":1}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ev(`"properties":` + tt.props)
			e, err := lazyDecoder().Decode([]byte(in), testSource)
			require.NoError(t, err)
			assert.Nil(t, e.Properties)
			if tt.verbatim {
				assert.Equal(t, tt.props, string(e.verbatim))
			} else {
				assert.Nil(t, e.verbatim)
			}
			assert.Equal(t, string(mustDecode(t, in).AppendStamped(nil, implicitStamp)), string(e.AppendStamped(nil, implicitStamp)))
		})
	}
	// A top-level $set merged into properties.$set is a rewrite.
	e, err := lazyDecoder().Decode([]byte(ev(`"properties":{"$set":{"a":1}},"$set":{"b":2}`)), testSource)
	require.NoError(t, err)
	assert.Nil(t, e.verbatim)
	assert.Contains(t, string(e.AppendStamped(nil, implicitStamp)), `"properties":{"$set":{"a":1,"b":2}}`)
}

func TestLazyPropertiesAccessors(t *testing.T) {
	in := ev(`"properties":{"a":1,"b":2,"a":3},"$set_once":{"s":1}`)
	e, err := lazyDecoder().Decode([]byte(in), testSource)
	require.NoError(t, err)
	v, ok := e.Property("a")
	assert.True(t, ok)
	assert.Equal(t, "3", string(v))
	v, ok = e.Property("$set_once")
	assert.True(t, ok)
	assert.Equal(t, `{"s":1}`, string(v))
	_, ok = e.Property("c")
	assert.False(t, ok)

	m := e.PropertiesMap()
	assert.Equal(t, mustDecode(t, in).Properties, m)
	assert.Equal(t, []string{"a", "b", "$set_once"}, orderKeys(e))
	m["a"] = json.RawMessage(`"changed"`)
	delete(m, "b")
	m["$ip"] = json.RawMessage(`"1.2.3.4"`)
	assert.Contains(t, string(e.AppendStamped(nil, implicitStamp)), `"properties":{"a":"changed","$set_once":{"s":1},"$ip":"1.2.3.4"}`)
	v, ok = e.Property("a")
	assert.True(t, ok, "Property reads the map once it is built")
	assert.Equal(t, `"changed"`, string(v))

	// The default Decoder's events answer Property from the map.
	d := mustDecode(t, in)
	v, ok = d.Property("b")
	assert.True(t, ok)
	assert.Equal(t, "2", string(v))
	assert.Equal(t, d.Properties, d.PropertiesMap())
}

// TestLazyPropertiesReleaseAcrossModes: released storage serves either
// mode.
func TestLazyPropertiesReleaseAcrossModes(t *testing.T) {
	in := []byte(ev(`"properties":{"a":1,"b":2}`))
	want := string(mustDecode(t, string(in)).AppendStamped(nil, implicitStamp))
	for range 3 {
		mustDecode(t, string(in)).Release()
		e, err := lazyDecoder().Decode(in, testSource)
		require.NoError(t, err)
		assert.Nil(t, e.Properties)
		assert.Equal(t, want, string(e.AppendStamped(nil, implicitStamp)))
		e.Release()
		d := mustDecode(t, string(in))
		assert.Equal(t, map[string]json.RawMessage{"a": json.RawMessage("1"), "b": json.RawMessage("2")}, d.Properties)
		assert.Equal(t, want, string(d.AppendStamped(nil, implicitStamp)))
		d.Release()
	}
}

// TestLazyPropertiesInPlace decodes into released storage, where the
// property list is built in place over the parsed members.
func TestLazyPropertiesInPlace(t *testing.T) {
	d := lazyDecoder()
	for _, in := range []string{
		ev(`"properties":{"a":1,"b":2,"a":3,"c":4,"b":5,"d":6}`),
		// Same length, first and last eight bytes: the same keySlot.
		ev(`"properties":{"abcdefgh1ijklmnop":1,"abcdefgh2ijklmnop":2,"abcdefgh1ijklmnop":3}`),
		ev(`"properties":{"$process_person_profile":false,"$set":{"x":1},"a":1,"$unset":["a"],"a":2,"b":3}`),
		ev(`"properties":{"$set":{"x":1},"a":1,"$set":{"y":2}},"$set":{"z":3},"$set_once":{"w":4}`),
		`{"token":"t","distinct_id":"d","properties":{"e":1,"e":2},"data":"{\"event\":\"e\",\"properties\":{\"i\":1}}"}`,
		`{"token":"t","distinct_id":"d","properties":null,"data":"{\"event\":\"e\",\"properties\":{\"i\":1,\"j\":2,\"i\":3}}"}`,
	} {
		want := string(mustDecode(t, in).AppendStamped(nil, implicitStamp))
		for range 3 {
			e, err := d.Decode([]byte(in), testSource)
			require.NoError(t, err)
			require.Equal(t, want, string(e.AppendStamped(nil, implicitStamp)), in)
			e.Release()
		}
	}
}

// TestKeyIndexManyKeys crosses keyIndexMax, where the index moves to a map.
func TestKeyIndexManyKeys(t *testing.T) {
	props := "{"
	for i := range 3 * keyIndexMax {
		props += `"k` + itoa(int64(i%(2*keyIndexMax))) + `":` + itoa(int64(i)) + ","
	}
	props += `"$set":1}`
	in := ev(`"properties":` + props + `,"$set":{"a":1}`)
	e, err := lazyDecoder().Decode([]byte(in), testSource)
	require.NoError(t, err)
	want := mustDecode(t, in)
	assert.Equal(t, string(want.AppendStamped(nil, implicitStamp)), string(e.AppendStamped(nil, implicitStamp)))
	assert.Len(t, e.props, 2*keyIndexMax+1)
	assert.Equal(t, want.Properties, e.PropertiesMap())
}

// TestNoCopy: with Options.NoCopy the event reads the record value in
// place, never writes to it, and appending to a property value does not
// write into it either.
func TestNoCopy(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		d := NewDecoder(Options{Now: func() time.Time { return testNow }, NoCopy: true, LazyProperties: lazy})
		in := []byte(ev(`"properties":{"a":1,"b":2},"$set":{"s":"v"}`))
		orig := string(in)
		e, err := d.Decode(in, testSource)
		require.NoError(t, err)
		a, _ := e.Property("a")
		grown := append(a, `999,"b":3`...)
		assert.Equal(t, `1999,"b":3`, string(grown))
		assert.Equal(t, orig, string(in), "lazy %v", lazy)
		out := string(e.AppendStamped(nil, implicitStamp))
		assert.Equal(t, string(mustDecode(t, orig).AppendStamped(nil, implicitStamp)), out)

		// The event's values are windows of in: what the caller promises
		// not to do shows through.
		in[bytes.Index(in, []byte(`"a":1`))+4] = '7'
		a, _ = e.Property("a")
		assert.Equal(t, "7", string(a), "lazy %v", lazy)
	}
}
