package warehouse

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/stream"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// schemaStmt is a statement and the file it is in.
type schemaStmt struct {
	stmt
	file string
}

// schema is every statement of configs/clickhouse/*.sql, in the order the
// files run (by name) and the statements within them.
type schema struct {
	stmts  []schemaStmt
	byName map[string]schemaStmt
}

func loadSchema(t *testing.T) schema {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "configs", "clickhouse", "*.sql"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	sort.Strings(files) // the order docker-entrypoint-initdb.d runs them
	s := schema{byName: map[string]schemaStmt{}}
	for _, path := range files {
		name := filepath.Base(path)
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		f, err := tokenize(string(src))
		require.NoError(t, err, name)
		require.NotEmpty(t, strings.TrimSpace(f.leadingComment), "%s opens with a comment saying what it is", name)
		stmts, err := splitStatements(f.tokens)
		require.NoError(t, err, name)
		require.NotEmpty(t, stmts, name)
		for _, toks := range stmts {
			st, err := parseCreate(toks)
			require.NoError(t, err, name)
			assert.True(t, st.ifNotExists, "%s line %d: CREATE %s %s without IF NOT EXISTS: the files must be safe to run twice", name, st.line, st.kind, st.name)
			_, dup := s.byName[st.name]
			require.False(t, dup, "%s line %d: %s created twice", name, st.line, st.name)
			ss := schemaStmt{stmt: st, file: name}
			s.stmts = append(s.stmts, ss)
			s.byName[st.name] = ss
		}
	}
	return s
}

// index returns the position of the statement creating name in the order
// the files run, or -1.
func (s schema) index(name string) int {
	return slices.IndexFunc(s.stmts, func(st schemaStmt) bool { return st.name == name })
}

// get returns the statement creating name, failing if there is none.
func (s schema) get(t *testing.T, name, kind string) schemaStmt {
	t.Helper()
	st, ok := s.byName[name]
	require.True(t, ok, "no CREATE of %s", name)
	require.Equal(t, kind, st.kind, "%s", name)
	return st
}

func columnNames(cols []column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.name
	}
	return out
}

// isProvenance reports whether a storage column is bookkeeping of the
// ingestion (a Kafka virtual column or an insert time), not a row field.
func isProvenance(name string) bool { return strings.HasPrefix(name, "_") }

// stampedEvent is a minimal event stamped by pkg/event, as the resolver
// writes it to events_person.
func stampedEvent(t *testing.T) []byte {
	t.Helper()
	in := `{"uuid":"0190c1a2-0000-7000-8000-000000000001","event":"$pageview","distinct_id":"d1","token":"phc_x","timestamp":"2026-11-28T10:00:00.123Z","properties":{"a":1}}`
	ev, err := event.NewDecoder(event.Options{}).Decode([]byte(in), event.Source{Topic: "events_raw", Timestamp: time.Now()})
	require.NoError(t, err)
	return ev.AppendStamped(nil, event.Stamp{
		PersonID: unionfind.ImplicitPersonID(ev.Team, ev.DistinctID), PersonCreatedAt: unionfind.ImplicitCreatedAt,
		PersonMode: "propertyless", BillingClass: "anonymous",
	})
}

// stampedFields are the members of a person-stamped event that are the
// resolver's (docs/SEMANTICS.md §6), found by stamping a minimal event with
// pkg/event: the output's members less the input's own passed-through ones.
func stampedFields(t *testing.T) []string {
	t.Helper()
	out := stampedEvent(t)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(out, &m), "%s", out)
	var fields []string
	for k := range m {
		if k != "token" { // the input's, passed through
			fields = append(fields, k)
		}
	}
	sort.Strings(fields)
	return fields
}

