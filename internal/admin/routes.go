package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/explorer"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
)

// maxDistinctIDBytes bounds the distinct_id of a lookup. Stored ids are at
// most 200 characters (the decoder cuts longer ones, docs/SEMANTICS.md §1), at
// most 800 bytes of UTF-8, so this only keeps absurd requests away from the
// store.
const maxDistinctIDBytes = 1024

// maxTeamBytes bounds the team of a lookup or report: a longer team is
// dead-lettered as invalid_team (docs/SEMANTICS.md §1), so none is stored.
const maxTeamBytes = 200

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/readyz", s.readyz)
	mux.Handle("/metrics", s.metrics())
	mux.HandleFunc("GET /v1/persons", s.persons)
	mux.HandleFunc("DELETE /v1/persons", s.deletePerson)
	mux.HandleFunc("GET /v1/persons/lineage", s.lineage)
	mux.HandleFunc("POST /v1/persons/split", s.splitPerson)
	mux.HandleFunc("/v1/persons/split", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: a split is a POST")
	})
	mux.Handle("/ui/", http.StripPrefix("/ui", explorer.Handler()))
	mux.Handle("/ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	mux.HandleFunc("/v1/billing", s.billing)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path)
	})
	return limitRequest(s.authenticate(onlyGet(mux)))
}

