package warehouse

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/billing"
)

// This file checks the tables of the outputs that are not identity feeds:
// the dead letters (10_events_dead_letter.sql) against the headers the
// resolver writes, and the bill (11_billing_usage.sql) against package
// billing — its tiers, its arithmetic and its filter of forged deltas.

// deadLetterHeaders are the headers of a dead letter as docs/SEMANTICS.md
// §6 lists them ("Dead letters carry … the headers `error` …"). pkg/stream
// writes them (producer.deadLetter); cmd/resolver's TestRealClients reads
// a real one and checks its headers against 10_events_dead_letter.sql.
func deadLetterHeaders(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash("docs/SEMANTICS.md")))
	require.NoError(t, err)
	doc := string(b)
	i := strings.Index(doc, "- **Dead letters** carry")
	require.Positive(t, i, "docs/SEMANTICS.md §6 lists the dead-letter headers")
	item := doc[i:]
	item = item[:strings.Index(item, "\n- ")]
	var out []string
	for _, m := range regexp.MustCompile("`([a-z_]+)(: true)?`").FindAllStringSubmatch(item, -1) {
		out = append(out, m[1])
	}
	return sorted(out)
}

// headersRead returns the header names a view reads with
// _headers.value[indexOf(_headers.name, 'NAME')].
func headersRead(body []token) []string {
	var out []string
	for i := 0; i+6 < len(body); i++ {
		if body[i].is("indexOf") && body[i+1].is("(") && body[i+2].text == "_headers" && body[i+4].text == "name" && body[i+6].kind == tokString {
			out = append(out, body[i+6].text)
		}
	}
	return sorted(out)
}

// TestSchemaDeadLetters checks events_dead_letter: the Kafka table reads
// the value whole (RawBLOB), its one view copies every header the resolver
// writes into a column of its own, and the storage is keyed by the source
// record, which is dead-lettered at most once.
func TestSchemaDeadLetters(t *testing.T) {
	s := loadSchema(t)
	topics := topicNames(t)
	headers := deadLetterHeaders(t)
	assert.Equal(t, []string{"error", "error_detail", "source_offset", "source_offset_last", "source_partition", "source_topic", "truncated"}, headers)

	k := s.get(t, "resolver.kafka_events_dead_letter", "TABLE")
	assert.Equal(t, "Kafka", k.engine)
	assert.Equal(t, topics["dead_letter"], k.settings["kafka_topic_list"])
	assert.Equal(t, composeKafkaAddr, k.settings["kafka_broker_list"])
	assert.Equal(t, "RawBLOB", k.settings["kafka_format"], "the value need not be JSON: it is the input as it came")
	assert.Equal(t, []column{{"value", "String"}}, k.columns, "RawBLOB reads into one String column")
	groups := map[string]string{}
	for _, st := range s.stmts {
		if st.engine == "Kafka" {
			g := st.settings["kafka_group_name"]
			assert.NotContains(t, groups, g, "%s and %s share a consumer group", st.name, groups[g])
			groups[g] = st.name
		}
	}

	views := s.viewsOf(k.name)
	require.Len(t, views, 1, "RawBLOB cannot fail to parse: one view, into storage")
	mv := views[0]
	st := s.get(t, "resolver.events_dead_letter", "TABLE")
	assert.Equal(t, st.name, mv.to)
	assert.Equal(t, columnNames(st.columns), mv.selectCols, "%s fills every column of %s", mv.name, st.name)
	assert.Equal(t, headers, headersRead(mv.body), "%s reads every header a dead letter carries", mv.name)
	body := join(mv.body)
	for _, frag := range []string{
		"_headers.value[indexOf(_headers.name,'error')]ASreason",
		"toInt32OrZero(_headers.value[indexOf(_headers.name,'source_partition')])ASsource_partition",
		"toInt64OrZero(_headers.value[indexOf(_headers.name,'source_offset')])ASsource_offset",
		"_headers.value[indexOf(_headers.name,'truncated')]='true'AStruncated",
		"_keyASkey",
		"coalesce(_timestamp_ms,toDateTime64(0,3,'UTC'))AStimestamp",
	} {
		assert.Contains(t, body, frag)
	}
	assert.NotContains(t, body, "WHERE", "every dead letter is stored")

	types := map[string]string{}
	for _, c := range st.columns {
		types[c.name] = c.typ
	}
	assert.Equal(t, "Int32", types["source_partition"], "a Kafka partition, as person_merges.source_partition")
	assert.Equal(t, "Int64", types["source_offset"])
	assert.Equal(t, "ReplacingMergeTree", st.engine)
	assert.Equal(t, "(reason,source_topic,source_partition,source_offset)", st.orderBy, "a copy read twice folds: the source record names a dead letter")
}

