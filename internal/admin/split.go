package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/lifecycle"
)

// PersonSplitter is what POST /v1/persons/split needs of PersonCommands:
// cmd/resolver's implementation writes the split command the way `resolver
// persons split` does (stream.Request) and waits for its outcome. A
// PersonCommands without it makes the endpoint answer 503.
//
// Threading contract: called from HTTP handler goroutines, concurrently.
type PersonSplitter interface {
	// SplitPerson writes a split command moving distinctIDs (all of one
	// person; the first names the new person) out of their person, and
	// waits (bounded) for its outcome. An error wrapping ErrPending means
	// it was written but its outcome was not seen in time (202).
	SplitPerson(ctx context.Context, team string, distinctIDs []string, noProperties bool) (SplitOutcome, error)
}

// SplitOutcome is the answer of POST /v1/persons/split.
type SplitOutcome struct {
	RequestID string `json:"request_id"`
	// Status is "split", "refused" (answered 409, Refused and Reason say
	// why) or "pending" (202).
	Status       string   `json:"status"`
	Team         string   `json:"team"`
	DistinctIDs  []string `json:"distinct_ids"` // as named
	NoProperties bool     `json:"no_properties"`
	// Refused is the refusal's code (cannot_split_every_distinct_id,
	// cannot_split_distinct_id_not_in_person, unknown_distinct_id) and
	// Reason the same in words.
	Refused string `json:"refused,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// FromPersonID is the person the ids left, NewPersonID the one they
	// formed, Moved the ids that moved.
	FromPersonID string   `json:"from_person_id,omitempty"`
	NewPersonID  string   `json:"new_person_id,omitempty"`
	Moved        []string `json:"distinct_ids_moved,omitempty"`
	// Where the command was written (identity_commands).
	Partition int32 `json:"command_partition"`
	Offset    int64 `json:"command_offset"`
}

// splitPerson is POST /v1/persons/split?team=T&distinct_id=D[&distinct_id=E…][&no_properties=true].
// distinct_id is the one parameter that may repeat: the ids to move, the
// first naming the new person. The command is checked as `resolver persons
// split` checks it (lifecycle.Command.Validate) before anything is written.
func (s *Server) splitPerson(w http.ResponseWriter, r *http.Request) {
	q, ok := queryRepeating(w, r, []string{"distinct_id"}, "team", "distinct_id", "no_properties")
	if !ok {
		return
	}
	team, ok := required(w, q, "team")
	if !ok || !teamBounded(w, team) {
		return
	}
	ids := q["distinct_id"]
	if len(ids) == 0 {
		writeError(w, http.StatusBadRequest, "missing query parameter distinct_id: name at least one id to move")
		return
	}
	for _, id := range ids {
		if id == "" {
			writeError(w, http.StatusBadRequest, "query parameter distinct_id: must not be empty")
			return
		}
		if !idBounded(w, "distinct_id", id) {
			return
		}
	}
	noProps := false
	if v := q.Get("no_properties"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "query parameter no_properties: must be true or false")
			return
		}
		noProps = b
	}
	c := lifecycle.NewSplit(team, ids, noProps, time.Now())
	if err := c.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sp, _ := s.deps.Commands.(PersonSplitter)
	if !s.available(w, sp != nil, "person splits") {
		return
	}
	out, err := sp.SplitPerson(r.Context(), team, ids, noProps)
	switch {
	case errors.Is(err, ErrPending):
		out.Status = "pending"
		writeJSON(w, http.StatusAccepted, out)
	case err != nil:
		s.failed(w, "person split failed", err, ids, zap.String("team", team), s.ids.Field("distinct_id", ids[0]))
	case out.Status == "refused":
		writeJSON(w, http.StatusConflict, out)
	default:
		s.log.Info("person split", zap.String("team", team), s.ids.Field("distinct_id", ids[0]), zap.Int("distinct_ids", len(ids)),
			zap.String("status", out.Status), zap.String("request_id", out.RequestID))
		writeJSON(w, http.StatusOK, out)
	}
}

// queryRepeating is query, except that the parameters in repeatable may
// be given more than once.
func queryRepeating(w http.ResponseWriter, r *http.Request, repeatable []string, allowed ...string) (url.Values, bool) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed query string")
		return nil, false
	}
	for k, vs := range q {
		known, repeats := false, false
		for _, a := range allowed {
			known = known || k == a
		}
		for _, a := range repeatable {
			repeats = repeats || k == a
		}
		if !known {
			writeError(w, http.StatusBadRequest, "unknown query parameter "+quote(k)+": want "+strings.Join(allowed, ", "))
			return nil, false
		}
		if len(vs) > 1 && !repeats {
			writeError(w, http.StatusBadRequest, "query parameter "+k+": given more than once")
			return nil, false
		}
	}
	return q, true
}
