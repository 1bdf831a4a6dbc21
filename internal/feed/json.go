package feed

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/resolver-dev/resolver/internal/jsonlit"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// The pipeline writes the feed rows it produces per op with the appenders
// below, into its batch's arena, instead of building a row and handing it
// to json.Marshal (reflection, a map-free but allocating encoder, and a
// second pass over the person's properties). Each writes exactly the bytes
// json.Marshal writes for the row From… builds — HTML-escaped strings
// (jsonlit.AppendMarshalString), compacted properties — so the feeds do not
// change by a byte; TestAppendRowsMatchMarshal and FuzzAppendRows hold
// them to that.

// Unix milliseconds of the first and last instants whose year time.Format
// writes with four digits, as jsonlit.AppendMillis does; outside them the
// row's time is FormatMillis's spelling.
var (
	minMillis = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxMillis = time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC).UnixMilli()
)

// appendMillisString appends ms as a JSON string in FormatMillis's
// spelling.
func appendMillisString(dst []byte, ms int64) []byte {
	dst = append(dst, '"')
	if ms >= minMillis && ms <= maxMillis {
		dst = jsonlit.AppendMillis(dst, ms)
	} else {
		dst = append(dst, FormatMillis(ms)...)
	}
	return append(dst, '"')
}

// appendPersonString appends a person id as a JSON string, "" for the zero
// id (personString).
func appendPersonString(dst []byte, id unionfind.PersonID) []byte {
	dst = append(dst, '"')
	if id != (unionfind.PersonID{}) {
		dst = jsonlit.AppendUUID(dst, id)
	}
	return append(dst, '"')
}

// AppendPersonKey appends the key of r's persons record: team:person id.
func AppendPersonKey(dst []byte, r *unionfind.PersonRow) []byte {
	return jsonlit.AppendUUID(append(append(dst, r.Team...), ':'), r.Person.ID)
}

// AppendDistinctIDKey appends the key of r's person_distinct_ids record:
// team:distinct_id.
func AppendDistinctIDKey(dst []byte, r *unionfind.DistinctIDRow) []byte {
	return append(append(append(dst, r.Team...), ':'), r.DistinctID...)
}

// AppendMergeKey appends the key of r's person_merges records:
// team:survivor person id, team: when there is no survivor.
func AppendMergeKey(dst []byte, r *unionfind.MergeRow) []byte {
	dst = append(append(dst, r.Team...), ':')
	if r.Survivor != (unionfind.PersonID{}) {
		dst = jsonlit.AppendUUID(dst, r.Survivor)
	}
	return dst
}

// AppendPerson appends the persons row of r: json.Marshal(FromPerson(r)).
// The property values must be JSON, as every stored one is (Apply checks
// each value before it is stored). It does not check them again — that
// re-scan is most of what json.Marshal spent here — so a value that is not
// JSON fails, as json.Marshal fails, only where it would be compacted
// (whitespace outside strings, or '<', '>', '&', U+2028, U+2029); else it
// is written as it is.
func AppendPerson(dst []byte, r *unionfind.PersonRow) ([]byte, error) {
	p := &r.Person
	dst = append(dst, `{"team":`...)
	dst = jsonlit.AppendMarshalString(dst, r.Team)
	dst = append(dst, `,"id":"`...)
	dst = jsonlit.AppendUUID(dst, p.ID)
	dst = append(dst, `","created_at":`...)
	dst = appendMillisString(dst, p.CreatedAt)
	dst = append(dst, `,"properties":`...)
	start := len(dst)
	dst = p.AppendPropertiesJSON(dst)
	if !compactJSON(dst[start:]) {
		// json.Marshal compacts a RawMessage and escapes '<', '>', '&',
		// U+2028 and U+2029 in it: a value stored with spaces or those.
		raw := bytes.Clone(dst[start:])
		var c, e bytes.Buffer
		if err := json.Compact(&c, raw); err != nil {
			return dst[:start], err
		}
		json.HTMLEscape(&e, c.Bytes())
		dst = append(dst[:start], e.Bytes()...)
	}
	dst = append(dst, `,"is_identified":`...)
	dst = strconv.AppendBool(dst, p.Identified)
	dst = append(dst, `,"is_deleted":`...)
	dst = strconv.AppendBool(dst, p.Deleted)
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendUint(dst, p.Version, 10)
	return append(dst, '}'), nil
}

