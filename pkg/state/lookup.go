package state

import (
	"encoding/json"
	"time"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// lookupTimeFormat is how PersonView writes times: RFC 3339, UTC,
// milliseconds — the format of the resolver's output rows.
const lookupTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// PersonView is everything the replica knows about the person of one
// distinct_id, shaped for people and JSON clients: `resolver lookup` prints
// it and the admin server's /v1/persons returns it as is.
//
// An implicit person (docs/SEMANTICS.md §3: the distinct_id was never in a full
// event, or its person was deleted) has no stored state: Implicit is true,
// PersonID is its UUIDv5 (or, when its person was deleted while its
// implicit person lived on with other ids, the fresh person its mapping
// names: unionfind.Mapping.Fresh, docs/SEMANTICS.md §8), CreatedAt is the created_at its events are stamped
// with (1970-01-01T00:00:05.000Z), it is not identified and has no
// properties, and DistinctIDs lists only the id looked up (with the version
// of its mapping's tombstone, if it has one, else 0).
type PersonView struct {
	Team string `json:"team"`
	// DistinctID is the id that was looked up.
	DistinctID   string `json:"distinct_id"`
	PersonID     string `json:"person_id"`
	Implicit     bool   `json:"implicit"`
	CreatedAt    string `json:"created_at"`
	IsIdentified bool   `json:"is_identified"`
	// Version is the person row's version (docs/SEMANTICS.md §6); 0 for an
	// implicit person.
	Version uint64 `json:"version"`
	// DistinctIDs are all of the person's distinct_ids in byte order, each
	// with the version of its distinct-id row.
	DistinctIDs []DistinctIDView `json:"distinct_ids"`
	// Properties by key; never nil.
	Properties map[string]PropertyView `json:"properties"`
}

// DistinctIDView is one distinct_id of a person.
type DistinctIDView struct {
	DistinctID string `json:"distinct_id"`
	Version    uint64 `json:"version"`
}

// PropertyView is one person property: its JSON value and the time of the
// event that wrote it (docs/SEMANTICS.md §5).
type PropertyView struct {
	Value json.RawMessage `json:"value"`
	Time  string          `json:"time"`
}

// Lookup returns the person of a distinct_id with its distinct_ids and
// properties, all read from one snapshot. It does not go through the cache.
func (s *Store) Lookup(team, distinctID string) (PersonView, error) {
	var v PersonView
	err := s.View(func(tx Tx) error {
		var err error
		v, err = lookup(tx, team, distinctID)
		return err
	})
	return v, err
}

func lookup(tx Tx, team, did string) (PersonView, error) {
	p, explicit, err := unionfind.Find(tx, team, did)
	if err != nil {
		return PersonView{}, err
	}
	v := PersonView{
		Team:       team,
		DistinctID: did,
		PersonID:   p.ID.String(),
		Implicit:   !explicit,
		Properties: map[string]PropertyView{},
	}
	if !explicit {
		v.CreatedAt = unionfind.ImplicitCreatedAt.Format(lookupTimeFormat)
		m, ok, err := tx.Mapping(team, did)
		if err != nil {
			return PersonView{}, err
		}
		var ver uint64
		if ok {
			ver = m.Version
		}
		v.DistinctIDs = []DistinctIDView{{DistinctID: did, Version: ver}}
		return v, nil
	}
	v.CreatedAt = formatMillisUTC(p.CreatedAt)
	v.IsIdentified = p.Identified
	v.Version = p.Version
	for _, pr := range p.Props {
		v.Properties[pr.Key] = PropertyView{Value: append(json.RawMessage(nil), pr.Value...), Time: formatMillisUTC(pr.Time)}
	}
	// Collect first: Members' fn must not use the transaction.
	var ids []string
	if err := tx.Members(team, p.ID, func(d string) error { ids = append(ids, d); return nil }); err != nil {
		return PersonView{}, err
	}
	v.DistinctIDs = make([]DistinctIDView, 0, len(ids))
	for _, d := range ids {
		m, _, err := tx.Mapping(team, d)
		if err != nil {
			return PersonView{}, err
		}
		v.DistinctIDs = append(v.DistinctIDs, DistinctIDView{DistinctID: d, Version: m.Version})
	}
	return v, nil
}

func formatMillisUTC(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(lookupTimeFormat)
}