// tierRow is a row of the view billing_tiers.
type tierRow struct {
	class                   string
	tier                    int64
	from, upTo, nanosPerEvt int64
}

// billingTiers reads the rows of billing_tiers from its values(…) list.
func billingTiers(t *testing.T, s schema) []tierRow {
	t.Helper()
	v := s.get(t, "resolver.billing_tiers", "VIEW")
	assert.Equal(t, "values", v.from)
	assert.Equal(t, []string{"class", "tier", "from_events", "up_to", "unit_price_nanos"}, v.selectCols)
	i := slices.IndexFunc(v.body, func(tok token) bool { return tok.is("values") })
	require.Positive(t, i)
	p := &tokReader{toks: v.body, i: i + 1}
	args, err := p.group()
	require.NoError(t, err)
	parts := splitTop(args)
	require.NotEmpty(t, parts)
	assert.Equal(t, "'class String, tier UInt8, from_events Int64, up_to Int64, unit_price_nanos Int64'", join(parts[0]))
	var rows []tierRow
	for _, tuple := range parts[1:] {
		require.True(t, tuple[0].is("(") && tuple[len(tuple)-1].is(")"), "%s is a tuple", join(tuple))
		f := splitTop(tuple[1 : len(tuple)-1])
		require.Len(t, f, 5, join(tuple))
		require.Equal(t, tokString, f[0][0].kind)
		var n [4]int64
		for j := range n {
			require.Len(t, f[j+1], 1, join(tuple))
			n[j], err = strconv.ParseInt(f[j+1][0].text, 10, 64)
			require.NoError(t, err, join(tuple))
		}
		rows = append(rows, tierRow{f[0][0].text, n[0], n[1], n[2], n[3]})
	}
	return rows
}

// TestSchemaBillingTiers: the rows of billing_tiers are
// billing.DefaultPricing, the tiers of docs/SEMANTICS.md §7, in
// nano-dollars, each tier starting where the one before ends.
func TestSchemaBillingTiers(t *testing.T) {
	rows := billingTiers(t, loadSchema(t))
	var want []tierRow
	for _, c := range []billing.Class{billing.Identified, billing.Anonymous} {
		var from int64
		for i, tier := range billing.DefaultPricing()[c] {
			upTo := tier.UpTo
			if upTo == 0 {
				upTo = math.MaxInt64
			}
			want = append(want, tierRow{c.String(), int64(i + 1), from, upTo, int64(tier.UnitPrice / billing.Nanodollar)})
			from = upTo
		}
	}
	assert.Equal(t, want, rows)
}

// selectItem returns the tokens of the outer select item named alias of a
// view's body.
func selectItem(t *testing.T, body []token, alias string) []token {
	t.Helper()
	require.True(t, body[0].is("SELECT"))
	depth := 0
	end := slices.IndexFunc(body, func(tok token) bool {
		switch {
		case tok.is("("):
			depth++
		case tok.is(")"):
			depth--
		}
		return depth == 0 && tok.is("FROM")
	})
	require.Positive(t, end)
	for _, item := range splitTop(body[1:end]) {
		if n := len(item); n >= 3 && item[n-2].is("AS") && item[n-1].text == alias {
			return item[:n-2]
		}
	}
	require.Fail(t, "no select item "+alias)
	return nil
}

// eval evaluates the expression toks with vars.
func eval(t *testing.T, toks []token, vars map[string]sqlValue) sqlValue {
	t.Helper()
	ev := &evaluator{vars: vars, toks: toks, calls: map[string]int{}}
	v, err := ev.expr()
	require.NoError(t, err, join(toks))
	require.Equal(t, len(toks), ev.i, "%s: unexpected %s", join(toks), ev.peek())
	return v
}

