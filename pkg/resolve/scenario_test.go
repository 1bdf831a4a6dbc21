package resolve_test

// The scenario suite: identity sequences as data (docs/SEMANTICS.md §1–7), one
// JSON file per scenario under testdata/scenarios. The format is described
// in testdata/scenarios/README.md; in short:
//
//	{
//	  "spec": "§4 merge request 3, survivor …",     // the rule(s) covered
//	  "why":  "what the scenario pins, and why",
//	  "now":  "2026-03-01T12:00:00Z",               // processing time (Options.Now)
//	  "max_merge_move": 2,                          // optional, Graph.MaxMergeMove
//	  "max_event_bytes": 200,                       // optional, Options.MaxEventBytes
//	  "max_person_properties_bytes": 64,            // optional, Graph.MaxPersonPropertiesBytes
//	  "teams": {"phc_a": "1"},                      // optional, Options.Teams
//	  "steps": [
//	    {"name": "…", "input": {…} | "raw text", "record_timestamp": "…",
//	     "expect": {"dead_letter": "missing_team"} },
//	    {"name": "…", "envelope": {…, "data": {…}},
//	     "expect": {"person": "@a", "person_mode": "full", "billing_class": "identified",
//	                "person_properties": {…}, "warnings": [],
//	                "persons": [{"id": "@a", "version": 0, "is_identified": false,
//	                             "is_deleted": false, "created_at": "…", "properties": {}}],
//	                "distinct_ids": [{"distinct_id": "a", "person_id": "@a", "version": 0}]}},
//	    {"name": "…", "delete_person": "@a", "team": "1", "expect": {"persons": […], "distinct_ids": […]}}
//	  ],
//	  "final": {"distinct_ids": [{"distinct_id": "a", "person_id": "@a", "version": 0}],
//	            "persons": [{"id": "@a", "version": 0, …}]}
//	}
//
// Each step is its own batch, run exactly as the pipeline runs an event:
// event.Decoder.Decode → (dead letter: compare the reason) → resolve.Op →
// unionfind.Graph.Apply inside state.Memory.Update → Memory.Find →
// resolve.Stamper.Stamp → event.AppendStamped.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/resolve"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// minScenarios is the least number of scenario files the suite must find
// (issue 2: at least 40).
const minScenarios = 45

// scenarioTopic and scenarioPartition are the Kafka coordinates every step
// is read from; the offset is the step's index unless the step sets one.
const (
	scenarioTopic     = "events_raw"
	scenarioPartition = 0
)

// defaultTeam is the team of final-state entries, feed rows and
// delete_person steps that do not name one.
const defaultTeam = "1"

type scenario struct {
	Spec          string `json:"spec"`
	Why           string `json:"why"`
	Now           string `json:"now"`
	MaxMergeMove  int    `json:"max_merge_move"`
	MaxEventBytes int    `json:"max_event_bytes"`
	// MaxPersonPropertiesBytes is Graph.MaxPersonPropertiesBytes (0 =
	// default 512 KiB).
	MaxPersonPropertiesBytes int `json:"max_person_properties_bytes"`
	// Teams is the team map (event.Options.Teams, config teams.file):
	// token → team id; absent = no map.
	Teams map[string]string `json:"teams"`
	Steps []step            `json:"steps"`
	Final *final            `json:"final"`
}

type step struct {
	Name string `json:"name"`
	// Input is the record value: a JSON object is sent as written (compacted),
	// a JSON string is sent as its contents (for malformed records).
	Input json.RawMessage `json:"input"`
	// Envelope is a capture envelope whose "data" is written as an object
	// here and sent as the JSON string the capture service writes.
	Envelope json.RawMessage `json:"envelope"`
	// RecordTimestamp is the Kafka record's timestamp; default: "now".
	RecordTimestamp string `json:"record_timestamp"`
	// Offset is the record's offset; default: the step's index.
	Offset *int64 `json:"offset"`

	// DeletePerson makes the step a person deletion (unionfind.OpDeletePerson)
	// of that person in Team.
	DeletePerson string `json:"delete_person"`
	Team         string `json:"team"`

	Expect expect `json:"expect"`
}