// limitRequest rejects a request whose query string (414) or declared body
// (413) is over its bound, and caps what can be read of the body, before
// anything else looks at it. Headers are bounded by the http.Server
// (MaxHeaderBytes, 431).
func limitRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.URL.RawQuery) > maxQueryBytes {
			writeError(w, http.StatusRequestURITooLong, "query string longer than 8192 bytes")
			return
		}
		if r.ContentLength > maxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, "request body longer than 1024 bytes: no endpoint takes a body")
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// onlyGet answers 405 to anything but GET and HEAD, except DELETE of
// /v1/persons (a person's deletion) and POST of /v1/persons/split (a
// split): every other endpoint reads.
func onlyGet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodDelete && r.URL.Path == "/v1/persons") ||
			(r.Method == http.MethodPost && r.URL.Path == "/v1/persons/split") {
			next.ServeHTTP(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed: use GET")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyBody is the answer of /readyz: status "ready" (200), "not_ready"
// with the reason (503) or "stopping" (503, once the server drains); the
// lag and the applied offsets when the Readiness reports them.
type readyBody struct {
	Status         string          `json:"status"`
	Reason         string          `json:"reason,omitempty"`
	LagSeconds     *float64        `json:"lag_seconds,omitempty"`
	AppliedOffsets map[int32]int64 `json:"applied_offsets,omitempty"`
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "stopping"})
		return
	}
	var r ReadyReport
	switch rd := s.deps.Ready.(type) {
	case nil:
	case ReadyReporter:
		r = rd.ReadyReport()
	default:
		r.Err = rd.Ready()
	}
	b := readyBody{Status: "ready", AppliedOffsets: r.AppliedOffsets}
	if _, ok := s.deps.Ready.(ReadyReporter); ok {
		b.LagSeconds = &r.LagSeconds
	}
	if r.Err != nil {
		b.Status, b.Reason = "not_ready", r.Err.Error()
		writeJSON(w, http.StatusServiceUnavailable, b)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) metrics() http.Handler {
	if s.deps.Gatherer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusServiceUnavailable, "metrics are not available in this process")
		})
	}
	return promhttp.HandlerFor(s.deps.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      zap.NewStdLog(s.log),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// persons is GET /v1/persons?team=T&distinct_id=D.
func (s *Server) persons(w http.ResponseWriter, r *http.Request) {
	q, ok := query(w, r, "team", "distinct_id")
	if !ok {
		return
	}
	team, did, ok := teamAndID(w, q)
	if !ok {
		return
	}
	if !s.available(w, s.deps.Persons != nil, "person lookups") {
		return
	}
	v, err := s.deps.Persons.Lookup(team, did)
	if err != nil {
		s.failed(w, "person lookup failed", err, []string{did}, zap.String("team", team), s.ids.Field("distinct_id", did))
		return
	}
	if v.Implicit {
		writeJSON(w, http.StatusNotFound, notStored{
			Error:      "no stored person for this distinct_id: it belongs to its implicit person, person_id, which has no stored state",
			Team:       team,
			DistinctID: did,
			PersonID:   v.PersonID,
			Implicit:   true,
		})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// notStored is the 404 body of /v1/persons for an implicit person: the
// error, and the members of state.PersonView that such a person has.
type notStored struct {
	Error      string `json:"error"`
	Team       string `json:"team"`
	DistinctID string `json:"distinct_id"`
	PersonID   string `json:"person_id"` // the implicit person (docs/SEMANTICS.md §3)
	Implicit   bool   `json:"implicit"`
}

// billing is GET /v1/billing?team=T&month=YYYY-MM.
func (s *Server) billing(w http.ResponseWriter, r *http.Request) {
	q, ok := query(w, r, "team", "month")
	if !ok {
		return
	}
	f := billing.Filter{Team: q.Get("team"), Month: q.Get("month")}
	if !teamBounded(w, f.Team) {
		return
	}
	if f.Month != "" {
		if _, err := billing.ParseMonth(f.Month); err != nil {
			writeError(w, http.StatusBadRequest, "query parameter month: "+quote(f.Month)+" is not a month: want YYYY-MM, e.g. 2026-11")
			return
		}
	}
	if !s.available(w, s.deps.Billing != nil, "billing reports") {
		return
	}
	rep, err := s.deps.Billing.Report(f)
	if err != nil {
		s.failed(w, "billing report failed", err, nil, zap.String("team", f.Team), zap.String("month", f.Month))
		return
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		s.failed(w, "billing report failed", err, nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// available answers 503 and returns false when the instance is stopping or
// the dependency is missing.
func (s *Server) available(w http.ResponseWriter, have bool, what string) bool {
	switch {
	case s.draining.Load():
		writeError(w, http.StatusServiceUnavailable, "the instance is stopping")
		return false
	case !have:
		writeError(w, http.StatusServiceUnavailable, what+" are not available in this process")
		return false
	}
	return true
}

// failed answers 503 for ErrUnavailable and 500 otherwise, and logs the
// error. The error may embed the ids looked up (a corrupt-state error names
// its distinct_id): those in ids are hashed in the logged text unless
// LogIDs. The answer does not carry the error, which may name storage
// internals.
func (s *Server) failed(w http.ResponseWriter, msg string, err error, ids []string, fields ...zap.Field) {
	if errors.Is(err, ErrUnavailable) || errors.Is(err, state.ErrClosed) || s.draining.Load() {
		writeError(w, http.StatusServiceUnavailable, "temporarily unavailable: the replica is closing")
		return
	}
	s.log.Error(msg, append(fields, zap.Error(s.ids.Error(err, ids...)))...)
	writeError(w, http.StatusInternalServerError, msg)
}

// query parses the query string and rejects parameters other than allowed
// (a misspelt filter would silently widen the answer) and repeated ones.
func query(w http.ResponseWriter, r *http.Request, allowed ...string) (url.Values, bool) {
	return queryRepeating(w, r, nil, allowed...)
}

// teamBounded answers 400 and returns false for a team over maxTeamBytes.
func teamBounded(w http.ResponseWriter, team string) bool {
	if len(team) > maxTeamBytes {
		writeError(w, http.StatusBadRequest, "query parameter team: longer than 200 bytes")
		return false
	}
	return true
}

// required returns a query parameter that must be present and not empty.
func required(w http.ResponseWriter, q url.Values, name string) (string, bool) {
	v, ok := q[name]
	switch {
	case !ok:
		writeError(w, http.StatusBadRequest, "missing query parameter "+name)
		return "", false
	case v[0] == "":
		writeError(w, http.StatusBadRequest, "query parameter "+name+": must not be empty")
		return "", false
	}
	return v[0], true
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// errorBody is every error answer: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error": "encoding the answer failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}
