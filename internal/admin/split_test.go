package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/admin"
)

// fakeSplitter is a fakeCommands that splits too: ids of person "p" can
// move, unless all of them are named.
type fakeSplitter struct {
	*fakeCommands
	splits [][]string
	member map[string]bool
}

func (f *fakeSplitter) SplitPerson(_ context.Context, team string, ids []string, noProps bool) (admin.SplitOutcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.splits = append(f.splits, append([]string{team, fmt.Sprint(noProps)}, ids...))
	out := admin.SplitOutcome{RequestID: "r-2", Team: team, DistinctIDs: ids, NoProperties: noProps}
	if f.err != nil {
		return out, f.err
	}
	for _, id := range ids {
		if !f.member[id] {
			out.Status, out.Refused, out.Reason = "refused", "cannot_split_distinct_id_not_in_person", "not all in one person"
			return out, nil
		}
	}
	if len(ids) == len(f.member) {
		out.Status, out.Refused = "refused", "cannot_split_every_distinct_id"
		return out, nil
	}
	out.Status, out.FromPersonID, out.NewPersonID, out.Moved = "split", "p", "q", ids
	return out, nil
}

func splitQuery(team string, ids ...string) string {
	q := url.Values{"team": {team}, "distinct_id": ids}
	return "/v1/persons/split?" + q.Encode()
}

// TestSplitPerson: POST /v1/persons/split needs the token, takes repeated
// distinct_ids (hostile ones included, passed through as they are), answers
// 200, 409 for a refusal, 202 pending, 400 for bad requests (which write no
// command) and 503 without a splitter.
func TestSplitPerson(t *testing.T) {
	hostile := []string{`<img src=x onerror=alert(1)>`, "a\"b'c", "line\nbreak", "\u202eevil", "&amp;", "ünï", "../../etc"}
	member := map[string]bool{"keep": true}
	for _, h := range hostile {
		member[h] = true
	}
	cmds := &fakeSplitter{fakeCommands: &fakeCommands{}, member: member}
	f := newFixture(t, admin.Config{Token: "s3cret"}, func(d *admin.Deps) { d.Commands = cmds })
	auth := []string{"Authorization", "Bearer s3cret"}

	a := f.do(t, http.MethodPost, splitQuery("1", "a"))
	require.Equal(t, http.StatusUnauthorized, a.code, "the admin token is required")
	a = f.do(t, http.MethodPost, splitQuery("1", "a"), "Authorization", "Bearer wrong")
	require.Equal(t, http.StatusUnauthorized, a.code)
	assert.Empty(t, cmds.splits)

	a = f.do(t, http.MethodPost, splitQuery("1", hostile...)+"&no_properties=true", auth...)
	require.Equal(t, http.StatusOK, a.code, "%s", a.body)
	m := a.json(t)
	assert.Equal(t, "split", m["status"])
	assert.Equal(t, "q", m["new_person_id"])
	moved := []any{}
	for _, h := range hostile {
		moved = append(moved, h)
	}
	assert.Equal(t, moved, m["distinct_ids_moved"], "hostile ids reach the command as they are")
	assert.NotContains(t, string(a.body), "<img", "the JSON answer escapes markup")
	assert.Equal(t, append([]string{"1", "true"}, hostile...), cmds.splits[0])

	a = f.do(t, http.MethodPost, splitQuery("1", "stranger"), auth...)
	require.Equal(t, http.StatusConflict, a.code, "%s", a.body)
	assert.Equal(t, "refused", a.json(t)["status"])
	assert.Equal(t, "cannot_split_distinct_id_not_in_person", a.json(t)["refused"])

	calls := len(cmds.splits)
	for _, tc := range []struct{ q, msg string }{
		{"/v1/persons/split?team=1", "missing query parameter distinct_id"},
		{"/v1/persons/split?distinct_id=a", "missing query parameter team"},
		{"/v1/persons/split?team=1&distinct_id=", "distinct_id: must not be empty"},
		{"/v1/persons/split?team=1&distinct_id=a&distinct_id=", "distinct_id: must not be empty"},
		{"/v1/persons/split?team=1&team=2&distinct_id=a", "team: given more than once"},
		{"/v1/persons/split?team=1&distinct_id=a&no_properties=perhaps", "no_properties: must be true or false"},
		{"/v1/persons/split?team=1&distinct_id=a&block=true", `unknown query parameter "block"`},
		{"/v1/persons/split?team=1&distinct_id=" + strings.Repeat("x", 1025), "longer than 1024 bytes"},
		{"/v1/persons/split?team=" + strings.Repeat("t", 201) + "&distinct_id=a", "longer than 200 bytes"},
		{"/v1/persons/split?team=a%00b&distinct_id=a", "team"},
		{"/v1/persons/split?team=1&distinct_id=%zz", "malformed query string"},
	} {
		a = f.do(t, http.MethodPost, tc.q, auth...)
		assert.Equal(t, http.StatusBadRequest, a.code, "%.80s: %s", tc.q, a.body)
		assert.Contains(t, a.json(t)["error"], tc.msg, tc.q)
	}
	assert.Len(t, cmds.splits, calls, "bad requests write no command")

	a = f.do(t, http.MethodGet, splitQuery("1", "keep"), auth...)
	assert.Equal(t, http.StatusMethodNotAllowed, a.code, "a split is a POST")
	a = f.do(t, http.MethodPost, "/v1/persons/lineage?team=1&distinct_id=a", auth...)
	assert.Equal(t, http.StatusMethodNotAllowed, a.code, "POST is for splits only")

	cmds.err = fmt.Errorf("waited: %w", admin.ErrPending)
	a = f.do(t, http.MethodPost, splitQuery("1", "keep"), auth...)
	require.Equal(t, http.StatusAccepted, a.code)
	assert.Equal(t, "pending", a.json(t)["status"])
	cmds.err = errors.New("kafka down")
	a = f.do(t, http.MethodPost, splitQuery("1", "keep"), auth...)
	assert.Equal(t, http.StatusInternalServerError, a.code)
	assert.NotContains(t, string(a.body), "kafka down", "the answer does not carry the error")

	// A PersonCommands that cannot split: 503.
	g := newFixture(t, admin.Config{}, func(d *admin.Deps) { d.Commands = &fakeCommands{} })
	a = g.do(t, http.MethodPost, splitQuery("1", "keep"))
	assert.Equal(t, http.StatusServiceUnavailable, a.code)
	assert.Contains(t, a.json(t)["error"], "person splits are not available")
}

