package shred

import (
	"strconv"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Record keys of identity_keys. A key names one data key:
//
//	<len(team)>:<team>:<len(distinct_id)>:<distinct_id>:<generation>:<key id>
//
// lengths in bytes, every number in decimal without leading zeros, for
// example "7:phc_abc:6:user:1:0:9182736450". The length prefixes make it
// unambiguous for teams and ids that hold ':' (or any byte); the single
// spelling of each number makes it canonical, so a key id has exactly one
// record key, and compaction keeps its last record. A reader refuses any
// other spelling.
//
// The prefix up to the generation (genKey) names a (team, distinct_id,
// generation): the ring indexes its keys by it.

// Bounds of a record key's parts: those of unionfind.Op.Validate (a team of
// at most MaxTeamBytes bytes; a distinct_id of at most MaxDistinctIDRunes
// characters, so at most 4 bytes each).
const (
	maxTeamBytes       = unionfind.MaxTeamBytes
	maxDistinctIDBytes = 4 * unionfind.MaxDistinctIDRunes
	// maxRecordKeyBytes bounds a record key before it is parsed.
	maxRecordKeyBytes = 3 + maxTeamBytes + 1 + 3 + maxDistinctIDBytes + 1 + 10 + 1 + 20 + 4
)

// keyName is a parsed record key.
type keyName struct {
	team, did string
	gen       uint32
	kid       uint64
}

func appendGenKey(b []byte, team, did string, gen uint32) []byte {
	b = strconv.AppendUint(b, uint64(len(team)), 10)
	b = append(b, ':')
	b = append(b, team...)
	b = append(b, ':')
	b = strconv.AppendUint(b, uint64(len(did)), 10)
	b = append(b, ':')
	b = append(b, did...)
	b = append(b, ':')
	return strconv.AppendUint(b, uint64(gen), 10)
}

func appendRecordKey(b []byte, team, did string, gen uint32, kid uint64) []byte {
	b = appendGenKey(b, team, did, gen)
	b = append(b, ':')
	return strconv.AppendUint(b, kid, 10)
}

// validID reports whether team and did are within the bounds a record key
// may have (non-empty, at most maxTeamBytes and maxDistinctIDBytes).
func validID(team, did string) bool {
	return team != "" && len(team) <= maxTeamBytes && did != "" && len(did) <= maxDistinctIDBytes
}

// parseRecordKey reads a record key; genLen is the length of its genKey
// prefix. It refuses every spelling appendRecordKey does not write, parts
// out of bounds, and key id 0.
func parseRecordKey(b []byte) (k keyName, genLen int, ok bool) {
	if len(b) > maxRecordKeyBytes {
		return k, 0, false
	}
	rest := b
	team, rest, ok := lengthPrefixed(rest, maxTeamBytes)
	if !ok {
		return k, 0, false
	}
	did, rest, ok := lengthPrefixed(rest, maxDistinctIDBytes)
	if !ok {
		return k, 0, false
	}
	gen, rest, ok := number(rest, ':', 1<<32-1)
	if !ok {
		return k, 0, false
	}
	genLen = len(b) - len(rest) - 1
	kid, rest, ok := number(rest, 0, 1<<64-1)
	if !ok || len(rest) != 0 || kid == 0 || team == "" || did == "" {
		return k, 0, false
	}
	return keyName{team: team, did: did, gen: uint32(gen), kid: kid}, genLen, true
}

// lengthPrefixed reads "<n>:<n bytes>:" with n at most limit.
func lengthPrefixed(b []byte, limit uint64) (s string, rest []byte, ok bool) {
	n, b, ok := number(b, ':', limit)
	if !ok || uint64(len(b)) <= n || b[n] != ':' {
		return "", nil, false
	}
	return string(b[:n]), b[n+1:], true
}

// number reads a canonical decimal of at most limit, ended by end (then
// consumed) or, with end 0, by the end of b.
func number(b []byte, end byte, limit uint64) (n uint64, rest []byte, ok bool) {
	i := 0
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		d := uint64(b[i] - '0')
		if n > (limit-d)/10 {
			return 0, nil, false // over limit (or overflow)
		}
		n = n*10 + d
		i++
	}
	switch {
	case i == 0, i > 1 && b[0] == '0':
		return 0, nil, false
	case end == 0:
		return n, b[i:], true
	case i == len(b) || b[i] != end:
		return 0, nil, false
	}
	return n, b[i+1:], true
}
