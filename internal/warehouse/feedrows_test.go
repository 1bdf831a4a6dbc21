package warehouse

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/feed"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// This file checks that the records the resolver writes can be read by the
// Kafka tables: each JSON value against its column's type, as JSONEachRow
// reads it with the table's settings (a small model of the types the
// schema uses). A value that does not fit would send the whole record to
// resolver.ingest_errors.

// fitsColumn returns why JSONEachRow, with settings, would not read v into
// a column of type typ, or nil.
func fitsColumn(typ string, v json.RawMessage, settings map[string]string) error {
	var x any
	d := json.NewDecoder(strings.NewReader(string(v)))
	d.UseNumber()
	if err := d.Decode(&x); err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	switch typ {
	case "String":
		switch x.(type) {
		case string:
			return nil
		case map[string]any:
			if settings["input_format_json_read_objects_as_strings"] == "1" {
				return nil
			}
			return fmt.Errorf("a JSON object into String needs input_format_json_read_objects_as_strings = 1")
		}
		return fmt.Errorf("%s is not a JSON string", v)
	case "UUID":
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("%s is not a JSON string", v)
		}
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return fmt.Errorf("%q is not a UUID", s)
		}
		return nil
	case "DateTime64(3,'UTC')":
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("%s is not a JSON string", v)
		}
		if settings["date_time_input_format"] != "best_effort" {
			return fmt.Errorf("an RFC 3339 time needs date_time_input_format = 'best_effort'")
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return fmt.Errorf("%q is not an RFC 3339 time: %w", s, err)
		}
		return nil
	case "Array(String)":
		a, ok := x.([]any)
		if !ok {
			return fmt.Errorf("%s is not a JSON array", v)
		}
		for i, e := range a {
			if _, ok := e.(string); !ok {
				return fmt.Errorf("element %d of %s is not a string", i, v)
			}
		}
		return nil
	}
	bounds := map[string][2]float64{
		"UInt8": {0, math.MaxUint8}, "UInt32": {0, math.MaxUint32}, "UInt64": {0, math.MaxUint64},
		"Int32": {math.MinInt32, math.MaxInt32}, "Int64": {math.MinInt64, math.MaxInt64},
	}
	b, ok := bounds[typ]
	if !ok {
		return fmt.Errorf("type %s is not modelled", typ)
	}
	switch n := x.(type) {
	case bool:
		if typ == "UInt8" && settings["input_format_json_read_bools_as_numbers"] == "1" {
			return nil
		}
		return fmt.Errorf("JSON %v into %s needs input_format_json_read_bools_as_numbers = 1", n, typ)
	case json.Number:
		var err error
		if strings.HasPrefix(typ, "U") {
			_, err = strconv.ParseUint(n.String(), 10, 64)
		} else {
			_, err = strconv.ParseInt(n.String(), 10, 64)
		}
		f, ferr := n.Float64()
		if err != nil || ferr != nil || f < b[0] || f > b[1] {
			return fmt.Errorf("%s is not an integer of %s", n, typ)
		}
		return nil
	}
	return fmt.Errorf("%s is not a JSON number", v)
}

// TestFitsColumn pins the model on the cases the rows below do not all
// reach: above all, an empty string is not a UUID, which is why
// person_merges keeps its person ids as String.
func TestFitsColumn(t *testing.T) {
	objects := map[string]string{"input_format_json_read_objects_as_strings": "1"}
	bools := map[string]string{"input_format_json_read_bools_as_numbers": "1"}
	times := map[string]string{"date_time_input_format": "best_effort"}
	for _, tc := range []struct {
		typ, v   string
		settings map[string]string
		ok       bool
	}{
		{"String", `"x"`, nil, true},
		{"String", `""`, nil, true},
		{"String", `{"a":1}`, nil, false},
		{"String", `{"a":1}`, objects, true},
		{"String", `1`, nil, false},
		{"UUID", `"0190c1a2-0000-7000-8000-000000000001"`, nil, true},
		{"UUID", `""`, nil, false},
		{"UUID", `null`, nil, false},
		{"Array(String)", `[]`, nil, true},
		{"Array(String)", `["a","b"]`, nil, true},
		{"Array(String)", `["a",1]`, nil, false},
		{"Array(String)", `"a"`, nil, false},
		{"DateTime64(3,'UTC')", `"2026-12-05T07:00:00.123Z"`, times, true},
		{"DateTime64(3,'UTC')", `"2026-12-05T07:00:00.123Z"`, nil, false},
		{"DateTime64(3,'UTC')", `"yesterday"`, times, false},
		{"UInt8", `true`, bools, true},
		{"UInt8", `true`, nil, false},
		{"UInt8", `256`, nil, false},
		{"UInt32", `-1`, nil, false},
		{"UInt32", `4294967295`, nil, true},
		{"Int32", `-2147483648`, nil, true},
		{"Int32", `2147483648`, nil, false},
		{"Int64", `1.5`, nil, false},
		{"UInt64", `18446744073709551615`, nil, true},
		{"Int64", `"1"`, nil, false},
		{"Map(String,String)", `{}`, nil, false},
	} {
		err := fitsColumn(tc.typ, json.RawMessage(tc.v), tc.settings)
		assert.Equal(t, tc.ok, err == nil, "%s ← %s: %v", tc.typ, tc.v, err)
	}
}

