package redact_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/redact"
)

// TestHashKeyed: the hash is HMAC-SHA256 under the key, 16 hex digits; it
// differs between keys, so without the key a guess cannot be checked (the
// unkeyed SHA-256 it replaces could be: issue 11).
func TestHashKeyed(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	m := hmac.New(sha256.New, key)
	m.Write([]byte("user@example.com"))
	want := "hmac:" + hex.EncodeToString(m.Sum(nil))[:16]
	assert.Equal(t, want, redact.HashWith(key, "user@example.com"))
	assert.Len(t, redact.HashWith(key, "x"), len("hmac:")+16)

	other := redact.HashWith([]byte("another key, also 32 bytes long."), "user@example.com")
	assert.NotEqual(t, want, other, "keyed")
	sum := sha256.Sum256([]byte("user@example.com"))
	assert.NotContains(t, want, hex.EncodeToString(sum[:])[:12], "not the unkeyed digest")

	assert.Equal(t, redact.Hash("a"), redact.Hash("a"), "stable within the process")
	assert.NotEqual(t, redact.Hash("a"), redact.Hash("b"))
	assert.True(t, strings.HasPrefix(redact.Hash("a"), redact.Prefix))
}

// TestSetKey: SetKey makes Hash use the configured key; an empty key keeps
// the current one.
func TestSetKey(t *testing.T) {
	key := []byte("a configured key of 32 bytes....")
	redact.SetKey(key)
	assert.Equal(t, redact.HashWith(key, "user-1"), redact.Hash("user-1"))
	redact.SetKey(nil)
	assert.Equal(t, redact.HashWith(key, "user-1"), redact.Hash("user-1"), "empty: unchanged")
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

// TestErrorWholeTokens pins issue 11's mangling: ids were replaced as
// substrings, so a short id like "a" rewrote every "a" of the message. Only
// whole tokens are replaced now.
func TestErrorWholeTokens(t *testing.T) {
	h := redact.Hash
	for _, tc := range []struct {
		msg  string
		ids  []string
		want string
	}{
		{`state: apply a batch: distinct_id "a" is bad`, []string{"a"}, `state: apply a batch: distinct_id "` + h("a") + `" is bad`},
		{"merge a into b: refused", []string{"a", "b"}, "merge " + h("a") + " into " + h("b") + ": refused"},
		{"team 1: id 1 failed at offset 11", []string{"1"}, "team " + h("1") + ": id " + h("1") + " failed at offset 11"},
		{"user@example.com.", []string{"user@example.com"}, h("user@example.com") + "."},
		{"id=user-1,other=user-12", []string{"user-1"}, "id=" + h("user-1") + ",other=user-12"},
		{"café is not cafébar", []string{"café"}, h("café") + " is not cafébar"},
		{"aaa", []string{"a"}, "aaa"},
		{"a", []string{"a"}, h("a")},
		{"xa ax a", []string{"a"}, "xa ax " + h("a")},
		{`merge "alice" into alice's person`, []string{"alice"}, `merge "` + h("alice") + `" into ` + h("alice") + `'s person`},
		{`id "ab" in ab`, []string{"ab"}, `id "` + h("ab") + `" in ab`},
		// A hash put in for one id is not matched by another.
		{`merge "alice" into "hmac"`, []string{"alice", "hmac"}, `merge "` + h("alice") + `" into "` + h("hmac") + `"`},
	} {
		got := redact.IDs{}.Error(errors.New(tc.msg), tc.ids...)
		assert.Equal(t, tc.want, got.Error(), "%q %q", tc.msg, tc.ids)
	}
}

func FuzzErrorWholeTokens(f *testing.F) {
	f.Add("state: apply a batch: id a", "a")
	f.Add("aaaa", "aa")
	f.Fuzz(func(t *testing.T, msg, id string) {
		got := redact.IDs{}.Error(errors.New(msg), id)
		if id == "" || got.Error() == msg {
			return
		}
		// Something was replaced: the hash is there, and the text outside
		// the replacements is the message's.
		if !strings.Contains(got.Error(), redact.Hash(id)) {
			t.Fatalf("%q with %q: %q has no hash", msg, id, got.Error())
		}
	})
}