// TestSchemaBillingCost evaluates the bill's cost, the sum over the tier
// rows of the class (LEFT JOIN: none for excluded events, whose columns
// are then 0), for monthly totals at and around every tier bound, and
// compares it with billing.Pricing.Cost — among them the check of
// docs/SEMANTICS.md §7, 10,000,000 anonymous events for $324.40.
func TestSchemaBillingCost(t *testing.T) {
	s := loadSchema(t)
	rows := billingTiers(t, s)
	v := s.get(t, "resolver.billing_monthly", "VIEW")
	assert.Equal(t, "(subquery)", v.from)
	assert.ElementsMatch(t, []string{"resolver.billing_usage", "resolver.billing_tiers"}, v.refs)
	assert.Equal(t, []string{"team", "month", "class", "events", "cost_nanos", "cost_usd"}, v.selectCols)

	cost := selectItem(t, v.body, "cost_nanos")
	require.True(t, cost[0].is("sum") && cost[1].is("(") && cost[len(cost)-1].is(")"), "cost_nanos is sum(…): %s", join(cost))
	perTier := cost[2 : len(cost)-1]
	assert.Equal(t, "toDecimal128(cost_nanos,9)/1000000000", join(selectItem(t, v.body, "cost_usd")), "USD, exact to the nano-dollar")
	body := join(v.body)
	for _, frag := range []string{
		"FROMresolver.billing_usageFINALWHERE", // a delta read twice counts once
		"sum(count)ASevents",
		"GROUPBYteam,month,class",
		"LEFTJOINresolver.billing_tiersAStONu.class=t.class",
		"GROUPBYu.team,u.month,u.class,u.events",
	} {
		assert.Contains(t, body, frag)
	}

	totals := []int64{0, 1, 999_999, 10_000_000, 9_223_372_036}
	for _, r := range rows {
		for _, d := range []int64{-1, 0, 1} {
			if r.upTo != math.MaxInt64 {
				totals = append(totals, r.upTo+d)
			}
		}
	}
	pricing := billing.DefaultPricing()
	for _, class := range billing.Classes() {
		for _, n := range totals {
			tiers := slices.DeleteFunc(slices.Clone(rows), func(r tierRow) bool { return r.class != class.String() })
			if len(tiers) == 0 {
				tiers = []tierRow{{}} // LEFT JOIN, no match: the defaults
			}
			var got int64
			for _, r := range tiers {
				got += eval(t, perTier, map[string]sqlValue{
					"u.events": num(n), "t.up_to": num(r.upTo), "t.from_events": num(r.from), "t.unit_price_nanos": num(r.nanosPerEvt),
				}).n
			}
			want := pricing.Cost(class, n)
			require.False(t, want.Overflow)
			assert.Equal(t, int64(want.Total/billing.Nanodollar), got, "%d %s events", n, class)
		}
	}
	var check int64
	for _, r := range rows {
		if r.class == "anonymous" {
			check += eval(t, perTier, map[string]sqlValue{"u.events": num(10_000_000), "t.up_to": num(r.upTo), "t.from_events": num(r.from), "t.unit_price_nanos": num(r.nanosPerEvt)}).n
		}
	}
	assert.Equal(t, int64(324_400_000_000), check, "docs/SEMANTICS.md §7: $324.40")
}

// deltaFilter returns the WHERE condition of the bill's subquery over
// billing_usage.
func deltaFilter(t *testing.T, body []token) []token {
	t.Helper()
	for i := 0; i+2 < len(body); i++ {
		if body[i].is("FINAL") && body[i+1].is("WHERE") {
			end := slices.IndexFunc(body[i+2:], func(tok token) bool { return tok.is("GROUP") })
			require.Positive(t, end)
			return body[i+2 : i+2+end]
		}
	}
	require.Fail(t, "no FINAL WHERE in the bill")
	return nil
}

