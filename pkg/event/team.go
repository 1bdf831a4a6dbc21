package event

import (
	"strings"

	"github.com/resolver-dev/resolver/internal/jsonlit"
	"github.com/resolver-dev/resolver/internal/teamrule"
)

// MaxTeamBytes is the longest team accepted, in bytes. A team is part of
// every identity key, so it is bounded like one (docs/SEMANTICS.md §1,
// invalid_team). unionfind.MaxTeamBytes and billing.MaxTeamBytes are the
// same bound (teamrule.MaxBytes), applied again to every op before it
// touches the store and to every billing delta.
const MaxTeamBytes = teamrule.MaxBytes

// teamOf applies the team rule of docs/SEMANTICS.md §1.
//
// In a capture envelope the team is the envelope's own token and nothing
// else: capture authenticated it, while data is text the client wrote, so
// data's team_id, token, api_key, $token and properties.token are never
// read for the team (unwrap keeps the envelope's token in f.envToken). An
// envelope without a usable token is missing_team.
//
// A plain event's team is team_id, else token, else api_key, else $token,
// else properties.token. A candidate counts when it is a string that is not
// empty or whitespace only (taken as it is, untrimmed), or an integer
// (written in decimal, see numberString). Anything else — absent, null, "",
// a fraction, a boolean, an object, an array — is passed over for the next
// candidate.
//
// The team found must then be a valid team (teamrule.Problem), else the record
// is invalid_team: an overlong or control-laden candidate is rejected, not
// passed over for the next one, as distinct_id does.
func teamOf(f *fields, propToken val) (string, *Rejection) {
	var team string
	var ok bool
	if f.envelope {
		if team, ok = teamString(f.envToken); !ok {
			return "", reject(ReasonMissingTeam, "envelope without a token that is a non-empty string or an integer (the team of an envelope is its own token; data cannot set it)")
		}
	} else {
		for _, v := range [...]val{f.teamID, f.token, f.apiKey, f.dollarToken, propToken} {
			if team, ok = teamString(v); ok {
				break
			}
		}
		if !ok {
			return "", reject(ReasonMissingTeam, "no team_id, token, api_key, $token or properties.token that is a non-empty string or an integer")
		}
	}
	// team is valid UTF-8 (Decode makes it so) and not blank (teamString),
	// so of teamrule.Problem only the bounds are left to check: the cheap
	// test first, then the words for a rejection.
	if len(team) > MaxTeamBytes || teamrule.ControlAt(team) >= 0 {
		return "", reject(ReasonInvalidTeam, "team "+teamrule.Problem(team)+": "+quoteTeam(team))
	}
	return team, nil
}

func teamString(v val) (string, bool) {
	switch {
	case v.isString():
		s := v.str()
		return s, strings.TrimSpace(s) != ""
	case v.isNumber():
		_, integer, _ := jsonlit.ScanNumber(v.b, 0)
		s := numberString(v.s, integer)
		return s, isIntegerString(s)
	}
	return "", false
}
