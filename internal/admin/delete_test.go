package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/admin"
)

// fakeCommands records the deletions asked of it and answers from a table.
type fakeCommands struct {
	mu    sync.Mutex
	calls []string
	known map[string]bool
	err   error
}

func (f *fakeCommands) DeletePerson(_ context.Context, team, did string, block bool) (admin.CommandOutcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("%s/%s/%v", team, did, block))
	out := admin.CommandOutcome{RequestID: "r-1", Team: team, DistinctID: did, Blocked: block, Partition: 0, Offset: int64(len(f.calls) - 1)}
	if f.err != nil {
		return out, f.err
	}
	if !f.known[did] {
		out.Status = "no_op"
		return out, nil
	}
	out.Status, out.PersonID, out.DistinctIDs = "deleted", "p", []string{did}
	return out, nil
}

func TestDeletePerson(t *testing.T) {
	cmds := &fakeCommands{known: map[string]bool{"user-1": true}}
	f := newFixture(t, admin.Config{Token: "s3cret"}, func(d *admin.Deps) { d.Commands = cmds })
	auth := []string{"Authorization", "Bearer s3cret"}

	a := f.do(t, http.MethodDelete, "/v1/persons?team=1&distinct_id=user-1")
	require.Equal(t, http.StatusUnauthorized, a.code, "the admin token is required")
	assert.Empty(t, cmds.calls)

	a = f.do(t, http.MethodDelete, "/v1/persons?team=1&distinct_id=user-1&block=true", auth...)
	require.Equal(t, http.StatusOK, a.code, "%s", a.body)
	m := a.json(t)
	assert.Equal(t, "deleted", m["status"])
	assert.Equal(t, true, m["blocked"])
	assert.Equal(t, []any{"user-1"}, m["distinct_ids_deleted"])

	a = f.do(t, http.MethodDelete, "/v1/persons?team=1&distinct_id=nobody", auth...)
	require.Equal(t, http.StatusOK, a.code)
	assert.Equal(t, "no_op", a.json(t)["status"], "deleting an unknown id is a no-op, not an error")
	assert.Equal(t, []string{"1/user-1/true", "1/nobody/false"}, cmds.calls)

	for _, q := range []string{"team=1", "distinct_id=a", "team=1&distinct_id=a&block=maybe", "team=1&distinct_id=a&force=1"} {
		a = f.do(t, http.MethodDelete, "/v1/persons?"+q, auth...)
		assert.Equal(t, http.StatusBadRequest, a.code, q)
	}
	assert.Len(t, cmds.calls, 2, "bad requests write no command")

	a = f.do(t, http.MethodDelete, "/v1/billing", auth...)
	assert.Equal(t, http.StatusMethodNotAllowed, a.code, "only persons can be deleted")
	a = f.do(t, http.MethodPost, "/v1/persons?team=1&distinct_id=a", auth...)
	assert.Equal(t, http.StatusMethodNotAllowed, a.code)

	cmds.err = fmt.Errorf("waited 30s: %w", admin.ErrPending)
	a = f.do(t, http.MethodDelete, "/v1/persons?team=1&distinct_id=user-1", auth...)
	require.Equal(t, http.StatusAccepted, a.code)
	assert.Equal(t, "pending", a.json(t)["status"])
	assert.Equal(t, "r-1", a.json(t)["request_id"])

	cmds.err = errors.New("kafka down")
	a = f.do(t, http.MethodDelete, "/v1/persons?team=1&distinct_id=user-1", auth...)
	assert.GreaterOrEqual(t, a.code, 500)
}

func TestDeletePersonUnavailable(t *testing.T) {
	f := newFixture(t, admin.Config{})
	a := f.do(t, http.MethodDelete, "/v1/persons?team=1&distinct_id=user-1")
	assert.Equal(t, http.StatusServiceUnavailable, a.code)
}