// TestRowTypesMatchTheFeed pins the Go event row of this package to the
// stamped event of pkg/event, and the lineage row to docs/SEMANTICS.md §8.
// (Person, DistinctID and Merge are package feed's rows themselves.)
func TestRowTypesMatchTheFeed(t *testing.T) {
	assert.Equal(t, stampedFields(t), jsonFields(Event{}))
	assert.Equal(t, []string{
		"billing_class", "distinct_id", "event", "person_created_at", "person_id", "person_mode",
		"person_properties", "properties", "team", "timestamp", "uuid",
	}, jsonFields(Event{}), "docs/SEMANTICS.md §6")
	assert.Equal(t, sorted([]string{
		"team", "survivor_person_id", "absorbed_person_id", "distinct_ids_moved", "rule", "refused",
		"other_distinct_id", "distinct_id", "event_uuid", "event_timestamp",
		"source_topic", "source_partition", "source_offset", "log_partition", "log_offset", "log_timestamp",
		"part", "parts",
	}), jsonFields(stream.MergeRow{}), "docs/SEMANTICS.md §8")
}

// TestSchemaSyntax checks every file's shape (the loader fails on
// unbalanced parentheses, a statement without ';', a CREATE that names
// nothing) and that each object is created before anything uses it, in the
// order the files run.
func TestSchemaSyntax(t *testing.T) {
	s := loadSchema(t)
	seen := map[string]bool{}
	for _, st := range s.stmts {
		switch st.kind {
		case "DATABASE":
			assert.Equal(t, "resolver", st.name)
		case "FUNCTION":
			assert.True(t, strings.HasPrefix(st.name, "resolver_"), "%s: functions are global; prefix them resolver_", st.name)
		default:
			db, _, ok := strings.Cut(st.name, ".")
			assert.True(t, ok && db == "resolver", "%s: %s is qualified with the database resolver", st.file, st.name)
			assert.True(t, seen["resolver"], "%s: %s created before the database", st.file, st.name)
		}
		for _, ref := range append(slices.Clone(st.refs), st.to) {
			if ref != "" {
				assert.True(t, seen[ref], "%s: %s uses %s before it is created", st.file, st.name, ref)
			}
		}
		for _, tok := range st.body {
			if strings.HasPrefix(tok.text, "resolver_") && tok.kind == tokIdent {
				assert.True(t, seen[tok.text], "%s: %s calls %s before it is created", st.file, st.name, tok.text)
			}
		}
		seen[st.name] = true
	}
}

// feedTable is one topic the warehouse ingests as JSON.
type feedTable struct {
	topicKey string // key under topics: in configs/resolver.yaml
	kafka    string // the Kafka-engine table
	read     string // the Null table every record passes through
	mv       string // the materialized view into storage
	storage  string
	fields   []string // JSON fields of the topic's records
}

// topic is the name the views of the topic's files start with:
// events_person, persons, ….
func (ft feedTable) topic() string {
	return strings.TrimPrefix(strings.TrimSuffix(ft.read, "_read"), "resolver.")
}

func feedTables(t *testing.T) []feedTable {
	return []feedTable{
		{"person", "resolver.kafka_events_person", "resolver.events_person_read", "resolver.events_person_mv", "resolver.events", stampedFields(t)},
		{"persons", "resolver.kafka_persons", "resolver.persons_read", "resolver.persons_mv", "resolver.persons", jsonFields(stream.PersonRow{})},
		{"distinct_ids", "resolver.kafka_person_distinct_ids", "resolver.person_distinct_ids_read", "resolver.person_distinct_ids_mv", "resolver.person_distinct_ids", jsonFields(stream.DistinctIDRow{})},
		{"person_merges", "resolver.kafka_person_merges", "resolver.person_merges_read", "resolver.person_merges_mv", "resolver.person_merges", jsonFields(stream.MergeRow{})},
		{"warnings", "resolver.kafka_ingestion_warnings", "resolver.ingestion_warnings_read", "resolver.ingestion_warnings_mv", "resolver.ingestion_warnings", jsonFields(stream.WarningRow{})},
		{"billing", "resolver.kafka_billing_usage", "resolver.billing_usage_read", "resolver.billing_usage_mv", "resolver.billing_usage", jsonFields(billing.Delta{})},
	}
}

