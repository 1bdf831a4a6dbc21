package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

func (c *cli) demoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Tell the resolver's story on an embedded broker: persons, merges, refusals, dead letters, billing",
		Long: `demo starts an embedded broker (in memory, on a free loopback port) and the
pipeline over a throw-away state dir, sends a small realistic story through
it — anonymous visitors, sign-ups with $identify, a returning user on a second
device, a CRM alias, a shared laptop where the second login is refused,
personless traffic, an illegal id and malformed records — waits until every
record is stamped or dead-lettered, and prints what came out: the persons,
merges, refusals, dead letters and stamped events, the bill of the real counts,
the month at scale (a simulation: the same mix scaled to --month-events billed
events, priced with the same tiers), and what to do next. It needs no Kafka and
leaves nothing behind.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, _ := cmd.Flags().GetInt64("month-events")
			if n < 1 || n > maxMonthEvents {
				return &usageError{fmt.Errorf("%s: --month-events %d: must be between 1 and %d", cmd.CommandPath(), n, int64(maxMonthEvents)), cmd.CommandPath()}
			}
			return c.withSetup(cmd, true, func(e env) error { return runDemo(e.ctx, e.cfg, e.log, c.stdout, n) })
		},
	}
	cmd.Flags().Int64("month-events", defaultMonthEvents, "billed events of the simulated month at scale")
	return cmd
}

// maxMonthEvents bounds --month-events: a trillion events a month.
const maxMonthEvents = 1e12

// demoWritten is when capture wrote a story record: at its event's
// timestamp, or the story's morning for a record without one.
func demoWritten(v string) time.Time {
	var e struct {
		Timestamp time.Time `json:"timestamp"`
	}
	if json.Unmarshal([]byte(v), &e) == nil && !e.Timestamp.IsZero() {
		return e.Timestamp
	}
	return time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
}

// demoStory is the demo's input: one team, a morning of traffic. Each entry
// is the record value as a capture service would write it; keys are
// token:distinct_id.
func demoStory() []string {
	const tok = `"token":"phc_demo"`
	at := func(min int) string {
		return time.Date(2026, 11, 28, 9, min, 0, 0, time.UTC).Format(time.RFC3339)
	}
	ev := func(min int, name, did, props string) string {
		return fmt.Sprintf(`{"event":%q,"distinct_id":%q,%s,"timestamp":%q,"properties":{%s}}`, name, did, tok, at(min), props)
	}
	const personless = `"$process_person_profile":false`
	return []string{
		// Ana browses anonymously (personless), then signs up.
		ev(0, "$pageview", "anon-ana-laptop", personless+`,"$current_url":"https://shop.example.com/"`),
		ev(1, "$pageview", "anon-ana-laptop", personless+`,"$current_url":"https://shop.example.com/pricing"`),
		ev(2, "$identify", "ana", `"$anon_distinct_id":"anon-ana-laptop","$set":{"email":"ana@example.com","plan":"pro"}`),
		ev(3, "checkout_started", "ana", `"cart_value":129.5`),
		// Ana comes back on her phone, logs in: the phone's id joins her.
		ev(10, "$screen", "anon-ana-phone", personless+`,"$screen_name":"Home"`),
		ev(11, "$identify", "ana", `"$anon_distinct_id":"anon-ana-phone","$set":{"last_device":"phone"}`),
		// The CRM links its own id to Ana, server-side.
		ev(12, "$create_alias", "ana", `"alias":"crm-000193"`),
		// Bob logs in on the family laptop.
		ev(20, "$pageview", "anon-family-laptop", personless),
		ev(21, "$identify", "bob", `"$anon_distinct_id":"anon-family-laptop","$set":{"email":"bob@example.com"}`),
		// Carol logs in on the same laptop without a reset: refused, so Bob
		// and Carol stay two people.
		ev(30, "$identify", "carol", `"$anon_distinct_id":"anon-family-laptop","$set":{"email":"carol@example.com"}`),
		ev(31, "$pageview", "carol", ""),
		// Visitors who never sign up: personless, billed as anonymous.
		ev(40, "$pageview", "anon-visitor-1", personless),
		ev(41, "$pageview", "anon-visitor-2", personless),
		ev(42, "$pageview", "anon-visitor-2", personless),
		ev(43, "$feature_flag_called", "anon-visitor-2", personless+`,"$feature_flag":"new-checkout"`),
		// A broken SDK identifies with the string "undefined": not merged.
		ev(50, "$identify", "dave", `"$anon_distinct_id":"undefined"`),
		// Malformed records: dead letters with a reason.
		`{"event":"$pageview","distinct_id":"eve",` + tok + `,"timestamp":"` + at(51) + `"`,
		`{"event":"$pageview","distinct_id":"frank","timestamp":"` + at(52) + `"}`,
	}
}

// demoKey is the capture key of a story record.
func demoKey(v string) []byte {
	var e struct {
		DistinctID string `json:"distinct_id"`
	}
	_ = json.Unmarshal([]byte(v), &e) // malformed records get an empty id
	return []byte("phc_demo:" + e.DistinctID)
}

func runDemo(ctx context.Context, cfg Config, log *zap.Logger, out io.Writer, monthEvents int64) error {
	dir, err := os.MkdirTemp("", "resolver-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	emb, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: log.Named("broker")})
	if err != nil {
		return err
	}
	defer emb.Close()
	sc, err := cfg.ToStream()
	if err != nil {
		return err
	}
	sc.Kafka.Brokers = emb.Addrs()
	sc.Kafka.SessionTimeout = 6 * time.Second
	sc.TopicPartitions = 4
	sc.TransactionalID = "resolver-demo"
	sc.OutboxTrimInterval = time.Hour

	st, err := state.Open(dir, state.Options{Logger: log})
	if err != nil {
		return err
	}
	defer st.Close()
	p, err := stream.New(sc, st, log)
	if err != nil {
		return err
	}
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() {
		stopRun()
		<-done
	}()
	select {
	case <-p.Started():
	case err := <-done:
		return fmt.Errorf("demo: pipeline stopped: %w", err)
	case <-ctx.Done():
		return nil
	}

	story := demoStory()
	fmt.Fprintf(out, "resolver demo: %d records into %s on an embedded broker at %s\n\n", len(story), sc.Topics.Raw, emb.Addrs()[0])
	cl, err := kgo.NewClient(kgo.SeedBrokers(emb.Addrs()...), kgo.DefaultProduceTopic(sc.Topics.Raw),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeTopics(sc.Topics.Person, sc.Topics.DeadLetter, sc.Topics.Persons, sc.Topics.DistinctIDs, sc.Topics.Warnings),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	// One at a time, each waited for, in story order: the story reads as a
	// timeline (records on different partitions would otherwise be stamped
	// in whatever order their batches run).
	got := map[string][]*kgo.Record{}
	outputs := func() int { return len(got[sc.Topics.Person]) + len(got[sc.Topics.DeadLetter]) }
	deadline := time.Now().Add(60 * time.Second)
	for i, v := range story {
		// Written when it happened, as capture would: the record's
		// timestamp bills it (docs/SEMANTICS.md §7).
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: demoKey(v), Value: []byte(v), Timestamp: demoWritten(v)}).FirstErr(); err != nil {
			return fmt.Errorf("demo: produce: %w", err)
		}
		for outputs() < i+1 {
			if time.Now().After(deadline) {
				return fmt.Errorf("demo: only %d of %d records came out within 60s", outputs(), len(story))
			}
			pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[r.Topic] = append(got[r.Topic], r) })
			cancel()
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	// Feed rows and warnings of the last batch commit with its events.
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) { got[r.Topic] = append(got[r.Topic], r) })
	cancel()
	var stamped int64 = int64(len(got[sc.Topics.Person]))
	for {
		var n int64
		if err := st.BillingTotals(func(_, _, _ string, c int64) error { n += c; return nil }); err != nil {
			return err
		}
		if n >= stamped || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	pricing, err := cfg.Pricing()
	if err != nil {
		return err
	}
	return printDemo(out, cfg, sc, st, got, pricing, monthEvents)
}

func printDemo(out io.Writer, cfg Config, sc stream.Config, st *state.Store, got map[string][]*kgo.Record, pricing billing.Pricing, monthEvents int64) error {
	// Persons: the distinct-id feed folded by version, grouped by person.
	dids := map[string]stream.DistinctIDRow{}
	for _, r := range got[sc.Topics.DistinctIDs] {
		var d stream.DistinctIDRow
		if json.Unmarshal(r.Value, &d) == nil {
			if cur, ok := dids[d.DistinctID]; !ok || d.Version > cur.Version {
				dids[d.DistinctID] = d
			}
		}
	}
	persons := map[string]stream.PersonRow{}
	for _, r := range got[sc.Topics.Persons] {
		var p stream.PersonRow
		if json.Unmarshal(r.Value, &p) == nil {
			if cur, ok := persons[p.ID]; !ok || p.Version > cur.Version {
				persons[p.ID] = p
			}
		}
	}
	members := map[string][]string{}
	for _, d := range dids {
		if !d.IsDeleted {
			members[d.PersonID] = append(members[d.PersonID], fmt.Sprintf("%s (v%d)", d.DistinctID, d.Version))
		}
	}
	var ids []string
	for id, p := range persons {
		if !p.IsDeleted {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		return persons[ids[i]].CreatedAt < persons[ids[j]].CreatedAt || persons[ids[i]].CreatedAt == persons[ids[j]].CreatedAt && ids[i] < ids[j]
	})
	fmt.Fprintln(out, "WORDS (each means one thing below)")
	fmt.Fprintln(out, "  identified  a person someone logged in as ($identify with their user id)")
	fmt.Fprintln(out, "  anonymous   a person that exists but is not identified (yet)")
	fmt.Fprintln(out, "  personless  an event without person processing ($process_person_profile: false):")
	fmt.Fprintln(out, "              it creates and changes no person, and it is billed in the cheaper class")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "PERSONS (stored; every other id is its own implicit person)")
	for _, id := range ids {
		p := persons[id]
		sort.Strings(members[id])
		fmt.Fprintf(out, "  %s  %s, created %s, version %d\n", id, personWord(p.IsIdentified), p.CreatedAt, p.Version)
		fmt.Fprintf(out, "    distinct ids: %s\n", strings.Join(members[id], ", "))
		fmt.Fprintf(out, "    properties:   %s\n", p.Properties)
	}

	fmt.Fprintln(out, "\nMERGES (distinct ids whose person changed: the overrides a warehouse applies to earlier events)")
	var moved []string
	for _, d := range dids {
		if d.Version > 0 && !d.IsDeleted {
			moved = append(moved, fmt.Sprintf("  %-20s -> person %s (version %d)", d.DistinctID, d.PersonID, d.Version))
		}
	}
	sort.Strings(moved)
	fmt.Fprintln(out, strings.Join(moved, "\n"))

	fmt.Fprintln(out, "\nREFUSALS AND WARNINGS (ingestion_warnings)")
	for _, r := range got[sc.Topics.Warnings] {
		var w stream.WarningRow
		if json.Unmarshal(r.Value, &w) == nil {
			fmt.Fprintf(out, "  %-40s distinct_id=%s %s\n", w.Type, w.DistinctID, w.Details)
		}
	}

	fmt.Fprintln(out, "\nDEAD LETTERS (events_dead_letter: original bytes, with a reason)")
	for _, r := range got[sc.Topics.DeadLetter] {
		reason, detail := "", ""
		for _, h := range r.Headers {
			switch h.Key {
			case "error":
				reason = string(h.Value)
			case "error_detail":
				detail = string(h.Value)
			}
		}
		fmt.Fprintf(out, "  %-20s %s\n  %-20s %s\n", reason, detail, "", r.Value)
	}

	fmt.Fprintln(out, "\nSTAMPED EVENTS (events_person; kind as in WORDS, the person as it ends the story)")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  event\tdistinct_id\tperson_id\tkind\tbilled")
	var kinds demoKinds
	for _, r := range got[sc.Topics.Person] {
		var e struct {
			Event, DistinctID, PersonID, PersonMode, BillingClass string
		}
		var raw map[string]json.RawMessage
		if json.Unmarshal(r.Value, &raw) != nil {
			continue
		}
		for k, dst := range map[string]*string{"event": &e.Event, "distinct_id": &e.DistinctID, "person_id": &e.PersonID, "person_mode": &e.PersonMode, "billing_class": &e.BillingClass} {
			_ = json.Unmarshal(raw[k], dst)
		}
		kind := demoKind(e.PersonMode, persons[e.PersonID].IsIdentified)
		billed := "yes"
		if e.BillingClass == billing.Excluded.String() {
			billed = "no (excluded event)"
		} else {
			kinds.add(kind)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", e.Event, e.DistinctID, e.PersonID, kind, billed)
	}
	tw.Flush()

	totals := map[billing.Key]int64{}
	err := st.BillingTotals(func(team, month, class string, n int64) error {
		c, err := billing.ParseClass(class)
		if err != nil {
			return err
		}
		totals[billing.Key{Team: team, Month: month, Class: c}] += n
		return nil
	})
	if err != nil {
		return err
	}
	rep, err := billing.NewReport(totals, pricing, billing.Filter{})
	if err != nil {
		return err
	}
	if err := writeDemoBill(out, rep, kinds); err != nil {
		return err
	}
	if err := writeDemoScale(out, rep, pricing, monthEvents); err != nil {
		return err
	}
	writeDemoNext(out, cfg, sc)
	return nil
}

// personWord is the WORDS word of a person.
func personWord(identified bool) string {
	if identified {
		return "identified"
	}
	return "anonymous"
}

// demoKind is the WORDS word of a stamped event: personless without person
// processing, else the word of its person.
func demoKind(personMode string, identified bool) string {
	if personMode == "propertyless" {
		return "personless"
	}
	return personWord(identified)
}

// demoKinds counts the billed stamped events by kind.
type demoKinds struct{ identified, anonymous, personless int64 }

func (k *demoKinds) add(kind string) {
	switch kind {
	case "identified":
		k.identified++
	case "anonymous":
		k.anonymous++
	case "personless":
		k.personless++
	}
}

// The bill's two priced lines, in WORDS: events with a person (identified
// or anonymous) are billing class identified, personless events billing
// class anonymous (the names of billing_usage and billing.tiers).
const (
	withPersonLine = "with a person"
	personlessLine = "personless"
)

// writeDemoBill writes the real bill: the billing view's totals, priced.
func writeDemoBill(out io.Writer, rep *billing.Report, kinds demoKinds) error {
	fmt.Fprintln(out, "\nBILL (real counts: the billing view folded from billing_usage, priced with billing.tiers)")
	fmt.Fprintf(out, "  %q events are billing class identified, %q events billing class anonymous\n", withPersonLine, personlessLine)
	fmt.Fprintf(out, "  (the class names of billing_usage and billing.tiers); %s here: identified %d + anonymous %d.\n",
		withPersonLine, kinds.identified, kinds.anonymous)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  team\tmonth\tevents\tcount\ttier\tunit price\tUSD")
	for _, st := range rep.Statements {
		if st.Error != "" {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t\t\t\t\n", st.Team, st.Month, st.Error)
			continue
		}
		demoCostRows(tw, "  "+st.Team+"\t"+st.Month+"\t", withPersonLine, st.Identified)
		demoCostRows(tw, "  "+st.Team+"\t"+st.Month+"\t", personlessLine, st.Anonymous)
		fmt.Fprintf(tw, "  %s\t%s\texcluded\t%s\t\t\tnot billed\n", st.Team, st.Month, demoCount(st.ExcludedEvents))
		fmt.Fprintf(tw, "  %s\t%s\ttotal\t%s\t\t\t%s\n", st.Team, st.Month, demoCount(st.BilledEvents()), billing.FormatUSD(st.Total))
	}
	return tw.Flush()
}

// demoCostRows writes a class's line and its tiers.
func demoCostRows(tw io.Writer, lead, word string, c billing.Cost) {
	blank := strings.Repeat("\t", strings.Count(lead, "\t"))
	fmt.Fprintf(tw, "%s%s\t%s\t\t\t%s\n", lead, word, demoCount(c.Events), billing.FormatUSD(c.Total))
	for _, t := range c.Tiers {
		rng := demoCount(t.From) + " - " + demoCount(t.UpTo)
		if t.UpTo == 0 {
			rng = "over " + demoCount(t.From)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", blank, demoCount(t.Events), rng, billing.FormatUSD(t.UnitPrice), billing.FormatUSD(t.Amount))
	}
}

// defaultMonthEvents is the billed events of the simulated month.
const defaultMonthEvents = 10_000_000

// writeDemoScale writes the simulated month: the story's mix of billed
// events (the share with a person) scaled to monthEvents, priced by
// billing.Simulate with the same tiers. Nothing of it was measured.
func writeDemoScale(out io.Writer, rep *billing.Report, pricing billing.Pricing, monthEvents int64) error {
	var withPerson, billed int64
	for _, st := range rep.Statements {
		withPerson += st.Identified.Events
		billed += st.BilledEvents()
	}
	if billed == 0 || monthEvents <= 0 {
		return nil
	}
	share := float64(withPerson) / float64(billed)
	sim, err := billing.Simulate(pricing, monthEvents, share)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nTHE MONTH AT SCALE (SIMULATED, not measured: the story's mix, %d of %d billed events with a person,\n", withPerson, billed)
	fmt.Fprintf(out, "  scaled to %s billed events in one month of one team and priced with the same billing.tiers;\n", demoCount(monthEvents))
	fmt.Fprintln(out, "  `resolver billing simulate` prices any other volume and mix)")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  events\tcount\ttier\tunit price\tUSD")
	demoCostRows(tw, "  ", withPersonLine, sim.Identified)
	demoCostRows(tw, "  ", personlessLine, sim.Anonymous)
	fmt.Fprintf(tw, "  total\t%s\t\t\t%s\n", demoCount(sim.Events), billing.FormatUSD(sim.Total))
	fmt.Fprintf(tw, "  if all with a person\t%s\t\t\t%s\n", demoCount(sim.Events), billing.FormatUSD(sim.AllIdentified))
	fmt.Fprintf(tw, "  saved by personless events\t\t\t\t%s\n", billing.FormatUSD(sim.Saving))
	return tw.Flush()
}

// writeDemoNext writes what to do after the demo, with this configuration's
// addresses and topic names.
func writeDemoNext(out io.Writer, cfg Config, sc stream.Config) {
	listen, where := cfg.Kafka.Embedded.Listen, "its embedded broker"
	if len(cfg.Kafka.Brokers) > 0 {
		listen, where = cfg.Kafka.Brokers[0], "kafka.brokers"
	}
	fmt.Fprintln(out, "\nWHAT NEXT (the demo's broker and state are gone with it)")
	fmt.Fprintf(out, "  1. Run the resolver with %s, and leave it running:\n", where)
	fmt.Fprintf(out, "       resolver run                      # broker on %s", listen)
	if cfg.Admin.Addr != "" {
		fmt.Fprintf(out, ", admin server on %s", cfg.Admin.Addr)
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, "  2. Produce an event with kcat, and read it back stamped with its person:")
	fmt.Fprintf(out, "       echo '{\"event\":\"$pageview\",\"distinct_id\":\"anon-1\",\"token\":\"phc_demo\"}' \\\n")
	fmt.Fprintf(out, "         | kcat -P -b %s -t %s -k 'phc_demo:anon-1'\n", listen, sc.Topics.Raw)
	fmt.Fprintf(out, "       kcat -C -b %s -t %s -X isolation.level=read_committed -e\n", listen, sc.Topics.Person)
	if cfg.Admin.Addr != "" {
		fmt.Fprintf(out, "  3. Open the person explorer: http://%s/ui/  (search team phc_demo, distinct_id anon-1)\n", dialAddr(cfg.Admin.Addr))
	} else {
		fmt.Fprintln(out, "  3. Open the person explorer at http://<admin.addr>/ui/ (set admin.addr: it is off)")
	}
	fmt.Fprintln(out, "  4. Measure it on this machine against a plain franz-go passthrough:")
	fmt.Fprintln(out, "       resolver bench --events 200000 --pairs 1")
}

// demoCount formats n with a comma every three digits: 10,000,000.
func demoCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
