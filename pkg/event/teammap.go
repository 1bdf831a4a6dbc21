package event

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/resolver-dev/resolver/internal/teamrule"
)

// Bounds of a team map (docs/SEMANTICS.md §1, config teams.file). The file is
// read whole into memory and every entry is kept in two Go maps, so both are
// bounded: 1M entries take roughly 150 MB with tokens and team ids of
// typical length.
const (
	// MaxTeamMapEntries is the most entries a team map may have.
	MaxTeamMapEntries = 1 << 20
	// MaxTeamMapFileBytes is the largest team map file accepted, in bytes
	// (16 MiB); the loader in cmd/resolver enforces it.
	MaxTeamMapFileBytes = 16 << 20
)

// ErrInvalidTeamMap is wrapped by the errors of NewTeamMap and
// TeamMap.Replace: the entries were not accepted.
var ErrInvalidTeamMap = errors.New("event: invalid team map")

// TeamMap is the optional trusted map of docs/SEMANTICS.md §1: token → team id,
// from a file the operator owns. Given to a Decoder (Options.Teams), it
// turns a token in the map into its team id, keeps a team that is one of
// the map's team ids, and rejects anything else as unknown_team.
//
// The zero TeamMap, and a nil *TeamMap, hold no map: every team is kept as
// it is (the default). Replace swaps in new entries atomically, so a map can
// be reloaded (on SIGHUP) while Decoders on any number of goroutines use
// it: a Decode sees the old entries or the new ones, never a mix, and never
// waits for a lock. Lookups allocate nothing.
type TeamMap struct {
	t atomic.Pointer[teamTable]
}

// teamTable is one immutable generation of a TeamMap.
type teamTable struct {
	byToken map[string]string   // token → team id
	ids     map[string]struct{} // every team id, a value of byToken
}

// NewTeamMap returns a TeamMap holding entries (token → team id), or an
// error wrapping ErrInvalidTeamMap when they are not valid (see Replace).
func NewTeamMap(entries map[string]string) (*TeamMap, error) {
	m := &TeamMap{}
	if err := m.Replace(entries); err != nil {
		return nil, err
	}
	return m, nil
}

// Replace makes entries (token → team id) the map's, from the next lookup
// on. It does not keep entries. When they are not valid it returns an error
// wrapping ErrInvalidTeamMap, naming the first bad entry in token order,
// and the map keeps the entries it had. Valid entries are:
//
//   - at least one and at most MaxTeamMapEntries;
//   - every token and every team id a valid team: not empty or whitespace
//     only, at most MaxTeamBytes bytes, no control character (the rule
//     Decode applies to teams, see invalid_team), valid UTF-8;
//   - no token that is also a team id of another token: an event naming
//     that team would otherwise be sent to the other team (a token may map
//     to itself).
func (m *TeamMap) Replace(entries map[string]string) error {
	t, err := newTeamTable(entries)
	if err != nil {
		return err
	}
	m.t.Store(t)
	return nil
}

// Len returns the number of tokens in the map; 0 when it holds no map.
func (m *TeamMap) Len() int {
	if m == nil {
		return 0
	}
	if t := m.t.Load(); t != nil {
		return len(t.byToken)
	}
	return 0
}

// Resolve returns the team an event whose team field is team belongs to:
// its team id when team is a token in the map; team itself when it is one
// of the map's team ids, or when there is no map; ok false (unknown_team)
// otherwise.
func (m *TeamMap) Resolve(team string) (id string, ok bool) {
	if m == nil {
		return team, true
	}
	t := m.t.Load()
	if t == nil {
		return team, true
	}
	if id, ok := t.byToken[team]; ok {
		return id, true
	}
	if _, ok := t.ids[team]; ok {
		return team, true
	}
	return "", false
}

func newTeamTable(entries map[string]string) (*teamTable, error) {
	switch n := len(entries); {
	case n == 0:
		return nil, fmt.Errorf("%w: no entries (a map with none would reject every event as unknown_team)", ErrInvalidTeamMap)
	case n > MaxTeamMapEntries:
		return nil, fmt.Errorf("%w: %d entries, over the limit of %d", ErrInvalidTeamMap, n, MaxTeamMapEntries)
	}
	t := &teamTable{byToken: make(map[string]string, len(entries)), ids: make(map[string]struct{}, len(entries))}
	var bad []string // tokens of invalid entries, reported in order
	why := map[string]string{}
	for token, id := range entries {
		switch {
		case !utf8.ValidString(token):
			why[token] = "the token is not valid UTF-8 (no decoded team ever is)"
		case teamrule.Problem(token) != "":
			why[token] = "the token " + teamrule.Problem(token)
		case !utf8.ValidString(id):
			why[token] = "its team id " + quoteTeam(id) + " is not valid UTF-8 (no decoded team ever is)"
		case teamrule.Problem(id) != "":
			why[token] = "its team id " + quoteTeam(id) + " " + teamrule.Problem(id)
		default:
			t.byToken[token] = id
			t.ids[id] = struct{}{}
			continue
		}
		bad = append(bad, token)
	}
	if len(bad) == 0 {
		for token, id := range t.byToken {
			if _, isID := t.ids[token]; isID && id != token {
				why[token] = "the token is also the team id of another token; an event with team " + quoteTeam(token) + " could be either"
				bad = append(bad, token)
			}
		}
	}
	if len(bad) == 0 {
		return t, nil
	}
	slices.Sort(bad)
	msg := "token " + quoteTeam(bad[0]) + ": " + why[bad[0]]
	if len(bad) > 1 {
		msg += " (and " + strconv.Itoa(len(bad)-1) + " more bad entries)"
	}
	return nil, fmt.Errorf("%w: %s", ErrInvalidTeamMap, msg)
}

// quoteTeam quotes a team for an error message, shortened (quoteShort).
func quoteTeam(s string) string { return quoteShort([]byte(s[:min(len(s), maxQuoted+1)])) }