type expect struct {
	DeadLetter string `json:"dead_letter"`

	// Normalised fields of the decoded event (checked when given).
	Team       *string `json:"team"`
	DistinctID *string `json:"distinct_id"`
	UUID       *string `json:"uuid"` // a UUID, or "derived"
	Timestamp  *string `json:"timestamp"`

	// The stamp.
	Person           string          `json:"person"`
	PersonMode       string          `json:"person_mode"`
	BillingClass     string          `json:"billing_class"`
	PersonProperties json.RawMessage `json:"person_properties"`
	PersonCreatedAt  *string         `json:"person_created_at"`

	// Warnings: decode warnings, then graph warnings, by type. Absent means
	// none.
	Warnings []string `json:"warnings"`

	// Feed rows this step emitted (any order). Required for every step that
	// applied an op; [] means "must emit nothing".
	Persons     *[]personRow `json:"persons"`
	DistinctIDs *[]didRow    `json:"distinct_ids"`

	// Output: members the stamped output must have, compared recursively
	// (objects: the listed keys only; anything else: equal).
	Output json.RawMessage `json:"output"`
	// OutputAbsent: dotted paths ("properties.$set") the output must not have.
	OutputAbsent []string `json:"output_absent"`
}

type personRow struct {
	Team         string          `json:"team"`
	ID           string          `json:"id"`
	Version      *uint64         `json:"version"`
	IsIdentified bool            `json:"is_identified"`
	IsDeleted    bool            `json:"is_deleted"`
	CreatedAt    string          `json:"created_at"`
	Properties   json.RawMessage `json:"properties"`
}

type didRow struct {
	Team       string  `json:"team"`
	DistinctID string  `json:"distinct_id"`
	PersonID   string  `json:"person_id"`
	Version    *uint64 `json:"version"`
	IsDeleted  bool    `json:"is_deleted"`
}

type final struct {
	DistinctIDs []didRow    `json:"distinct_ids"`
	Persons     []personRow `json:"persons"`
	// Billing, when given, is every billing counter the stamped events
	// made (per team, calendar month in UTC by event timestamp, and class;
	// the pipeline takes the month of the record's timestamp instead,
	// docs/SEMANTICS.md §7), as billing.Meter counts them.
	Billing *[]billing.Delta `json:"billing"`
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "scenarios", "*.json"))
	require.NoError(t, err)
	defer func() {
		if len(files) < minScenarios {
			t.Errorf("testdata/scenarios has %d scenario files, want at least %d", len(files), minScenarios)
		}
	}()
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			sc := loadScenario(t, file)
			r := newRunner(t, file, sc)
			r.run()
			// Determinism (issue 2): the same scenario run again on a fresh
			// store reaches byte-identical state.
			if !t.Failed() {
				again := newRunner(t, file, sc)
				again.quiet = true
				again.run()
				fp1, err1 := r.mem.Fingerprint()
				fp2, err2 := again.mem.Fingerprint()
				require.NoError(t, err1)
				require.NoError(t, err2)
				if fp1 != fp2 {
					t.Errorf("%s: a second run of the same steps gives fingerprint %s, the first %s", file, fp2, fp1)
				}
			}
		})
	}
}

// loadScenario reads a scenario file strictly: unknown fields are errors, so
// a misspelt expectation cannot silently check nothing.
func loadScenario(t *testing.T, file string) *scenario {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var sc scenario
	require.NoError(t, dec.Decode(&sc), "%s: not a valid scenario file", file)
	require.NotEmpty(t, sc.Spec, "%s: \"spec\" must cite the SEMANTICS section/row covered", file)
	require.NotEmpty(t, sc.Why, "%s: \"why\" must say what the scenario pins", file)
	require.NotEmpty(t, sc.Now, "%s: \"now\" (the processing time) is required", file)
	require.NotEmpty(t, sc.Steps, "%s: no steps", file)
	require.NotNil(t, sc.Final, "%s: \"final\" (the final state) is required", file)
	return &sc
}

// runner runs one scenario.
type runner struct {
	t     *testing.T
	file  string
	sc    *scenario
	now   time.Time
	dec   *event.Decoder
	mem   *state.Memory
	graph unionfind.Graph
	stamp resolve.Stamper
	quiet bool // second (determinism) run: errors only, no comparisons

	// ids is every (team, distinct_id) the scenario touched; persons every
	// person id that appeared in a feed row or a stamp.
	ids     map[teamID]bool
	persons map[teamPerson]bool
	meter   *billing.Meter
	// names maps person ids back to "@<distinct_id>" for messages.
	names map[uuid.UUID]string
}

