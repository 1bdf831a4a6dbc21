package event

import "strings"

// MaxTeamBytes is the longest team accepted, in bytes. A team is part of
// every identity key, so it is bounded like one (SEMANTICS.md §1,
// invalid_team). unionfind.MaxTeamBytes is the same bound, applied again to
// every op before it touches the store.
const MaxTeamBytes = 200

// teamOf applies the team rule of SEMANTICS.md §1.
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
// The team found must then be a valid team (teamProblem), else the record
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
	if why := teamProblem(team); why != "" {
		return "", reject(ReasonInvalidTeam, "team "+why+": "+quoteTeam(team))
	}
	return team, nil
}

func teamString(v val) (string, bool) {
	switch {
	case v.isString():
		s := v.str()
		return s, strings.TrimSpace(s) != ""
	case v.isNumber():
		_, integer, _ := scanNumber(v.b, 0)
		s := numberString(v.s, integer)
		return s, isIntegerString(s)
	}
	return "", false
}

// teamProblem says what makes team unacceptable as a team, or "" when it is
// fine: empty or whitespace only (unicode.IsSpace), longer than MaxTeamBytes
// bytes, or holding a control character. Control characters are Unicode's
// general category Cc: C0 (U+0000–U+001F), DEL (U+007F) and C1
// (U+0080–U+009F) — what unicode.IsControl reports. Other invisible
// characters (format characters such as U+200B or U+202E) are allowed: they
// harm no key or log line. team is valid UTF-8 here (Decode replaces invalid
// sequences), so a C1 character is the two bytes 0xC2 0x80–0x9F.
func teamProblem(team string) string {
	if len(team) > MaxTeamBytes {
		return "is " + itoa(int64(len(team))) + " bytes, over the limit of " + itoa(MaxTeamBytes)
	}
	for i := 0; i < len(team); i++ {
		c := team[i]
		if c < 0x20 || c == 0x7f || c == 0xc2 && i+1 < len(team) && team[i+1] >= 0x80 && team[i+1] < 0xa0 {
			return "holds a control character at byte " + itoa(int64(i))
		}
	}
	if strings.TrimSpace(team) == "" {
		return "is empty or whitespace only"
	}
	return ""
}
