package admin

import (
	"github.com/resolver-dev/resolver/pkg/state"
)

// PersonLookup finds the person of a distinct_id for /v1/persons.
// *state.Store implements it (Store.Lookup: one snapshot, past the cache),
// which makes the answer the JSON of `resolver lookup --format json`.
//
// Threading contract: Lookup is called from HTTP handler goroutines,
// concurrently, while the pipeline runs.
type PersonLookup interface {
	// Lookup returns the person of distinctID in team; an id without a
	// stored person gives a view with Implicit set (answered 404). An error
	// wrapping ErrUnavailable or state.ErrClosed makes the endpoint answer
	// 503.
	Lookup(team, distinctID string) (state.PersonView, error)
}

var _ PersonLookup = (*state.Store)(nil)

// LookupFunc adapts a function to PersonLookup.
type LookupFunc func(team, distinctID string) (state.PersonView, error)

// Lookup calls f.
func (f LookupFunc) Lookup(team, distinctID string) (state.PersonView, error) {
	return f(team, distinctID)
}
