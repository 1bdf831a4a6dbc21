package event

import "strings"

// teamOf applies the team rule of SEMANTICS.md §1: team_id, else token,
// else api_key, else $token, else properties.token.
//
// A candidate counts when it is a string that is not empty or whitespace
// only (taken as it is, untrimmed), or an integer (written in decimal, see
// numberString). Anything else — absent, null, "", a fraction, a boolean,
// an object, an array — is passed over for the next candidate.
func teamOf(f *fields, propToken val) (string, bool) {
	for _, v := range [...]val{f.teamID, f.token, f.apiKey, f.dollarToken, propToken} {
		if t, ok := teamString(v); ok {
			return t, true
		}
	}
	return "", false
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