type teamID struct{ team, id string }
type teamPerson struct {
	team string
	id   uuid.UUID
}

func newRunner(t *testing.T, file string, sc *scenario) *runner {
	now := mustTime(t, file, "now", sc.Now)
	var teams *event.TeamMap
	if sc.Teams != nil {
		var err error
		if teams, err = event.NewTeamMap(sc.Teams); err != nil {
			t.Fatalf("%s: teams: %v", file, err)
		}
	}
	r := &runner{
		t: t, file: file, sc: sc, now: now,
		dec:     event.NewDecoder(event.Options{MaxEventBytes: sc.MaxEventBytes, Now: func() time.Time { return now }, Teams: teams}),
		mem:     state.NewMemory(),
		graph:   unionfind.Graph{MaxMergeMove: sc.MaxMergeMove, MaxPersonPropertiesBytes: sc.MaxPersonPropertiesBytes},
		stamp:   resolve.Stamper{Classifier: billing.NewClassifier(billing.DefaultExcludedEvents())},
		ids:     map[teamID]bool{},
		persons: map[teamPerson]bool{},
		names:   map[uuid.UUID]string{},
		meter:   billing.NewMeter(),
	}
	t.Cleanup(func() { _ = r.mem.Close() })
	return r
}

func (r *runner) run() {
	for i := range r.sc.Steps {
		s := &r.sc.Steps[i]
		c := &checker{r: r, where: fmt.Sprintf("%s: step %d (%s)", r.file, i, s.Name)}
		if s.DeletePerson != "" {
			r.deleteStep(c, i, s)
		} else {
			r.eventStep(c, i, s)
		}
	}
	if !r.quiet {
		r.checkFinal()
	}
}

// checker reports mismatches of one step.
type checker struct {
	r     *runner
	where string
}

func (c *checker) errorf(field, format string, args ...any) {
	c.r.t.Helper()
	if c.r.quiet {
		return
	}
	c.r.t.Errorf("%s: %s: %s", c.where, field, fmt.Sprintf(format, args...))
}

func (c *checker) fatalf(format string, args ...any) {
	c.r.t.Helper()
	c.r.t.Fatalf("%s: %s", c.where, fmt.Sprintf(format, args...))
}

func (c *checker) eq(field string, got, want any) {
	c.r.t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		c.errorf(field, "got %s, want %s", show(got), show(want))
	}
}

