package event

import (
	"strings"
	"unicode/utf8"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// MaxDistinctIDRunes is the longest distinct_id kept, in characters
// (Unicode code points, i.e. Go runes — not bytes, not UTF-16 units).
const MaxDistinctIDRunes = 200

// distinctIDOf applies the distinct_id rule of docs/SEMANTICS.md §1.
//
// The first of distinct_id, $distinct_id, properties.distinct_id that is
// present and not null is the candidate; an unusable candidate is rejected,
// not passed over. A string is taken as it is (untrimmed; invalid UTF-8 →
// U+FFFD); a number becomes its decimal string (numberString). A boolean, an
// object, an array, no candidate at all, "" or a whitespace-only string
// (unicode.IsSpace) is invalid_distinct_id. NUL characters become U+FFFD, and
// an id longer than MaxDistinctIDRunes characters is cut to that many, with
// a warning; one whose first MaxDistinctIDRunes characters are whitespace is
// invalid_distinct_id too, since the cut would leave a blank id.
func distinctIDOf(f *fields, propDistinctID val) (string, *Warning, *Rejection) {
	v, field := f.distinctID, "distinct_id"
	switch {
	case v.set():
	case f.dollarDistinctID.set():
		v, field = f.dollarDistinctID, "$distinct_id"
	case propDistinctID.set():
		v, field = propDistinctID, "properties.distinct_id"
	default:
		return "", nil, reject(ReasonInvalidDistinctID, "no distinct_id, $distinct_id or properties.distinct_id")
	}
	var id string
	switch c := v.b[0]; {
	case c == '"':
		id = v.str()
	case v.isNumber():
		_, integer, _ := jsonlit.ScanNumber(v.b, 0)
		id = numberString(v.s, integer)
	case c == 't' || c == 'f':
		return "", nil, reject(ReasonInvalidDistinctID, field+" is a boolean")
	case c == '{':
		return "", nil, reject(ReasonInvalidDistinctID, field+" is an object")
	default:
		return "", nil, reject(ReasonInvalidDistinctID, field+" is an array")
	}
	if strings.TrimSpace(id) == "" {
		return "", nil, reject(ReasonInvalidDistinctID, field+" is empty or whitespace: "+quoteShort(v.b))
	}
	if strings.IndexByte(id, 0) >= 0 {
		id = strings.ReplaceAll(id, "\x00", "\uFFFD")
	}
	if len(id) <= MaxDistinctIDRunes { // bytes ≥ runes
		return id, nil, nil
	}
	n, cut := 0, len(id)
	for i := range id {
		if n == MaxDistinctIDRunes {
			cut = i
			break
		}
		n++
	}
	if cut == len(id) {
		return id, nil, nil
	}
	if strings.TrimSpace(id[:cut]) == "" {
		// What would be kept is whitespace only: as invalid as a blank id.
		return "", nil, reject(ReasonInvalidDistinctID, field+" is whitespace only in its first "+itoa(MaxDistinctIDRunes)+" characters, which are all that is kept: "+quoteShort(v.b))
	}
	total := utf8.RuneCountInString(id)
	return id[:cut], &Warning{
		Type:    WarnDistinctIDTruncated,
		Details: field + " of " + itoa(int64(total)) + " characters cut to " + itoa(MaxDistinctIDRunes),
	}, nil
}
