package redact_test

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/redact"
)

func TestHash(t *testing.T) {
	// sha256("user@example.com") = b4c9a289323b21a01c3e940f150eb9b8c542587f1abfd8f0e1cc1ffc5e475514
	assert.Equal(t, "sha256:b4c9a289323b", redact.Hash("user@example.com"))
	assert.Equal(t, redact.Hash("a"), redact.Hash("a"), "stable")
	assert.NotEqual(t, redact.Hash("a"), redact.Hash("b"))
}

func TestID(t *testing.T) {
	var def redact.IDs
	assert.False(t, def.Showing(), "the zero value redacts")
	assert.Equal(t, redact.Hash("user@example.com"), def.ID("user@example.com"))
	assert.Equal(t, "user@example.com", redact.Show(true).ID("user@example.com"))
	assert.Equal(t, redact.Hash("x"), redact.Show(false).Field("distinct_id", "x").String)
	assert.Equal(t, "x", redact.Show(true).Field("distinct_id", "x").String)
}

func TestError(t *testing.T) {
	base := fmt.Errorf("state: team %q distinct_id %q maps to missing person p1: %w", "1", "user@example.com", fs.ErrNotExist)
	got := redact.IDs{}.Error(base, "user@example.com")
	assert.Equal(t, `state: team "1" distinct_id "`+redact.Hash("user@example.com")+`" maps to missing person p1: file does not exist`, got.Error())
	assert.ErrorIs(t, got, fs.ErrNotExist, "the chain is kept")
	assert.NotContains(t, got.Error(), "user@example.com")

	// As it appears inside a %q-quoted string.
	quoted := fmt.Errorf("key %q: boom", "d/1/tab\there")
	got = redact.IDs{}.Error(quoted, "tab\there")
	assert.False(t, strings.Contains(got.Error(), `tab\there`), got.Error())
	assert.Contains(t, got.Error(), redact.Hash("tab\there"))

	assert.Same(t, base, redact.Show(true).Error(base, "user@example.com"), "shown: unchanged")
	assert.Same(t, base, redact.IDs{}.Error(base, "not-in-text", ""), "nothing to hide: unchanged")
	require.NoError(t, redact.IDs{}.Error(nil, "x"))
	assert.True(t, errors.Is(redact.IDs{}.Error(base, "user@example.com"), fs.ErrNotExist))
}