func show(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 80 {
			return strconv.Quote(s[:80]) + "…"
		}
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// ---- event steps ----

func (r *runner) eventStep(c *checker, i int, s *step) {
	t := r.t
	t.Helper()
	value := r.recordValue(c, s)
	offset := int64(i)
	if s.Offset != nil {
		offset = *s.Offset
	}
	recTS := r.now
	if s.RecordTimestamp != "" {
		recTS = mustTime(t, c.where, "record_timestamp", s.RecordTimestamp)
	}
	src := event.Source{Topic: scenarioTopic, Partition: scenarioPartition, Offset: offset, Timestamp: recTS}
	x := &s.Expect

	ev, err := r.dec.Decode(value, src)
	if err != nil {
		reason, ok := event.ReasonOf(err)
		if !ok {
			c.fatalf("Decode returned an error without a dead-letter reason: %v", err)
		}
		if x.DeadLetter == "" {
			c.errorf("dead_letter", "the record was dead-lettered (%v), want it accepted", err)
			return
		}
		c.eq("dead_letter", string(reason), x.DeadLetter)
		return
	}
	if x.DeadLetter != "" {
		c.errorf("dead_letter", "the record was accepted (team %q, distinct_id %q, event %q), want dead letter %q",
			ev.Team, ev.DistinctID, ev.Name, x.DeadLetter)
		return
	}
	team := ev.Team
	r.ids[teamID{team, ev.DistinctID}] = true

	// The identity op and its feed rows.
	var res unionfind.Result
	op, hasOp := resolve.Op(ev, unionfind.Source{Topic: scenarioTopic, Partition: scenarioPartition, Offset: offset})
	if hasOp {
		// The step's index is its identity_log offset (docs/SEMANTICS.md §8:
		// a deletion's tombstone version and a split's person id use it).
		op.Log = unionfind.LogPos{Partition: scenarioPartition, Offset: int64(i), Time: recTS.UnixMilli()}
		if op.Merge != nil && op.Merge.Other != "" {
			// "" can never be stored (it is illegal to merge and no
			// distinct_id), so it need not be listed in the final state.
			r.ids[teamID{team, op.Merge.Other}] = true
		}
		err := r.mem.Update(func(tx state.Tx) error {
			var err error
			res, err = r.graph.Apply(tx, &op)
			return err
		})
		if err != nil {
			c.fatalf("Apply: %v", err)
		}
	}

	// The stamp.
	p, explicit, err := r.mem.Find(team, ev.DistinctID)
	if err != nil {
		c.fatalf("Find: %v", err)
	}
	st, class := r.stamp.Stamp(ev, &p, nil, explicit)
	r.meter.Add(team, billing.Month(ev.Timestamp), class, 1)
	r.persons[teamPerson{team, p.ID}] = explicit || r.persons[teamPerson{team, p.ID}]
	r.noteRows(res)
	if r.quiet {
		return
	}

	if x.Team != nil {
		c.eq("team", team, *x.Team)
	}
	if x.DistinctID != nil {
		c.eq("distinct_id", ev.DistinctID, r.expand(*x.DistinctID))
	}
	if x.UUID != nil {
		want := *x.UUID
		if want == "derived" {
			want = event.DeriveUUID(src).String()
		}
		c.eq("uuid", ev.UUID.String(), want)
	}
	if x.Timestamp != nil {
		c.eq("timestamp", ev.Timestamp.UTC().Format(time.RFC3339Nano), mustTime(t, c.where, "timestamp", *x.Timestamp).Format(time.RFC3339Nano))
	}

	if x.Person == "" || x.PersonMode == "" || x.BillingClass == "" {
		c.fatalf("an accepted event needs expect.person, expect.person_mode and expect.billing_class")
	}
	c.eq("person", r.name(st.PersonID.String()), r.name(r.personRef(c, team, x.Person).String()))
	c.eq("person_mode", st.PersonMode, x.PersonMode)
	c.eq("billing_class", st.BillingClass, x.BillingClass)
	c.eq("billing class (Stamp's Class)", class.String(), st.BillingClass)
	switch {
	case x.PersonProperties != nil:
		c.eq("person_properties", canonJSON(c, st.PersonProperties), canonJSON(c, x.PersonProperties))
	case ev.Mode == event.Full:
		c.fatalf("a full event needs expect.person_properties")
	default:
		c.eq("person_properties", canonJSON(c, st.PersonProperties), "{}")
	}
	if x.PersonCreatedAt != nil {
		c.eq("person_created_at", fmtTime(st.PersonCreatedAt), fmtTime(mustTime(t, c.where, "person_created_at", *x.PersonCreatedAt)))
	}

	// Warnings: decode warnings, then graph warnings.
	var warnings []string
	for _, w := range ev.Warnings {
		warnings = append(warnings, w.Type)
	}
	for _, w := range res.Warnings {
		warnings = append(warnings, w.Type)
		if w.Team != team || w.DistinctID != ev.DistinctID || w.EventUUID != ev.UUID.String() || w.Timestamp != ev.Timestamp.UnixMilli() {
			c.errorf("warnings", "warning %s carries team %q, distinct_id %q, event_uuid %s, timestamp %d; want the event's %q, %q, %s, %d",
				w.Type, w.Team, w.DistinctID, w.EventUUID, w.Timestamp, team, ev.DistinctID, ev.UUID, ev.Timestamp.UnixMilli())
		}
	}
	if x.Warnings == nil {
		x.Warnings = []string{}
	}
	c.eq("warnings", fmt.Sprintf("%q", nonNil(warnings)), fmt.Sprintf("%q", x.Warnings))

	// Feed rows.
	if hasOp && (x.Persons == nil || x.DistinctIDs == nil) {
		c.fatalf("this event applied an op: expect.persons and expect.distinct_ids are required ([] for none)")
	}
	r.compareRows(c, team, res, x.Persons, x.DistinctIDs)

	r.checkOutput(c, ev, st, x)
}

// recordValue returns the bytes of the step's record.
func (r *runner) recordValue(c *checker, s *step) []byte {
	switch {
	case s.Input != nil && s.Envelope != nil:
		c.fatalf("a step has input or envelope, not both")
	case s.Envelope != nil:
		var env map[string]json.RawMessage
		if err := json.Unmarshal(s.Envelope, &env); err != nil {
			c.fatalf("envelope: %v", err)
		}
		data, ok := env["data"]
		if !ok {
			c.fatalf("envelope has no data")
		}
		// The envelope is written in its own key order, data last.
		var out bytes.Buffer
		out.WriteByte('{')
		keys := objectKeys(c, s.Envelope)
		for _, k := range keys {
			if out.Len() > 1 {
				out.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			out.Write(kb)
			out.WriteByte(':')
			v := env[k]
			if k == "data" {
				v = compact(c, expandRaw(data))
				v, _ = json.Marshal(string(v))
			}
			out.Write(compact(c, expandRaw(v)))
		}
		out.WriteByte('}')
		return out.Bytes()
	case s.Input == nil:
		c.fatalf("a step needs input, envelope or delete_person")
	case s.Input[0] == '"':
		var raw string
		if err := json.Unmarshal(s.Input, &raw); err != nil {
			c.fatalf("input: %v", err)
		}
		return []byte(expandMacros(raw))
	}
	return compact(c, expandRaw(s.Input))
}

// checkOutput checks the stamped output event (docs/SEMANTICS.md §6).
func (r *runner) checkOutput(c *checker, ev *event.Event, st event.Stamp, x *expect) {
	out := ev.AppendStamped(nil, st)
	if !json.Valid(out) {
		c.errorf("output", "AppendStamped wrote invalid JSON: %s", out)
		return
	}
	var o map[string]json.RawMessage
	if err := json.Unmarshal(out, &o); err != nil {
		c.errorf("output", "not a JSON object: %v", err)
		return
	}
	str := func(k string) string {
		var s string
		if err := json.Unmarshal(o[k], &s); err != nil {
			c.errorf("output."+k, "not a string: %s", o[k])
		}
		return s
	}
	c.eq("output.person_id", str("person_id"), st.PersonID)
	c.eq("output.person_mode", str("person_mode"), st.PersonMode)
	c.eq("output.billing_class", str("billing_class"), st.BillingClass)
	c.eq("output.team", str("team"), ev.Team)
	c.eq("output.distinct_id", str("distinct_id"), ev.DistinctID)
	c.eq("output.uuid", str("uuid"), ev.UUID.String())
	c.eq("output.event", str("event"), ev.Name)
	if ts, err := time.Parse(time.RFC3339Nano, str("timestamp")); err != nil || !ts.Equal(ev.Timestamp) {
		c.errorf("output.timestamp", "got %s, want %s", o["timestamp"], fmtTime(ev.Timestamp))
	}
	if ts, err := time.Parse(time.RFC3339Nano, str("person_created_at")); err != nil || !ts.Equal(st.PersonCreatedAt) {
		c.errorf("output.person_created_at", "got %s, want %s", o["person_created_at"], fmtTime(st.PersonCreatedAt))
	}
	c.eq("output.person_properties", canonJSON(c, o["person_properties"]), canonJSON(c, st.PersonProperties))
	if x.Output != nil {
		var got, want any
		_ = json.Unmarshal(out, &got)
		if err := json.Unmarshal(expandRaw(x.Output), &want); err != nil {
			c.fatalf("expect.output: %v", err)
		}
		subset(c, "output", got, want)
	}
	for _, path := range x.OutputAbsent {
		var got any
		_ = json.Unmarshal(out, &got)
		if v, ok := lookup(got, path); ok {
			c.errorf("output."+path, "present (%s), want absent", mustJSON(v))
		}
	}
}

// ---- delete steps ----

func (r *runner) deleteStep(c *checker, i int, s *step) {
	team := s.Team
	if team == "" {
		team = defaultTeam
	}
	if s.Input != nil || s.Envelope != nil {
		c.fatalf("a delete_person step has no input")
	}
	id := r.personRef(c, team, s.DeletePerson)
	op := unionfind.Op{
		Kind: unionfind.OpDeletePerson, Team: team, PersonID: id,
		Source: unionfind.Source{Topic: scenarioTopic, Partition: scenarioPartition, Offset: int64(i)},
		Log:    unionfind.LogPos{Partition: scenarioPartition, Offset: int64(i), Time: r.now.UnixMilli()},
	}
	var res unionfind.Result
	if err := r.mem.Update(func(tx state.Tx) error {
		var err error
		res, err = r.graph.Apply(tx, &op)
		return err
	}); err != nil {
		c.fatalf("Apply: %v", err)
	}
	r.noteRows(res)
	if r.quiet {
		return
	}
	x := &s.Expect
	if x.Persons == nil || x.DistinctIDs == nil {
		c.fatalf("a delete_person step needs expect.persons and expect.distinct_ids ([] for none)")
	}
	if len(res.Warnings) > 0 || len(x.Warnings) > 0 {
		var got []string
		for _, w := range res.Warnings {
			got = append(got, w.Type)
		}
		c.eq("warnings", fmt.Sprintf("%q", nonNil(got)), fmt.Sprintf("%q", nonNil(x.Warnings)))
	}
	r.compareRows(c, team, res, x.Persons, x.DistinctIDs)
}

// ---- rows ----

// noteRows records the ids and persons the rows of res mention.
func (r *runner) noteRows(res unionfind.Result) {
	for _, row := range res.Persons {
		r.persons[teamPerson{row.Team, row.Person.ID}] = true
	}
	for _, row := range res.DistinctIDs {
		r.ids[teamID{row.Team, row.DistinctID}] = true
		r.persons[teamPerson{row.Team, row.PersonID}] = true
	}
}

func (r *runner) compareRows(c *checker, team string, res unionfind.Result, wantP *[]personRow, wantD *[]didRow) {
	var gotPs, wantPs []string
	for _, row := range res.Persons {
		gotPs = append(gotPs, r.fmtPerson(c, row.Team, row.Person))
	}
	if wantP != nil {
		wantPs = []string{} // [] means "must emit nothing"
		for _, w := range *wantP {
			wantPs = append(wantPs, r.fmtWantPerson(c, team, w))
		}
	} else if len(res.Persons) > 0 {
		wantPs = []string{}
	}
	r.compareSets(c, "persons (feed rows)", gotPs, wantPs)

	var gotDs, wantDs []string
	for _, row := range res.DistinctIDs {
		gotDs = append(gotDs, r.fmtDID(row.Team, row.DistinctID, row.PersonID.String(), row.Version, row.Deleted))
	}
	if wantD != nil {
		wantDs = []string{}
		for _, w := range *wantD {
			wantDs = append(wantDs, r.fmtWantDID(c, team, w))
		}
	} else if len(res.DistinctIDs) > 0 {
		wantDs = []string{}
	}
	r.compareSets(c, "distinct_ids (feed rows)", gotDs, wantDs)
}

func (r *runner) compareSets(c *checker, field string, got, want []string) {
	if want == nil {
		return
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		c.errorf(field, "\n  got  %d:\n    %s\n  want %d:\n    %s",
			len(got), strings.Join(got, "\n    "), len(want), strings.Join(want, "\n    "))
	}
}

func (r *runner) fmtPerson(c *checker, team string, p unionfind.Person) string {
	return fmt.Sprintf("team=%s id=%s version=%d is_identified=%t is_deleted=%t created_at=%s properties=%s",
		team, r.name(p.ID.String()), p.Version, p.Identified, p.Deleted,
		fmtTime(time.UnixMilli(p.CreatedAt)), canonJSON(c, p.AppendPropertiesJSON(nil)))
}

func (r *runner) fmtWantPerson(c *checker, team string, w personRow) string {
	if w.Team != "" {
		team = w.Team
	}
	if w.ID == "" || w.Version == nil || w.CreatedAt == "" || w.Properties == nil {
		c.fatalf("a person needs id, version, created_at and properties: %+v", w)
	}
	return fmt.Sprintf("team=%s id=%s version=%d is_identified=%t is_deleted=%t created_at=%s properties=%s",
		team, r.name(r.personRef(c, team, w.ID).String()), *w.Version, w.IsIdentified, w.IsDeleted,
		fmtTime(mustTime(r.t, c.where, "created_at", w.CreatedAt)), canonJSON(c, expandRaw(w.Properties)))
}

func (r *runner) fmtDID(team, did, person string, version uint64, deleted bool) string {
	return fmt.Sprintf("team=%s distinct_id=%s person_id=%s version=%d is_deleted=%t",
		team, show(did), r.name(person), version, deleted)
}

func (r *runner) fmtWantDID(c *checker, team string, w didRow) string {
	if w.Team != "" {
		team = w.Team
	}
	if w.DistinctID == "" || w.PersonID == "" || w.Version == nil {
		c.fatalf("a distinct_id needs distinct_id, person_id and version: %+v", w)
	}
	return r.fmtDID(team, r.expand(w.DistinctID), r.personRef(c, team, w.PersonID).String(), *w.Version, w.IsDeleted)
}

// ---- final state ----

// checkFinal compares the store with the scenario's final state: every
// distinct_id the scenario touched, with its person and version, and every
// person that appeared in a feed row or as an explicit stamp. It also checks
// that mappings and memberships agree both ways.
func (r *runner) checkFinal() {
	c := &checker{r: r, where: r.file + ": final"}
	f := r.sc.Final

	listed := map[teamID]bool{}
	var gotDs, wantDs []string
	for _, w := range f.DistinctIDs {
		team := w.Team
		if team == "" {
			team = defaultTeam
		}
		k := teamID{team, r.expand(w.DistinctID)}
		listed[k] = true
		r.ids[k] = true // listed but never touched: must be implicit
		wantDs = append(wantDs, r.fmtWantDID(c, team, w))
	}
	members := map[teamPerson][]string{}
	err := r.mem.View(func(tx state.Tx) error {
		for k := range r.ids {
			m, ok, err := tx.Mapping(k.team, k.id)
			if err != nil {
				return err
			}
			p, explicit, err := r.mem.Find(k.team, k.id)
			if err != nil {
				return err
			}
			if !listed[k] {
				c.errorf("distinct_ids", "team %s distinct_id %s (person %s, version %d) was touched but is not listed", k.team, show(k.id), r.name(p.ID.String()), m.Version)
			}
			gotDs = append(gotDs, r.fmtDID(k.team, k.id, p.ID.String(), m.Version, ok && m.Deleted))
			if ok && !m.Deleted {
				if !explicit || p.ID != m.PersonID {
					c.errorf("distinct_ids", "team %s distinct_id %s maps to %s but Find gives %s (explicit %t)", k.team, show(k.id), r.name(m.PersonID.String()), r.name(p.ID.String()), explicit)
				}
				members[teamPerson{k.team, m.PersonID}] = append(members[teamPerson{k.team, m.PersonID}], k.id)
			} else if explicit || p.ID != unionfind.ImplicitPersonID(k.team, k.id) {
				c.errorf("distinct_ids", "team %s distinct_id %s has no live mapping but Find gives %s (explicit %t)", k.team, show(k.id), r.name(p.ID.String()), explicit)
			}
		}
		return nil
	})
	if err != nil {
		c.fatalf("reading the final state: %v", err)
	}
	r.compareSets(c, "distinct_ids", nonNil(gotDs), nonNil(wantDs))

	plisted := map[teamPerson]bool{}
	var gotPs, wantPs []string
	for _, w := range f.Persons {
		team := w.Team
		if team == "" {
			team = defaultTeam
		}
		k := teamPerson{team, r.personRef(c, team, w.ID)}
		plisted[k] = true
		wantPs = append(wantPs, r.fmtWantPerson(c, team, w))
	}
	err = r.mem.View(func(tx state.Tx) error {
		for k := range plisted {
			p, ok, err := tx.Person(k.team, k.id)
			if err != nil {
				return err
			}
			if !ok {
				gotPs = append(gotPs, fmt.Sprintf("team=%s id=%s not stored", k.team, r.name(k.id.String())))
				continue
			}
			gotPs = append(gotPs, r.fmtPerson(c, k.team, p))
		}
		for k, explicit := range r.persons {
			if !explicit {
				continue
			}
			if _, ok, err := tx.Person(k.team, k.id); err != nil {
				return err
			} else if ok && !plisted[k] {
				c.errorf("persons", "team %s person %s is stored but not listed", k.team, r.name(k.id.String()))
			}
		}
		// Membership both ways: the members of every stored live person are
		// exactly the distinct_ids that map to it.
		for k := range r.persons {
			p, ok, err := tx.Person(k.team, k.id)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			var got []string
			if err := tx.Members(k.team, k.id, func(d string) error {
				got = append(got, d)
				return nil
			}); err != nil {
				return err
			}
			want := members[k]
			sort.Strings(want)
			if p.Deleted && len(got) > 0 {
				c.errorf("members", "deleted person %s still has members %q", r.name(k.id.String()), got)
			}
			if !p.Deleted && !slices.Equal(nonNil(got), nonNil(want)) {
				c.errorf("members", "person %s has members %q, but the distinct_ids mapping to it are %q", r.name(k.id.String()), got, want)
			}
		}
		return nil
	})
	if err != nil {
		c.fatalf("reading the final state: %v", err)
	}
	r.compareSets(c, "persons", nonNil(gotPs), nonNil(wantPs))

	if f.Billing != nil {
		var got, want []string
		for _, d := range r.meter.Deltas() {
			got = append(got, mustJSON(d))
		}
		for _, d := range *f.Billing {
			want = append(want, mustJSON(d))
		}
		r.compareSets(c, "billing", nonNil(got), nonNil(want))
	}
}

// ---- person ids, names, macros ----

// personRef resolves a person written in a scenario: a UUID, or
// "@<distinct_id>" for the implicit person id of that distinct_id in team.
func (r *runner) personRef(c *checker, team, ref string) uuid.UUID {
	ref = r.expand(ref)
	if did, ok := strings.CutPrefix(ref, "@"); ok {
		id := unionfind.ImplicitPersonID(team, did)
		r.names[id] = "@" + did
		return id
	}
	id, err := uuid.Parse(ref)
	if err != nil {
		c.fatalf("person %q is neither a UUID nor @<distinct_id>", ref)
	}
	return id
}

// name renders a person id as "@<distinct_id>" when it is the implicit id
// of a distinct_id the scenario mentions.
func (r *runner) name(id string) string {
	u, err := uuid.Parse(id)
	if err != nil {
		return id
	}
	if n, ok := r.names[u]; ok {
		return n
	}
	for k := range r.ids {
		if unionfind.ImplicitPersonID(k.team, k.id) == u {
			r.names[u] = "@" + k.id
			return r.names[u]
		}
	}
	return id
}

func (r *runner) expand(s string) string { return expandMacros(s) }

// repeatMacro is "<<x*N>>": N copies of x. It keeps long ids readable.
var repeatMacro = regexp.MustCompile(`<<(.+?)\*(\d+)>>`)

func expandMacros(s string) string {
	return repeatMacro.ReplaceAllStringFunc(s, func(m string) string {
		sub := repeatMacro.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[2])
		return strings.Repeat(sub[1], n)
	})
}

// expandRaw expands macros inside raw JSON text (they are only ever used
// inside strings, with characters that need no escaping).
func expandRaw(b json.RawMessage) json.RawMessage {
	return json.RawMessage(expandMacros(string(b)))
}

// ---- JSON and time helpers ----

func compact(c *checker, b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		c.fatalf("invalid JSON in the scenario: %v", err)
	}
	return buf.Bytes()
}