// readVirtuals are the columns of a Null read table after the record's
// own: the Kafka engine's virtual columns a view below it needs, with
// _timestamp the record's Kafka timestamp made not Nullable.
var readVirtuals = []column{
	{"_topic", "LowCardinality(String)"}, {"_partition", "UInt64"}, {"_offset", "UInt64"},
	{"_timestamp", "DateTime64(3,'UTC')"}, {"_raw_message", "String"}, {"_error", "String"},
}

// baseType strips LowCardinality(…): the storage may store a String column
// of the Kafka table as LowCardinality(String).
func baseType(typ string) string {
	if in, ok := strings.CutPrefix(typ, "LowCardinality("); ok {
		return strings.TrimSuffix(in, ")")
	}
	return typ
}

// viewsOf returns the materialized views that read table, in the order
// they are created.
func (s schema) viewsOf(table string) []schemaStmt {
	var out []schemaStmt
	for _, st := range s.stmts {
		if st.kind == "MATERIALIZED VIEW" && st.from == table {
			out = append(out, st)
		}
	}
	return out
}

// TestSchemaFeedTables checks, for each topic ingested as JSON, the Kafka
// table, the Null table its one view fills, the views below that (errors
// first, then storage) and the storage table against the resolver's JSON
// and topic names.
func TestSchemaFeedTables(t *testing.T) {
	s := loadSchema(t)
	topics := topicNames(t)
	groups := map[string]bool{}
	for _, ft := range feedTables(t) {
		t.Run(ft.storage, func(t *testing.T) {
			k := s.get(t, ft.kafka, "TABLE")
			assert.Equal(t, "Kafka", k.engine)
			assert.Equal(t, topics[ft.topicKey], k.settings["kafka_topic_list"], "%s reads topics.%s", ft.kafka, ft.topicKey)
			assert.Equal(t, "JSONEachRow", k.settings["kafka_format"])
			assert.Equal(t, composeKafkaAddr, k.settings["kafka_broker_list"], "the compose broker")
			assert.Equal(t, "stream", k.settings["kafka_handle_error_mode"])
			assert.Equal(t, "1", k.settings["input_format_skip_unknown_fields"])
			g := k.settings["kafka_group_name"]
			assert.NotEmpty(t, g)
			assert.False(t, groups[g], "consumer group %s shared by two Kafka tables", g)
			groups[g] = true
			assert.Equal(t, ft.fields, sorted(columnNames(k.columns)), "%s: the columns are the JSON fields of the records", ft.kafka)
			for _, c := range k.columns {
				if strings.HasPrefix(c.typ, "DateTime") {
					assert.Equal(t, "best_effort", k.settings["date_time_input_format"], "%s.%s: RFC 3339 with T and Z", ft.kafka, c.name)
				}
				if c.name == "properties" || c.name == "person_properties" {
					assert.Equal(t, "String", c.typ, "%s.%s: the JSON object as text", ft.kafka, c.name)
					assert.Equal(t, "1", k.settings["input_format_json_read_objects_as_strings"])
				}
				if strings.HasPrefix(c.name, "is_") {
					assert.Equal(t, "UInt8", c.typ)
					assert.Equal(t, "1", k.settings["input_format_json_read_bools_as_numbers"], "%s.%s: JSON true/false", ft.kafka, c.name)
				}
			}

			// The Kafka table has one view, into the Null table, created
			// after every view of the Null table: it is consumed from its
			// first view on, and every view below must see every block.
			kviews := s.viewsOf(ft.kafka)
			require.Len(t, kviews, 1, "%s has one view: the Kafka table is consumed from its first view on", ft.kafka)
			readMV := kviews[0]
			assert.Equal(t, ft.read+"_mv", readMV.name)
			assert.Equal(t, ft.read, readMV.to)
			read := s.get(t, ft.read, "TABLE")
			assert.Equal(t, "Null", read.engine, "%s stores nothing", ft.read)
			assert.Equal(t, append(slices.Clone(k.columns), readVirtuals...), read.columns, "%s: the record's columns, then the virtual ones", ft.read)
			assert.Equal(t, columnNames(read.columns), readMV.selectCols, "%s fills every column of %s", readMV.name, ft.read)
			assert.Contains(t, join(readMV.body), "coalesce(_timestamp_ms,toDateTime64(0,3,'UTC'))AS_timestamp")
			assert.NotContains(t, join(readMV.body), "WHERE", "%s passes every record on", readMV.name)
			below := s.viewsOf(ft.read)
			require.NotEmpty(t, below)
			for _, v := range below {
				assert.Less(t, s.index(v.name), s.index(readMV.name), "%s is created before %s starts the consumer", v.name, readMV.name)
			}

			// Errors first, then storage.
			errMV := below[0]
			assert.Equal(t, "resolver."+ft.topic()+"_errors_mv", errMV.name, "the first view of %s copies the broken records", ft.read)
			assert.Equal(t, "resolver.ingest_errors", errMV.to)
			assert.Contains(t, join(errMV.body), "WHERElength(_error)>0")
			var toErrors int
			for _, v := range below {
				if v.to == "resolver.ingest_errors" {
					toErrors++
				} else {
					assert.Contains(t, join(v.body), "WHERElength(_error)=0", "%s skips records that did not parse", v.name)
				}
			}
			assert.Equal(t, 1, toErrors, "one view copies %s's broken records to resolver.ingest_errors", ft.kafka)

			st := s.get(t, ft.storage, "TABLE")
			var fields []string
			kafkaType := map[string]string{}
			for _, c := range k.columns {
				kafkaType[c.name] = c.typ
			}
			readType := map[string]string{}
			for _, c := range read.columns {
				readType[c.name] = c.typ
			}
			for _, c := range st.columns {
				assert.Contains(t, readType, c.name, "%s.%s comes from %s", ft.storage, c.name, ft.read)
				assert.Equal(t, baseType(readType[c.name]), baseType(c.typ), "%s.%s has the type of %s.%s", ft.storage, c.name, ft.read, c.name)
				if !isProvenance(c.name) {
					fields = append(fields, c.name)
				}
			}
			assert.Equal(t, ft.fields, sorted(fields), "%s: the columns are the JSON fields of the records, plus _provenance", ft.storage)

			mv := s.get(t, ft.mv, "MATERIALIZED VIEW")
			assert.Equal(t, ft.storage, mv.to)
			assert.Equal(t, ft.read, mv.from)
			assert.Equal(t, columnNames(st.columns), mv.selectCols, "%s selects every column of %s", ft.mv, ft.storage)
		})
	}

	// Every Kafka table of the schema is one of the above or the dead
	// letters' (TestSchemaDeadLetters), and every topic of the resolver's
	// outputs but the internal ones is ingested.
	var kafkaTables []string
	for _, st := range s.stmts {
		if st.kind == "TABLE" && st.engine == "Kafka" {
			kafkaTables = append(kafkaTables, st.settings["kafka_topic_list"])
		}
	}
	assert.ElementsMatch(t, []string{
		topics["person"], topics["persons"], topics["distinct_ids"], topics["person_merges"],
		topics["warnings"], topics["billing"], topics["dead_letter"],
	}, kafkaTables, "the eight output topics less identity_log (internal) are ingested")

	ev := s.get(t, "resolver.events", "TABLE")
	assert.Equal(t, "ReplacingMergeTree", ev.engine, "events are deduplicated (the Kafka engine is at-least-once)")
	assert.Equal(t, []string{"_timestamp"}, ev.engArgs, "the version is the record's Kafka timestamp, as PostHog's _timestamp")
	assert.Equal(t, "(team,toDate(timestamp),event,uuid)", ev.orderBy, "one row per uuid of a team, day and event")
	for _, tc := range []struct{ table, order string }{
		{"resolver.persons", "(team,id)"},
		{"resolver.person_distinct_ids", "(team,distinct_id)"},
		{"resolver.person_distinct_id_overrides", "(team,distinct_id)"},
	} {
		st := s.get(t, tc.table, "TABLE")
		assert.Equal(t, "ReplacingMergeTree", st.engine, tc.table)
		assert.Equal(t, []string{"version"}, st.engArgs, "%s folds by version (docs/SEMANTICS.md §6)", tc.table)
		assert.Equal(t, tc.order, st.orderBy, tc.table)
		assert.Contains(t, columnNames(st.columns), "is_deleted", tc.table)
	}
	// Lineage rows are never replaced by newer versions; a copy the Kafka
	// engine stored twice folds into one per record and part.
	pm := s.get(t, "resolver.person_merges", "TABLE")
	assert.Equal(t, "ReplacingMergeTree", pm.engine)
	assert.Empty(t, pm.engArgs, "no version: the copies of a row are equal")
	assert.Equal(t, "(team,log_partition,log_offset,part)", pm.orderBy)
	// Every stored output folds the copies an at-least-once read stores;
	// only the log of parse errors keeps every row.
	for _, st := range s.stmts {
		if st.kind == "TABLE" && strings.HasSuffix(st.engine, "MergeTree") && st.name != "resolver.ingest_errors" {
			assert.Equal(t, "ReplacingMergeTree", st.engine, "%s: a block the Kafka engine read twice must fold", st.name)
		}
	}
	// Rows without a key of their own are named by where they were read.
	for _, table := range []string{"resolver.ingestion_warnings", "resolver.billing_usage"} {
		st := s.get(t, table, "TABLE")
		assert.Equal(t, "ReplacingMergeTree", st.engine, table)
		assert.Empty(t, st.engArgs, table)
		assert.True(t, strings.HasSuffix(st.orderBy, ",_partition,_offset)"), "%s: a copy read twice folds, two records never: %s", table, st.orderBy)
	}
}