// sampleMerges are person_merges records of every kind, as feed.FromMerge
// writes them: a merge, an absorbed implicit person, a split, a deletion
// (no survivor), refusals with and without persons, and a merge cut into
// parts.
func sampleMerges() []Merge {
	p := func(s string) unionfind.PersonID { return unionfind.ImplicitPersonID("2", s) }
	src := unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 77}
	cmd := unionfind.Source{Topic: "identity_commands", Partition: 0, Offset: 5}
	log := unionfind.LogPos{Partition: 1, Offset: 1042, Time: 1_800_000_000_123}
	many := make([]string, 2*feed.MergeIDsPerRow+1)
	for i := range many {
		many[i] = fmt.Sprintf("anon-%04d", i)
	}
	var out []Merge
	for _, r := range []unionfind.MergeRow{
		{Team: "2", Survivor: p("user"), Absorbed: p("anon"), Moved: []string{"anon", "anon-2"}, Rule: unionfind.RuleIdentify, Other: "anon", Into: "user", EventUUID: "0190c1a2-0000-7000-8000-000000000001", Timestamp: 1_800_000_000_000, Source: src, Log: log},
		{Team: "2", Survivor: p("user"), Absorbed: p("alias"), Moved: []string{"alias"}, Rule: unionfind.RuleAlias, Other: "alias", Into: "user", EventUUID: "0190c1a2-0000-7000-8000-000000000002", Source: src, Log: log},
		{Team: "2", Survivor: p("split"), Absorbed: p("user"), Moved: []string{"anon-2"}, Rule: unionfind.RuleSplit, Into: "anon-2", EventUUID: "request 7", Source: cmd, Log: log},
		{Team: "2", Absorbed: p("user"), Moved: []string{"anon", "user"}, Rule: unionfind.RuleDelete, Into: "user", EventUUID: "request 8", Source: cmd, Log: log},
		{Team: "2", Rule: unionfind.RuleDelete, Refused: unionfind.RefuseUnknownDistinctID, Into: "nobody", EventUUID: "request 9", Source: cmd, Log: log},
		{Team: "2", Rule: unionfind.RuleIdentify, Refused: unionfind.WarnIllegalMerge, Other: "null", Into: "user", EventUUID: "0190c1a2-0000-7000-8000-000000000003", Source: src, Log: log},
		{Team: "2", Survivor: p("a"), Absorbed: p("b"), Rule: unionfind.RuleMergeDangerously, Refused: unionfind.WarnMergeMoveLimit, Other: "b", Into: "a", Source: src, Log: log},
		{Team: "2", Survivor: p("big"), Absorbed: p("crowd"), Moved: many, Rule: unionfind.RuleMergeDangerously, Other: "crowd", Into: "big", Source: src, Log: log},
	} {
		out = append(out, feed.FromMerge(&r)...)
	}
	return out
}

// sampleRecords are record values of each ingested topic, keyed by the
// Kafka table that reads them.
func sampleRecords(t *testing.T) map[string][][]byte {
	t.Helper()
	marshal := func(v any) []byte {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		return b
	}
	id := unionfind.ImplicitPersonID("2", "user")
	person := unionfind.Person{ID: id, CreatedAt: 1_800_000_000_000, Identified: true, Version: 3,
		Props: []unionfind.Property{{Key: "email", Value: json.RawMessage(`"a@example.com"`), Time: 1}}}
	tomb := unionfind.Person{ID: id, CreatedAt: 1_800_000_000_000, Deleted: true, Version: 101 * 1043}
	out := map[string][][]byte{
		"resolver.kafka_events_person": {stampedEvent(t)},
		"resolver.kafka_persons": {
			marshal(feed.FromPerson(&unionfind.PersonRow{Team: "2", Person: person})),
			marshal(feed.FromPerson(&unionfind.PersonRow{Team: "2", Person: tomb})),
		},
		"resolver.kafka_person_distinct_ids": {
			marshal(feed.FromDistinctID(&unionfind.DistinctIDRow{Team: "2", DistinctID: "user", PersonID: id, Version: 1})),
			marshal(feed.FromDistinctID(&unionfind.DistinctIDRow{Team: "2", DistinctID: "user", PersonID: id, Version: 2, Deleted: true})),
		},
	}
	for _, m := range sampleMerges() {
		out["resolver.kafka_person_merges"] = append(out["resolver.kafka_person_merges"], marshal(m))
	}
	// Warnings: the identity graph's (feed.FromWarning) and the decoder's
	// shape (pkg/stream writes a WarningRow of the event, its time in
	// feed.TimeFormat), with an empty event uuid and details that are text.
	for _, w := range []unionfind.Warning{
		{Team: "2", Type: unionfind.WarnIllegalMerge, EventUUID: "0190c1a2-0000-7000-8000-000000000001", DistinctID: "null", Details: `{"other":"null"}`, Timestamp: 1_800_000_000_123},
		{Team: "2", Type: "timestamp_in_future", DistinctID: "d\"1", Details: "", Timestamp: 0},
	} {
		out["resolver.kafka_ingestion_warnings"] = append(out["resolver.kafka_ingestion_warnings"], marshal(feed.FromWarning(&w)))
	}
	out["resolver.kafka_ingestion_warnings"] = append(out["resolver.kafka_ingestion_warnings"], marshal(feed.WarningRow{
		Team: "2", Type: "invalid_timestamp", EventUUID: "0190c1a2-0000-7000-8000-000000000002", DistinctID: "d1",
		Timestamp: time.Date(2026, 11, 28, 10, 0, 0, 123e6, time.UTC).Format(feed.TimeFormat),
	}))
	// Billing deltas as the resolver writes them (billing.Delta encodes
	// its class as a name), at the bounds Delta.Validate allows.
	for _, d := range []billing.Delta{
		{Team: "2", Month: "2026-11", Class: billing.Identified, Count: 1},
		{Team: "2", Month: billing.MaxMonth, Class: billing.Anonymous, Count: billing.MaxDeltaCount},
		{Team: strings.Repeat("é", 100), Month: billing.MinMonth, Class: billing.Excluded, Count: 42},
	} {
		require.NoError(t, d.Validate())
		out["resolver.kafka_billing_usage"] = append(out["resolver.kafka_billing_usage"], marshal(d))
	}
	return out
}