// compactJSON reports whether b, JSON text, is written as json.Marshal
// writes a RawMessage: no whitespace outside strings (compaction removes
// it) and no byte that HTML escaping replaces ('<', '>', '&', and 0xE2,
// the lead byte of U+2028 and U+2029). It does not check that b is JSON;
// see AppendPerson.
func compactJSON(b []byte) bool {
	in := false // inside a string
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '<' || c == '>' || c == '&' || c == 0xE2:
			return false
		case in && c == '\\':
			i++ // the escaped byte: ASCII, none of the above
		case c == '"':
			in = !in
		case !in && c <= ' ':
			return false
		}
	}
	return true
}

// AppendDistinctID appends the person_distinct_ids row of r:
// json.Marshal(FromDistinctID(r)).
func AppendDistinctID(dst []byte, r *unionfind.DistinctIDRow) []byte {
	dst = append(dst, `{"team":`...)
	dst = jsonlit.AppendMarshalString(dst, r.Team)
	dst = append(dst, `,"distinct_id":`...)
	dst = jsonlit.AppendMarshalString(dst, r.DistinctID)
	dst = append(dst, `,"person_id":"`...)
	dst = jsonlit.AppendUUID(dst, r.PersonID)
	dst = append(dst, `","version":`...)
	dst = strconv.AppendUint(dst, r.Version, 10)
	dst = append(dst, `,"is_deleted":`...)
	dst = strconv.AppendBool(dst, r.Deleted)
	return append(dst, '}')
}

// MergeParts is how many person_merges rows the lineage record r is
// written as (FromMerge): one per MergeIDsPerRow moved ids, at least one.
func MergeParts(r *unionfind.MergeRow) int {
	return max(1, (len(r.Moved)+MergeIDsPerRow-1)/MergeIDsPerRow)
}

// MergePartMoved returns the moved ids that part (1 … MergeParts(r)) of
// r's person_merges rows carries.
func MergePartMoved(r *unionfind.MergeRow, part int) []string {
	lo := min((part-1)*MergeIDsPerRow, len(r.Moved))
	return r.Moved[lo:min(lo+MergeIDsPerRow, len(r.Moved))]
}

// AppendMerge appends part (1 … MergeParts(r)) of the person_merges rows
// of r: json.Marshal(FromMerge(r)[part-1]).
func AppendMerge(dst []byte, r *unionfind.MergeRow, part int) []byte {
	parts := MergeParts(r)
	moved := MergePartMoved(r, part)
	dst = append(dst, `{"team":`...)
	dst = jsonlit.AppendMarshalString(dst, r.Team)
	dst = append(dst, `,"survivor_person_id":`...)
	dst = appendPersonString(dst, r.Survivor)
	dst = append(dst, `,"absorbed_person_id":`...)
	dst = appendPersonString(dst, r.Absorbed)
	dst = append(dst, `,"distinct_ids_moved":[`...)
	for i, id := range moved {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonlit.AppendMarshalString(dst, id)
	}
	dst = append(dst, `],"rule":`...)
	dst = jsonlit.AppendMarshalString(dst, r.Rule.String())
	dst = append(dst, `,"refused":`...)
	dst = jsonlit.AppendMarshalString(dst, r.Refused)
	dst = append(dst, `,"other_distinct_id":`...)
	dst = jsonlit.AppendMarshalString(dst, r.Other)
	dst = append(dst, `,"distinct_id":`...)
	dst = jsonlit.AppendMarshalString(dst, r.Into)
	dst = append(dst, `,"event_uuid":`...)
	dst = jsonlit.AppendMarshalString(dst, r.EventUUID)
	dst = append(dst, `,"event_timestamp":`...)
	dst = appendMillisString(dst, r.Timestamp)
	dst = append(dst, `,"source_topic":`...)
	dst = jsonlit.AppendMarshalString(dst, r.Source.Topic)
	dst = append(dst, `,"source_partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Source.Partition), 10)
	dst = append(dst, `,"source_offset":`...)
	dst = strconv.AppendInt(dst, r.Source.Offset, 10)
	dst = append(dst, `,"log_partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Log.Partition), 10)
	dst = append(dst, `,"log_offset":`...)
	dst = strconv.AppendInt(dst, r.Log.Offset, 10)
	dst = append(dst, `,"log_timestamp":`...)
	dst = appendMillisString(dst, r.Log.Time)
	dst = append(dst, `,"part":`...)
	dst = strconv.AppendInt(dst, int64(part), 10)
	dst = append(dst, `,"parts":`...)
	dst = strconv.AppendInt(dst, int64(parts), 10)
	return append(dst, '}')
}