// TestSchemaOverrides checks person_distinct_id_overrides: the columns of
// person_distinct_ids, filled from the same Null table with the rows of
// version > 0 only, and what events_with_current_person joins.
func TestSchemaOverrides(t *testing.T) {
	s := loadSchema(t)
	dids := s.get(t, "resolver.person_distinct_ids", "TABLE")
	ov := s.get(t, "resolver.person_distinct_id_overrides", "TABLE")
	assert.Equal(t, dids.columns, ov.columns)
	mv := s.get(t, "resolver.person_distinct_id_overrides_mv", "MATERIALIZED VIEW")
	assert.Equal(t, "resolver.person_distinct_ids_read", mv.from)
	assert.Equal(t, ov.name, mv.to)
	assert.Equal(t, columnNames(ov.columns), mv.selectCols)
	assert.True(t, strings.HasSuffix(join(mv.body), "WHERElength(_error)=0ANDversion>0"), "%s", join(mv.body))
	v := s.get(t, "resolver.events_with_current_person", "VIEW")
	assert.Contains(t, v.refs, ov.name)
	assert.NotContains(t, v.refs, dids.name, "the view joins the overrides only (PostHog's way)")
}

// TestSchemaCurrentPersonView checks the view's shape: the events columns,
// with person_id the current person and stamped_person_id the stamped one,
// from events joined with the latest distinct-id row, the implicit person for
// a deleted one — the rule of Tables.CurrentPersonID.
func TestSchemaCurrentPersonView(t *testing.T) {
	s := loadSchema(t)
	v := s.get(t, "resolver.events_with_current_person", "VIEW")
	assert.Equal(t, "resolver.events", v.from)
	assert.ElementsMatch(t, []string{"resolver.events", "resolver.person_distinct_id_overrides"}, v.refs)
	want := append(slices.DeleteFunc(columnNames(s.get(t, "resolver.events", "TABLE").columns), isProvenance), "stamped_person_id")
	assert.ElementsMatch(t, want, v.selectCols)
	body := join(v.body)
	for _, frag := range []string{
		"coalesce(o.current_person_id,e.person_id)ASperson_id",
		"e.person_idASstamped_person_id",
		"LEFTJOIN",
		"argMax(is_deleted,version)=1",
		"resolver_implicit_person_id(team,distinct_id)",
		"argMax(person_id,version)",
		"GROUPBYteam,distinct_id",
		"ONe.team=o.teamANDe.distinct_id=o.distinct_id",
	} {
		assert.Contains(t, body, frag)
	}
}