// TestSchemaKafkaTablesReadTheRows checks every value of every sample
// record against the type of its column in the Kafka table that reads the
// topic: a record written by the resolver must never land in ingest_errors.
// For person_merges the samples come from feed.FromMerge and cover the
// empty person ids and the empty and cut id lists.
func TestSchemaKafkaTablesReadTheRows(t *testing.T) {
	s := loadSchema(t)
	records := sampleRecords(t)
	for _, ft := range feedTables(t) {
		t.Run(ft.kafka, func(t *testing.T) {
			k := s.get(t, ft.kafka, "TABLE")
			recs := records[ft.kafka]
			require.NotEmpty(t, recs, "no sample records of %s", ft.kafka)
			for _, rec := range recs {
				var m map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(rec, &m), "%s", rec)
				for _, c := range k.columns {
					v, ok := m[c.name]
					if !assert.True(t, ok, "%s.%s: no such member in %s", ft.kafka, c.name, rec) {
						continue
					}
					assert.NoError(t, fitsColumn(c.typ, v, k.settings), "%s.%s (%s) ← %s", ft.kafka, c.name, c.typ, v)
				}
			}
		})
	}

	// The samples reach what makes person_merges special.
	var emptyPerson, emptyMoved, parts bool
	for _, m := range sampleMerges() {
		emptyPerson = emptyPerson || m.SurvivorPersonID == "" || m.AbsorbedPersonID == ""
		emptyMoved = emptyMoved || len(m.DistinctIDsMoved) == 0
		parts = parts || m.Parts > 1
	}
	assert.True(t, emptyPerson && emptyMoved && parts)
	rules := map[string]bool{}
	for _, m := range sampleMerges() {
		rules[m.Rule] = true
	}
	assert.Equal(t, map[string]bool{"identify": true, "alias": true, "merge_dangerously": true, "split": true, "delete": true}, rules)

	// A UUID column would not read them: the reason for String.
	k := s.get(t, "resolver.kafka_person_merges", "TABLE")
	for _, c := range k.columns {
		if strings.HasSuffix(c.name, "_person_id") {
			assert.Error(t, fitsColumn("UUID", json.RawMessage(`""`), k.settings))
			assert.Equal(t, "String", c.typ, "%s: \"\" (no person) must parse", c.name)
		}
	}
}

// TestMergeRowParts pins what the schema's key relies on: the parts of one
// record share its team and log coordinates and are numbered 1..parts, and
// together they carry every moved id once.
func TestMergeRowParts(t *testing.T) {
	byRecord := map[[2]int64][]Merge{}
	for _, m := range sampleMerges() {
		k := [2]int64{int64(m.LogPartition), m.LogOffset}
		if m.Rule == "merge_dangerously" && m.Refused == "" {
			byRecord[k] = append(byRecord[k], m)
		}
	}
	require.Len(t, byRecord, 1)
	for _, rows := range byRecord {
		require.Len(t, rows, 3)
		var ids []string
		for i, r := range rows {
			assert.Equal(t, i+1, r.Part)
			assert.Equal(t, len(rows), r.Parts)
			assert.LessOrEqual(t, len(r.DistinctIDsMoved), feed.MergeIDsPerRow)
			ids = append(ids, r.DistinctIDsMoved...)
		}
		assert.Len(t, ids, 2*feed.MergeIDsPerRow+1)
		assert.True(t, slices.IsSorted(ids))
		assert.Len(t, slices.Compact(ids), len(ids))
	}
}