// TestExplorerMount: the explorer's static files are served at /ui/
// without the token, with the Content-Security-Policy; every data call the
// page makes still needs the token, and no path trick under /ui/ skips it.
func TestExplorerMount(t *testing.T) {
	f := newFixture(t, admin.Config{Token: "s3cret"})
	for _, p := range []string{"/ui/", "/ui/explorer.js", "/ui/explorer.css"} {
		a := f.get(t, p)
		require.Equal(t, http.StatusOK, a.code, p)
		assert.Contains(t, a.hdr.Get("Content-Security-Policy"), "default-src 'self'", p)
		assert.Equal(t, "nosniff", a.hdr.Get("X-Content-Type-Options"), p)
	}
	assert.Contains(t, f.get(t, "/ui/").hdr.Get("Content-Type"), "text/html")
	assert.Contains(t, f.get(t, "/ui/explorer.js").hdr.Get("Content-Type"), "javascript")

	a := f.get(t, "/ui")
	assert.Equal(t, http.StatusMovedPermanently, a.code)
	assert.Equal(t, "/ui/", a.hdr.Get("Location"))
	assert.Equal(t, http.StatusNotFound, f.get(t, "/ui/nothing.js").code)

	for _, p := range []string{
		"/v1/persons?team=1&distinct_id=user-1",
		"/v1/persons/lineage?team=1&distinct_id=user-1",
		"/v1/billing",
		"/ui/../v1/persons?team=1&distinct_id=user-1",
		"/ui/%2e%2e/v1/billing",
		"/ui//../v1/billing",
	} {
		a := f.get(t, p)
		assert.NotEqual(t, http.StatusOK, a.code, "%s without the token", p)
		assert.NotContains(t, string(a.body), "user-1\"", "%s leaks nothing", p)
	}
	assert.Equal(t, http.StatusOK, f.get(t, "/v1/billing", "Authorization", "Bearer s3cret").code)
	a = f.do(t, http.MethodPost, "/ui/", "Authorization", "Bearer s3cret")
	assert.Equal(t, http.StatusMethodNotAllowed, a.code, "the explorer's files are read-only")
}
