package event

import (
	"strings"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

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
	// team is not blank (teamString), so only its bounds are left to check.
	if len(team) > MaxTeamBytes || controlAt(team) >= 0 {
		return "", reject(ReasonInvalidTeam, "team "+teamProblem(team)+": "+quoteTeam(team))
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
	if i := controlAt(team); i >= 0 {
		return "holds a control character at byte " + itoa(int64(i))
	}
	if strings.TrimSpace(team) == "" {
		return "is empty or whitespace only"
	}
	return ""
}

// controlStart[c] is true for the bytes that are, or may start, a control
// character in UTF-8: C0, DEL, and 0xC2 (the lead byte of U+0080–U+00BF).
var controlStart = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t[0x7f], t[0xc2] = true, true
	return t
}()

// controlAt returns the byte index of the first control character (C0,
// DEL, C1) in the UTF-8 string s, or -1. It runs for every event, so it
// skips plain ASCII eight bytes at a time (SWAR, as scanString does).
func controlAt(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		del := x ^ (lsb * 0x7f)
		// High bit set in bytes < 0x20, == 0x7f or >= 0x80 (exact for the
		// lowest such byte, which is all that matters: the bytes from there
		// on are looked at one by one).
		if ((x-lsb*0x20)&^x|(del-lsb)&^del|x)&msb != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if controlStart[s[i]] && (s[i] != 0xc2 || i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0xa0) {
			return i
		}
	}
	return -1
}
