package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"go.uber.org/zap"
)

// PersonCommands writes admin lifecycle commands (docs/SEMANTICS.md §8) for
// DELETE /v1/persons. cmd/resolver implements it with stream.Request.
//
// Threading contract: called from HTTP handler goroutines, concurrently.
type PersonCommands interface {
	// DeletePerson writes a delete command and waits (bounded) for its
	// outcome. An error wrapping ErrPending means it was written but its
	// outcome was not seen in time (answered 202 with the outcome's
	// RequestID).
	DeletePerson(ctx context.Context, team, distinctID string, block bool) (CommandOutcome, error)
}

// ErrPending: a command was written and will be applied, but its outcome
// was not seen within the wait.
var ErrPending = errors.New("admin: the command was written; its outcome is pending")

// CommandOutcome is the answer of DELETE /v1/persons.
type CommandOutcome struct {
	RequestID string `json:"request_id"`
	// Status is "deleted", "no_op" (no person has the id), or "pending".
	Status      string   `json:"status"`
	Team        string   `json:"team"`
	DistinctID  string   `json:"distinct_id"`
	Blocked     bool     `json:"blocked"`
	PersonID    string   `json:"person_id,omitempty"`
	DistinctIDs []string `json:"distinct_ids_deleted,omitempty"`
	// Where the command was written (identity_commands).
	Partition int32 `json:"command_partition"`
	Offset    int64 `json:"command_offset"`
}

// deletePerson is DELETE /v1/persons?team=&distinct_id=[&block=true].
func (s *Server) deletePerson(w http.ResponseWriter, r *http.Request) {
	q, ok := query(w, r, "team", "distinct_id", "block")
	if !ok {
		return
	}
	team, did, ok := teamAndID(w, q)
	if !ok {
		return
	}
	block := false
	if v := q.Get("block"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "query parameter block: must be true or false")
			return
		}
		block = b
	}
	if !s.available(w, s.deps.Commands != nil, "person deletion") {
		return
	}
	out, err := s.deps.Commands.DeletePerson(r.Context(), team, did, block)
	switch {
	case errors.Is(err, ErrPending):
		out.Status = "pending"
		writeJSON(w, http.StatusAccepted, out)
	case err != nil:
		s.failed(w, "person deletion failed", err, []string{did}, zap.String("team", team), s.ids.Field("distinct_id", did))
	default:
		s.log.Info("person deletion", zap.String("team", team), s.ids.Field("distinct_id", did), zap.String("status", out.Status), zap.String("request_id", out.RequestID))
		writeJSON(w, http.StatusOK, out)
	}
}
