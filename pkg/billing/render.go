package billing

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Renderings of reports and simulations. Amounts are in USD, written with
// FormatUSD: exact, at least two decimals (so "0.00005" for a single event
// of a $0.00005 tier). Tables group digits of counts ("10,000,000") for
// people; JSON and CSV do not, for programs.

// WriteJSON writes r as indented JSON: the shape of the /v1/billing endpoint.
// Amounts are JSON strings ("324.40") so that no reader rounds them through a
// float.
func (r *Report) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// WriteJSON writes s as indented JSON; amounts are strings as in
// Report.WriteJSON.
func (s Simulation) WriteJSON(w io.Writer) error { return writeJSON(w, s) }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

var tableHeader = []string{"CLASS", "EVENTS", "TIER", "UNIT PRICE", "USD"}

// WriteTable writes r as an aligned text table: per team and month, the
// anonymous and identified events with their cost and its tiers, the
// excluded events, the total, the cost if all billed events were identified,
// and the saving.
func (r *Report) WriteTable(w io.Writer) error {
	if len(r.Statements) == 0 {
		_, err := io.WriteString(w, "no billing data\n")
		return err
	}
	t := newTable(w)
	t.row(append([]string{"TEAM", "MONTH"}, tableHeader...)...)
	for _, s := range r.Statements {
		lead := []string{s.Team, s.Month}
		if s.Error != "" {
			t.row(s.Team, s.Month, "anonymous", count(s.Anonymous.Events), "", "", "")
			t.row(s.Team, s.Month, "identified", count(s.Identified.Events), "", "", "")
			t.row(s.Team, s.Month, "excluded", count(s.ExcludedEvents), "", "", "not billed")
			t.row(s.Team, s.Month, "error", "", "", "", s.Error)
			continue
		}
		t.cost(lead, s.Anonymous)
		t.cost(lead, s.Identified)
		t.row(s.Team, s.Month, "excluded", count(s.ExcludedEvents), "", "", "not billed")
		t.summary(lead, s.BilledEvents(), s.Total, s.AllIdentified, s.Saving)
	}
	return t.flush()
}

// WriteTable writes s as an aligned text table: the traffic, then the
// identified and anonymous costs with their tiers, the total, the two
// extremes and the saving against all identified.
func (s Simulation) WriteTable(w io.Writer) error {
	t := newTable(w)
	t.row("events", count(s.Events))
	t.row("identified share", strconv.FormatFloat(s.IdentifiedShare, 'f', -1, 64))
	t.row()
	t.row(tableHeader...)
	t.cost(nil, s.Identified)
	t.cost(nil, s.Anonymous)
	t.summary(nil, s.Events, s.Total, s.AllIdentified, s.Saving)
	t.row("if all anonymous", count(s.Events), "", "", FormatUSD(s.AllAnonymous))
	return t.flush()
}

// table is a tabwriter with helpers for the rows shared by reports and
// simulations; lead is the cells in front of each summary row (team and
// month), blanked on tier rows.
type table struct {
	tw  *tabwriter.Writer
	err error
}

func newTable(w io.Writer) *table {
	return &table{tw: tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
}

func (t *table) row(cells ...string) {
	if t.err == nil {
		_, t.err = io.WriteString(t.tw, strings.Join(cells, "\t")+"\n")
	}
}

func (t *table) cost(lead []string, c Cost) {
	t.row(append(lead, c.Class.String(), count(c.Events), "", "", FormatUSD(c.Total))...)
	blank := make([]string, len(lead)+1)
	for _, tc := range c.Tiers {
		t.row(append(blank, count(tc.Events), tierRange(tc), FormatUSD(tc.UnitPrice), FormatUSD(tc.Amount))...)
	}
}

func (t *table) summary(lead []string, billed int64, total, allIdentified, saving Money) {
	t.row(append(lead, "total", count(billed), "", "", FormatUSD(total))...)
	t.row(append(lead, "if all identified", count(billed), "", "", FormatUSD(allIdentified))...)
	t.row(append(lead, "saving", "", "", "", FormatUSD(saving))...)
}

func (t *table) flush() error {
	if t.err != nil {
		return t.err
	}
	return t.tw.Flush()
}

// tierRange labels a tier by the monthly counts it spans.
func tierRange(tc TierCost) string {
	if tc.UpTo == 0 {
		return "over " + count(tc.From)
	}
	return count(tc.From) + " - " + count(tc.UpTo)
}

// count formats n with a comma every three digits: 10,000,000.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, d := range []byte(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(d)
	}
	return b.String()
}

// csvHeader is the header of Report.WriteCSV.
var csvHeader = []string{"team", "month", "line", "class", "tier_from", "tier_up_to", "events", "unit_price_usd", "amount_usd"}

// WriteCSV writes r as CSV in long form, one row per figure, under the header
//
//	team,month,line,class,tier_from,tier_up_to,events,unit_price_usd,amount_usd
//
// where line is one of
//
//	class           a class's events and cost (excluded: amount 0)
//	tier            one tier of the class above it: tier_from, tier_up_to
//	                (empty for the open-ended tier), its events, unit price
//	                and amount
//	total           the billed events and the bill
//	all_identified  the billed events and their cost if all were identified
//	saving          all_identified − total
//	error           the statement could not be priced: amount_usd holds
//	                the reason, the class lines before it the counts and no
//	                amounts (Statement.Error)
//
// Cells that do not apply are empty. Counts are plain integers; amounts are
// exact decimals (see FormatUSD).
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, s := range r.Statements {
		row := func(line, class, from, upTo, events, price, amount string) {
			_ = cw.Write([]string{s.Team, s.Month, line, class, from, upTo, events, price, amount})
		}
		if s.Error != "" {
			for _, c := range []Cost{s.Anonymous, s.Identified} {
				row("class", c.Class.String(), "", "", i64(c.Events), "", "")
			}
			row("class", Excluded.String(), "", "", i64(s.ExcludedEvents), "", FormatUSD(0))
			row("error", "", "", "", "", "", s.Error)
			continue
		}
		for _, c := range []Cost{s.Anonymous, s.Identified} {
			row("class", c.Class.String(), "", "", i64(c.Events), "", FormatUSD(c.Total))
			for _, tc := range c.Tiers {
				upTo := ""
				if tc.UpTo != 0 {
					upTo = i64(tc.UpTo)
				}
				row("tier", c.Class.String(), i64(tc.From), upTo, i64(tc.Events), FormatUSD(tc.UnitPrice), FormatUSD(tc.Amount))
			}
		}
		row("class", Excluded.String(), "", "", i64(s.ExcludedEvents), "", FormatUSD(0))
		row("total", "", "", "", i64(s.BilledEvents()), "", FormatUSD(s.Total))
		row("all_identified", Identified.String(), "", "", i64(s.BilledEvents()), "", FormatUSD(s.AllIdentified))
		row("saving", "", "", "", "", "", FormatUSD(s.Saving))
	}
	cw.Flush()
	return cw.Error()
}
