package billing

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./pkg/billing -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), string(got), "%s differs; rerun with -update if the change is intended", path)
}

// reportTotals is a billing view across three teams and two months.
func reportTotals() map[Key]int64 {
	return map[Key]int64{
		{"1", "2026-11", Anonymous}:      10_000_000,
		{"1", "2026-11", Identified}:     2_500_000,
		{"1", "2026-11", Excluded}:       123_456,
		{"1", "2026-12", Anonymous}:      1_000_001,
		{"1", "2026-12", Identified}:     1,
		{"2", "2026-11", Identified}:     300_000_000,
		{"2", "2026-11", Excluded}:       7,
		{"phc_abc", "2026-12", Excluded}: 42,
	}
}

func TestReport(t *testing.T) {
	r, err := NewReport(reportTotals(), DefaultPricing(), Filter{})
	require.NoError(t, err)
	require.Len(t, r.Statements, 4)

	s := r.Statements[0]
	assert.Equal(t, "1", s.Team)
	assert.Equal(t, "2026-11", s.Month)
	assert.Equal(t, int64(123_456), s.ExcludedEvents)
	assert.Equal(t, usd(t, "324.40"), s.Anonymous.Total)
	assert.Equal(t, usd(t, "300"), s.Identified.Total) // 248 + 0.5M × 0.000104
	assert.Equal(t, usd(t, "624.40"), s.Total)
	assert.Equal(t, usd(t, "1340"), s.AllIdentified) // 12.5M identified: 248 + 10.5M × 0.000104
	assert.Equal(t, usd(t, "715.60"), s.Saving)
	assert.Equal(t, int64(12_500_000), s.BilledEvents())

	var order []string
	for _, s := range r.Statements {
		order = append(order, s.Team+"/"+s.Month)
	}
	assert.Equal(t, []string{"1/2026-11", "1/2026-12", "2/2026-11", "phc_abc/2026-12"}, order)

	only := r.Statements[3]
	assert.Equal(t, int64(42), only.ExcludedEvents, "a team-month with only excluded events still gets a statement")
	assert.Equal(t, Money(0), only.Total)
}

func TestReportFilter(t *testing.T) {
	tests := []struct {
		f    Filter
		want []string
	}{
		{Filter{Month: "2026-11"}, []string{"1/2026-11", "2/2026-11"}},
		{Filter{Team: "1"}, []string{"1/2026-11", "1/2026-12"}},
		{Filter{Team: "1", Month: "2026-12"}, []string{"1/2026-12"}},
		{Filter{Team: "3"}, nil},
		{Filter{Month: "2027-01"}, nil},
	}
	for _, tt := range tests {
		r, err := NewReport(reportTotals(), DefaultPricing(), tt.f)
		require.NoError(t, err)
		var got []string
		for _, s := range r.Statements {
			got = append(got, s.Team+"/"+s.Month)
		}
		assert.Equal(t, tt.want, got, "%+v", tt.f)
		assert.Equal(t, tt.f.Month, r.Month)
		assert.Equal(t, tt.f.Team, r.Team)
	}
}

func TestReportErrors(t *testing.T) {
	_, err := NewReport(nil, DefaultPricing(), Filter{Month: "2026-13"})
	assert.ErrorIs(t, err, ErrInvalidMonth)
	for name, c := range map[string]struct {
		totals map[Key]int64
		p      Pricing
		want   error
	}{
		"unknown class":          {map[Key]int64{{"1", "2026-11", Class(9)}: 1}, DefaultPricing(), ErrUnknownClass},
		"negative total":         {map[Key]int64{{"1", "2026-11", Anonymous}: -1}, DefaultPricing(), ErrNegativeEvents},
		"cost overflow":          {map[Key]int64{{"1", "2026-11", Identified}: 1 << 62}, DefaultPricing(), ErrOverflow},
		"billed events overflow": {map[Key]int64{{"1", "2026-11", Identified}: 1 << 62, {"1", "2026-11", Anonymous}: 1 << 62}, Pricing{}, ErrOverflow},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := NewReport(c.totals, c.p, Filter{})
			require.NoError(t, err, "a bad team-month fails its statement, not the report")
			require.Len(t, r.Statements, 1)
			assert.ErrorIs(t, r.Statements[0].Err, c.want)
			assert.NotEmpty(t, r.Statements[0].Error)
			assert.Equal(t, Money(0), r.Statements[0].Total)
		})
	}
}