// viewParams returns the parameters {name:Type} of a parameterized view's
// body, name → type, failing on one used with two types.
func viewParams(t *testing.T, body []token) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := 0; i < len(body); i++ {
		if !body[i].is("{") {
			continue
		}
		end := slices.IndexFunc(body[i:], func(tok token) bool { return tok.is("}") })
		require.Positive(t, end, "unclosed { at %s", body[i])
		p := body[i+1 : i+end]
		require.True(t, len(p) >= 3 && p[0].kind == tokIdent && p[1].is(":"), "parameter %q is not {name:Type}", join(p))
		typ := join(p[2:])
		if prev, ok := out[p[0].text]; ok {
			require.Equal(t, prev, typ, "parameter %s used with two types", p[0].text)
		}
		out[p[0].text] = typ
		i += end
	}
	return out
}

// TestSchemaMergeEventsView checks the shape of person_merge_events: a view
// parameterized by a lineage record's team and log coordinates (typed as
// person_merges' columns), whose columns are MergeEvent's, joining the
// events of the team with the ids the record moved — the rule of
// Tables.MergeEvents.
func TestSchemaMergeEventsView(t *testing.T) {
	s := loadSchema(t)
	v := s.get(t, "resolver.person_merge_events", "VIEW")
	assert.Equal(t, "resolver.events", v.from)
	assert.ElementsMatch(t, []string{"resolver.events", "resolver.person_merges"}, v.refs)
	assert.Equal(t, jsonFields(MergeEvent{}), sorted(v.selectCols), "the view's columns are MergeEvent's")

	params := viewParams(t, v.body)
	colType := map[string]string{}
	for _, c := range s.get(t, "resolver.person_merges", "TABLE").columns {
		colType[c.name] = c.typ
	}
	assert.Equal(t, map[string]string{"team": "String", "log_partition": "Int32", "log_offset": "Int64"}, params)
	for name, typ := range params {
		assert.Equal(t, colType[name], typ, "{%s} has the type of person_merges.%s", name, name)
	}

	body := join(v.body)
	for _, frag := range []string{
		// The record: filtered before the join, all its parts, copies folded.
		"SELECTDISTINCT",
		"arrayJoin(distinct_ids_moved)ASmoved_distinct_id",
		"FROMresolver.person_mergesWHEREteam={team:String}ANDlog_partition={log_partition:Int32}ANDlog_offset={log_offset:Int64}",
		// Its ids' events, of the team only.
		"FROMresolver.eventsASeINNERJOIN",
		"ONe.team=m.teamANDe.distinct_id=m.moved_distinct_id",
		"WHEREe.team={team:String}",
		"e.person_idASstamped_person_id",
		"m.survivor_person_idASsurvivor_person_id",
		"ORDERBYtimestamp,uuid",
	} {
		assert.Contains(t, body, frag)
	}
	assert.NotContains(t, body, "part=", "every part of the record counts")
}