// canonJSON renders a JSON value with sorted keys and numbers as written.
func canonJSON(c *checker, b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		c.errorf("json", "invalid JSON %q: %v", b, err)
		return string(b)
	}
	return mustJSON(v)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func objectKeys(c *checker, b []byte) []string {
	d := json.NewDecoder(bytes.NewReader(b))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		c.fatalf("envelope is not an object")
	}
	var keys []string
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			c.fatalf("envelope: %v", err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			c.fatalf("envelope: %v", err)
		}
	}
	return keys
}

// subset checks that got has everything want has.
func subset(c *checker, path string, got, want any) {
	wm, ok := want.(map[string]any)
	if !ok {
		if mustJSON(got) != mustJSON(want) {
			c.errorf(path, "got %s, want %s", mustJSON(got), mustJSON(want))
		}
		return
	}
	gm, ok := got.(map[string]any)
	if !ok {
		c.errorf(path, "got %s, want an object", mustJSON(got))
		return
	}
	for k, wv := range wm {
		gv, ok := gm[k]
		if !ok {
			c.errorf(path+"."+k, "absent, want %s", mustJSON(wv))
			continue
		}
		subset(c, path+"."+k, gv, wv)
	}
}

// lookup follows a dotted path through objects.
func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func mustTime(t *testing.T, where, field, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("%s: %s %q is not RFC 3339: %v", where, field, s, err)
	}
	return ts.UTC()
}

// fmtTime renders a time to the millisecond in UTC, as persons store it.
func fmtTime(ts time.Time) string {
	return ts.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