// One team whose totals overflow (issue 11, item 5: two forged deltas of
// MaxInt64 made /v1/billing answer 500 for every team) gets a statement
// with an error; every other team is priced as usual, and every rendering
// works.
func TestReportOneTeamOverflows(t *testing.T) {
	totals := reportTotals()
	totals[Key{"evil", "2026-11", Identified}] = math.MaxInt64
	totals[Key{"evil", "2026-11", Anonymous}] = math.MaxInt64
	r, err := NewReport(totals, DefaultPricing(), Filter{})
	require.NoError(t, err)
	require.Len(t, r.Statements, 5)
	var evil Statement
	for _, s := range r.Statements {
		if s.Team == "evil" {
			evil = s
			continue
		}
		assert.Empty(t, s.Error, "%s/%s", s.Team, s.Month)
	}
	assert.ErrorIs(t, evil.Err, ErrOverflow)
	assert.Equal(t, int64(math.MaxInt64), evil.Identified.Events)
	assert.Equal(t, usd(t, "624.40"), r.Statements[0].Total, "team 1 is priced as before")

	var table, js, cs bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	require.NoError(t, r.WriteJSON(&js))
	require.NoError(t, r.WriteCSV(&cs))
	assert.Contains(t, table.String(), "amount out of range")
	assert.Contains(t, js.String(), `"error": "billing: `)
	rows, err := csv.NewReader(bytes.NewReader(cs.Bytes())).ReadAll()
	require.NoError(t, err, "every CSV row has the header's width")
	var errRows []string
	for _, row := range rows {
		if row[2] == "error" {
			errRows = append(errRows, row[0])
		}
	}
	assert.Equal(t, []string{"evil"}, errRows)
}

func TestReportGolden(t *testing.T) {
	r, err := NewReport(reportTotals(), DefaultPricing(), Filter{})
	require.NoError(t, err)

	var table, js, cs bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	require.NoError(t, r.WriteJSON(&js))
	require.NoError(t, r.WriteCSV(&cs))
	golden(t, "report.table.golden", table.Bytes())
	golden(t, "report.json.golden", js.Bytes())
	golden(t, "report.csv.golden", cs.Bytes())

	// The JSON decodes back to the same report: amounts are exact strings.
	var back Report
	require.NoError(t, json.Unmarshal(js.Bytes(), &back))
	assert.Equal(t, *r, back)

	// Every CSV row has the header's width.
	rows, err := csv.NewReader(bytes.NewReader(cs.Bytes())).ReadAll()
	require.NoError(t, err)
	assert.Equal(t, csvHeader, rows[0])
}

func TestReportEmpty(t *testing.T) {
	r, err := NewReport(nil, DefaultPricing(), Filter{Team: "1", Month: "2026-11"})
	require.NoError(t, err)
	var table, js, cs bytes.Buffer
	require.NoError(t, r.WriteTable(&table))
	require.NoError(t, r.WriteJSON(&js))
	require.NoError(t, r.WriteCSV(&cs))
	assert.Equal(t, "no billing data\n", table.String())
	assert.JSONEq(t, `{"month":"2026-11","team":"1","statements":[]}`, js.String())
	assert.Equal(t, "team,month,line,class,tier_from,tier_up_to,events,unit_price_usd,amount_usd\n", cs.String())
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", 123_456: "123,456", 1_000_000: "1,000,000",
		-1_234: "-1,234", -9_223_372_036_854_775_808: "-9,223,372,036,854,775,808",
	} {
		assert.Equal(t, want, count(n))
	}
}