// TestSchemaImplicitPersonFunction evaluates resolver_implicit_person_id
// with a Go model of the ClickHouse functions it calls and compares it with
// unionfind.ImplicitPersonID: the docs/SEMANTICS.md §3 examples and ids with
// every first hex digit of byte 9, so each variant digit 8, 9, a, b occurs.
func TestSchemaImplicitPersonFunction(t *testing.T) {
	s := loadSchema(t)
	udfs := map[string]udf{}
	for _, st := range s.stmts {
		if st.kind == "FUNCTION" {
			udfs[st.name] = udf{params: st.params, body: st.body}
		}
	}
	ev := &evaluator{udfs: udfs, calls: map[string]int{}}
	check := func(team, did string) string {
		t.Helper()
		got, err := ev.call("resolver_implicit_person_id", []sqlValue{str(team), str(did)})
		require.NoError(t, err)
		want := unionfind.ImplicitPersonID(team, did).String()
		assert.Equal(t, want, got.s, "team %q distinct_id %q", team, did)
		return got.s
	}
	assert.Equal(t, "246f7a43-5507-564f-b687-793ee3c2dd79", check("1", "test"))
	assert.Equal(t, "00ce873a-549c-548e-bbec-cc804a385dd8", check("2", "test"))
	assert.Equal(t, "45c17302-ee44-5596-916a-0eba21f4b638", check("1", "test2"))
	variants := map[byte]bool{}
	for i := 0; len(variants) < 4 || i < 64; i++ {
		require.Less(t, i, 10000)
		id := check("phc_team1", "anon-"+string(rune('a'+i%26))+strings.Repeat("é", i/26)+"\x00:")
		variants[id[19]] = true
	}
	assert.Equal(t, map[byte]bool{'8': true, '9': true, 'a': true, 'b': true}, variants)
	for _, f := range []string{"SHA1", "UUIDStringToNum", "hex", "lower", "substring", "position", "toUUID", "concat"} {
		assert.NotZero(t, ev.calls[f], "%s is used", f)
	}
	// The namespace in the SQL is unionfind's.
	assert.Contains(t, join(udfs["resolver_implicit_person_id"].body), "'"+unionfind.PersonNamespace.String()+"'")
}

