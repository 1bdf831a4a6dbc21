package billing

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClassStringAndParse(t *testing.T) {
	tests := []struct {
		class Class
		name  string
	}{
		{Excluded, "excluded"},
		{Anonymous, "anonymous"},
		{Identified, "identified"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, tt.class.String())
			got, err := ParseClass(tt.name)
			require.NoError(t, err)
			assert.Equal(t, tt.class, got)
		})
	}
	assert.Equal(t, Excluded, Class(0), "the zero Class bills nothing")
	assert.Equal(t, Classes(), []Class{Excluded, Anonymous, Identified})
}

func TestParseClassRejects(t *testing.T) {
	for _, s := range []string{"", "Identified", "ANONYMOUS", " anonymous", "personless", "class(3)"} {
		_, err := ParseClass(s)
		assert.ErrorIs(t, err, ErrUnknownClass, "%q", s)
	}
}

func TestClassUndefined(t *testing.T) {
	c := Class(7)
	assert.False(t, c.Valid())
	assert.Equal(t, "class(7)", c.String())
	_, err := json.Marshal(c)
	assert.ErrorIs(t, err, ErrUnknownClass)
}

func TestClassJSON(t *testing.T) {
	b, err := json.Marshal(map[Class]int{Identified: 1, Anonymous: 2})
	require.NoError(t, err)
	assert.JSONEq(t, `{"identified":1,"anonymous":2}`, string(b), "Class works as a JSON object key")

	var c Class
	require.NoError(t, json.Unmarshal([]byte(`"identified"`), &c))
	assert.Equal(t, Identified, c)
	require.NoError(t, json.Unmarshal([]byte(`null`), &c))
	assert.Equal(t, Identified, c, "null leaves the value alone")
	assert.ErrorIs(t, json.Unmarshal([]byte(`2`), &c), ErrUnknownClass)
	assert.ErrorIs(t, json.Unmarshal([]byte(`"bogus"`), &c), ErrUnknownClass)
}
