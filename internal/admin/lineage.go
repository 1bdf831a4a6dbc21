package admin

import (
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/state"
)

// LineageSource answers /v1/persons/lineage. *state.Store implements it
// (Store.Lineage and Store.Path: one snapshot each, past the cache), which
// makes the answers the JSON of `resolver explain --format json`.
//
// Threading contract: its methods are called from HTTP handler goroutines,
// concurrently, while the pipeline runs.
type LineageSource interface {
	// Lineage returns how distinctID came to be in its person. An error
	// wrapping ErrUnavailable or state.ErrClosed makes the endpoint answer
	// 503.
	Lineage(team, distinctID string) (state.LineageView, error)
	// Path returns what links a and b, or keeps them apart.
	Path(team, a, b string) (state.PathView, error)
}

var _ LineageSource = (*state.Store)(nil)

// lineage is GET /v1/persons/lineage?team=T&distinct_id=A[&other=B]: the
// lineage of A (state.LineageView), or with other the path between A and B
// (state.PathView). An id without a stored person has a lineage too (its
// person may have been deleted): the answer is 200 either way.
func (s *Server) lineage(w http.ResponseWriter, r *http.Request) {
	q, ok := query(w, r, "team", "distinct_id", "other")
	if !ok {
		return
	}
	team, did, ok := teamAndID(w, q)
	if !ok {
		return
	}
	other := ""
	if _, has := q["other"]; has {
		if other, ok = required(w, q, "other"); !ok || !idBounded(w, "other", other) {
			return
		}
	}
	if !s.available(w, s.deps.Lineage != nil, "lineage queries") {
		return
	}
	if other == "" {
		v, err := s.deps.Lineage.Lineage(team, did)
		if err != nil {
			s.failed(w, "lineage query failed", err, []string{did}, zap.String("team", team), s.ids.Field("distinct_id", did))
			return
		}
		writeJSON(w, http.StatusOK, v)
		return
	}
	v, err := s.deps.Lineage.Path(team, did, other)
	if err != nil {
		s.failed(w, "lineage query failed", err, []string{did, other}, zap.String("team", team),
			s.ids.Field("distinct_id", did), s.ids.Field("other", other))
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// idBounded answers 400 and returns false for a distinct_id parameter over
// maxDistinctIDBytes.
// teamAndID reads the team and distinct_id parameters every person
// endpoint takes, each required and bounded; on a bad one it has answered
// 400.
func teamAndID(w http.ResponseWriter, q url.Values) (team, did string, ok bool) {
	if team, ok = required(w, q, "team"); !ok || !teamBounded(w, team) {
		return "", "", false
	}
	if did, ok = required(w, q, "distinct_id"); !ok || !idBounded(w, "distinct_id", did) {
		return "", "", false
	}
	return team, did, true
}

func idBounded(w http.ResponseWriter, name, id string) bool {
	if len(id) > maxDistinctIDBytes {
		writeError(w, http.StatusBadRequest, "query parameter "+name+": longer than 1024 bytes")
		return false
	}
	return true
}