// TestTokenizer pins the tokenizer on the cases the schema files do not
// all exercise.
func TestTokenizer(t *testing.T) {
	f, err := tokenize("-- lead\n/* more */ SELECT 'it''s', 'a\\'b', `x y`, \"q\" -> 0x0F; -- tail")
	require.NoError(t, err)
	assert.Equal(t, "lead\nmore\n", f.leadingComment)
	var texts []string
	for _, tok := range f.tokens {
		texts = append(texts, tok.text)
	}
	assert.Equal(t, []string{"SELECT", "it's", ",", "a'b", ",", "x y", ",", "q", "->", "0x0F", ";"}, texts)

	for src, want := range map[string]string{
		"CREATE DATABASE x":                      "does not end with ';'",
		"CREATE TABLE t (a String;":              "inside (",
		"CREATE TABLE t (a String));":            "unbalanced",
		"SELECT 'abc;":                           "unterminated string",
		"CREATE TABLE t (a String) ENGINE = Log": "does not end with ';'",
	} {
		f, err := tokenize(src)
		if err == nil {
			_, err = splitStatements(f.tokens)
		}
		require.Error(t, err, src)
		assert.Contains(t, err.Error(), want, src)
	}
	for src, want := range map[string]string{
		"CREATE TABLE IF NOT EXISTS (a String) ENGINE = Log;": "names nothing",
		"DROP TABLE x;":                                      "not a CREATE",
		"CREATE TABLE x (a) ENGINE = Log;":                   "no name and type",
		"CREATE VIEW v AS SELECT a + 1 FROM t;":              "needs a name",
		"CREATE TABLE x (a String) ENGINE = Log SETTINGS b;": "not name = literal",
		"CREATE TABLE x (a String) ENGINE = Log CREATE TABLE y (b String) ENGINE = Log;": "a ';' missing",
	} {
		f, err := tokenize(src)
		require.NoError(t, err, src)
		stmts, err := splitStatements(f.tokens)
		require.NoError(t, err, src)
		_, err = parseCreate(stmts[0])
		require.Error(t, err, src)
		assert.Contains(t, err.Error(), want, src)
	}
}