// TestSchemaBillingFilter evaluates the bill's filter of billing_usage rows
// on hostile deltas and compares it with the resolver's own check
// (billing.Delta.Validate, and a class name billing.ParseClass knows): a
// delta the resolver refuses is not billed by the warehouse either.
func TestSchemaBillingFilter(t *testing.T) {
	v := loadSchema(t).get(t, "resolver.billing_monthly", "VIEW")
	filter := deltaFilter(t, v.body)
	type delta struct {
		team, month, class string
		count              int64
	}
	ok := delta{"2", "2026-11", "identified", 5}
	cases := []delta{ok, {"2", "2026-11", "anonymous", 1}, {"2", "2026-11", "excluded", billing.MaxDeltaCount}}
	with := func(f func(*delta)) delta { d := ok; f(&d); return d }
	for _, team := range []string{
		"", " ", "\t", "\u00a0", "\u3000 \u2028", "a b", " a", "é", strings.Repeat("x", 200), strings.Repeat("x", 201),
		strings.Repeat("é", 100), strings.Repeat("é", 100) + "x", "a\x00", "a\x1f", "a\x7f", "a\u0080", "a\u009f", "a\u00a0b",
		"\xff", "a\xc3", "phc_token", "<script>", "team\n",
	} {
		cases = append(cases, with(func(d *delta) { d.team = team }))
	}
	for _, month := range []string{
		"", "2026-1", "2026-01", "2026-00", "2026-13", "2026-12", "1969-12", "1970-01", "9999-12", "0000-01",
		"2026-011", "2026/01", "abcd-01", " 2026-01", "2026-01\n", "２０２６-01",
	} {
		cases = append(cases, with(func(d *delta) { d.month = month }))
	}
	for _, class := range []string{"", "Identified", "identified ", "bogus", "excluded", "anonymous"} {
		cases = append(cases, with(func(d *delta) { d.class = class }))
	}
	for _, count := range []int64{math.MinInt64, -1, 0, 1, billing.MaxDeltaCount, billing.MaxDeltaCount + 1, math.MaxInt64} {
		cases = append(cases, with(func(d *delta) { d.count = count }))
	}
	var accepted, refused int
	for _, d := range cases {
		c, err := billing.ParseClass(d.class)
		want := err == nil && billing.Delta{Team: d.team, Month: d.month, Class: c, Count: d.count}.Validate() == nil
		got := eval(t, filter, map[string]sqlValue{"team": str(d.team), "month": str(d.month), "class": str(d.class), "count": num(d.count)})
		assert.Equal(t, want, truthy(got), "delta %+q", d)
		if want {
			accepted++
		} else {
			refused++
		}
	}
	assert.Positive(t, accepted)
	assert.Positive(t, refused)
}

// TestSchemaDeadLetterView evaluates the dead-letter view's columns on the
// headers of a real dead letter and on hostile ones (anyone who can write
// the topic can write any headers): a header that is absent reads as the empty string,
// a number that does not parse as 0, the first of two headers of one name
// wins — and nothing makes the view fail, which would stop the consumer.
func TestSchemaDeadLetterView(t *testing.T) {
	mv := loadSchema(t).get(t, "resolver.events_dead_letter_mv", "MATERIALIZED VIEW")
	type row struct {
		reason, detail, topic string
		partition, offset     int64
		truncated             int64
	}
	evalRow := func(names, values []string) row {
		vars := map[string]sqlValue{"_headers.name": strs(names...), "_headers.value": strs(values...), "_key": str("k"), "value": str("v")}
		get := func(alias string) sqlValue { return eval(t, selectItem(t, mv.body, alias), vars) }
		assert.Equal(t, "k", get("key").s)
		return row{get("reason").s, get("error_detail").s, get("source_topic").s, get("source_partition").n, get("source_offset").n, get("truncated").n}
	}
	real := []string{"error", "error_detail", "source_topic", "source_partition", "source_offset"}
	for _, tc := range []struct {
		name          string
		names, values []string
		want          row
	}{
		{"as the resolver writes it", real, []string{"invalid_json", "invalid character 'n'", "events_raw", "3", "1042"}, row{"invalid_json", "invalid character 'n'", "events_raw", 3, 1042, 0}},
		{"cut", append(slices.Clone(real), "truncated"), []string{"output_too_large", "", "events_raw", "0", "9", "true"}, row{"output_too_large", "", "events_raw", 0, 9, 1}},
		{"no headers", nil, nil, row{}},
		{"numbers that do not parse", []string{"source_partition", "source_offset"}, []string{"three", "1e3"}, row{}},
		{"out of range", []string{"source_partition", "source_offset"}, []string{"2147483648", "9223372036854775808"}, row{}},
		{"largest", []string{"source_partition", "source_offset"}, []string{"2147483647", "9223372036854775807"}, row{partition: math.MaxInt32, offset: math.MaxInt64}},
		{"twice: the first", []string{"error", "error"}, []string{"first", "second"}, row{reason: "first"}},
		{"truncated not true", []string{"truncated"}, []string{"TRUE"}, row{}},
		{"names differ in case", []string{"Error", "SOURCE_TOPIC"}, []string{"x", "y"}, row{}},
		{"binary values", []string{"error", "error_detail"}, []string{"\x00\xff", strings.Repeat("d", 1<<16)}, row{reason: "\x00\xff", detail: strings.Repeat("d", 1<<16)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, evalRow(tc.names, tc.values))
		})
	}
}
