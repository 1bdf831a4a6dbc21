package unionfind

import "strings"

// maxMergeIDLen is the longest distinct_id that may take part in a merge.
const maxMergeIDLen = 400

// illegalFolded are illegal whatever their case (compared lower-cased).
var illegalFolded = map[string]struct{}{
	"anonymous": {}, "guest": {}, "distinctid": {}, "distinct_id": {}, "id": {},
	"not_authenticated": {}, "email": {}, "undefined": {}, "true": {}, "false": {},
}

// illegalExact are illegal only exactly as written.
var illegalExact = map[string]struct{}{
	"[object Object]": {}, "NaN": {}, "None": {}, "none": {}, "null": {}, "0": {}, "undefined": {},
}

// IsIllegal reports whether id may not take part in a merge (docs/SEMANTICS.md §4):
// empty when trimmed; containing NUL; over 400 characters; one of the listed
// words (some in any case, some exactly), bare or wrapped in single or double
// quotes. The word lists are matched against the untrimmed id, so " null" is
// legal while "   " is not.
func IsIllegal(id string) bool {
	if strings.TrimSpace(id) == "" {
		return true
	}
	if strings.IndexByte(id, 0) >= 0 || len([]rune(id)) > maxMergeIDLen {
		return true
	}
	if isIllegalWord(id) {
		return true
	}
	if n := len(id); n >= 2 && (id[0] == '"' && id[n-1] == '"' || id[0] == '\'' && id[n-1] == '\'') {
		return isIllegalWord(id[1 : n-1])
	}
	return false
}

func isIllegalWord(w string) bool {
	if _, ok := illegalExact[w]; ok {
		return true
	}
	_, ok := illegalFolded[strings.ToLower(w)]
	return ok
}
