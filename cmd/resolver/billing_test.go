package main

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./cmd/resolver -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), got, "%s differs; rerun with -update if the change is intended", path)
}

// run executes the command line in-process and returns its exit code,
// stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	code := execute(t.Context(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestDefaultTiers: the shipped billing.tiers are docs/SEMANTICS.md §7's.
func TestDefaultTiers(t *testing.T) {
	p, err := defaultConfig().Pricing()
	require.NoError(t, err)
	assert.Equal(t, billing.DefaultPricing(), p)

	cfg, _, err := loadConfig(defaultsFile, nil)
	require.NoError(t, err)
	p, err = cfg.Pricing()
	require.NoError(t, err)
	assert.Equal(t, billing.DefaultPricing(), p, "configs/resolver.yaml")
}

// tiers returns the default tier file with edit applied.
func tiersWith(edit func(billing.TierFile)) func(*Config) {
	return func(c *Config) { edit(c.Billing.Tiers) }
}

// TestValidateTiers: every bad billing.tiers value is rejected with an
// error naming the key and the value, exit 2.
func TestValidateTiers(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		msg  string // the whole message of the one error
	}{
		{"overlapping", tiersWith(func(f billing.TierFile) { f["identified"][2].UpTo = 2_000_000 }),
			"config: billing.tiers.identified[2].up_to: 2000000: tiers overlap: tier 1 also ends at 2000000; each up_to must be greater than the one before"},
		{"unordered", tiersWith(func(f billing.TierFile) { f["identified"][2].UpTo = 1_500_000 }),
			"config: billing.tiers.identified[2].up_to: 1500000: tiers out of order: below 2000000, where tier 1 ends; list tiers in ascending order of up_to"},
		{"negative price", tiersWith(func(f billing.TierFile) { f["anonymous"][1].UnitPrice = "-0.00005" }),
			"config: billing.tiers.anonymous[1].unit_price: -0.00005: negative unit price"},
		{"unknown class", tiersWith(func(f billing.TierFile) { f["premium"] = []billing.TierSpec{{UnitPrice: "1"}} }),
			`config: billing.tiers.premium: "premium": unknown billing class: want anonymous or identified`},
		{"open-ended not last", tiersWith(func(f billing.TierFile) { f["anonymous"][3].UpTo = 0 }),
			"config: billing.tiers.anonymous[3].up_to: 0: open-ended tier is not the last: tier 3 of 7; only the last tier may omit up_to"},
		{"last tier bounded", tiersWith(func(f billing.TierFile) { f["anonymous"] = []billing.TierSpec{{UpTo: 5, UnitPrice: "0"}} }),
			"config: billing.tiers.anonymous[0].up_to: 5: last tier must be open-ended (up_to 0 or absent): events above 5 would be unpriced"},
		{"price not a decimal", tiersWith(func(f billing.TierFile) { f["identified"][6].UnitPrice = "1e-5" }),
			`config: billing.tiers.identified[6].unit_price: "1e-5": invalid price "1e-5": want a plain decimal such as "0.0000343"`},
		{"no tiers", tiersWith(func(f billing.TierFile) { f["identified"] = nil }),
			"config: billing.tiers.identified: []: no tiers"},
		{"excluded priced", tiersWith(func(f billing.TierFile) { f["excluded"] = []billing.TierSpec{{UnitPrice: "0"}} }),
			"config: billing.tiers.excluded: excluded events are never billed and take no tiers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := defaultConfigWith(tt.edit).Validate()
			require.Error(t, err)
			assert.Equal(t, tt.msg, err.Error())
			assert.Equal(t, exitConfig, exitCode(err))
		})
	}
}

// TestBadTiersExit: a bad billing.tiers in a config file stops every
// billing command with exit 2 and a message naming the key and the value.
func TestBadTiersExit(t *testing.T) {
	tiers := func(identified, anonymous string) string {
		return "billing:\n  tiers:\n    identified:\n" + identified + "    anonymous:\n" + anonymous
	}
	okIdent := "      - {up_to: 1000000, unit_price: \"0\"}\n      - {unit_price: \"0.0001\"}\n"
	okAnon := "      - {up_to: 1000000, unit_price: \"0\"}\n      - {unit_price: \"0.00005\"}\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"overlapping", tiers("      - {up_to: 1000000, unit_price: \"0\"}\n      - {up_to: 2000000, unit_price: \"0.1\"}\n"+
			"      - {up_to: 2000000, unit_price: \"0.2\"}\n      - {unit_price: \"0.3\"}\n", okAnon),
			"resolver: config: billing.tiers.identified[2].up_to: 2000000: tiers overlap"},
		{"unordered", tiers(okIdent, "      - {up_to: 2000000, unit_price: \"0\"}\n      - {up_to: 1000000, unit_price: \"0.1\"}\n"+
			"      - {unit_price: \"0.3\"}\n"),
			"resolver: config: billing.tiers.anonymous[1].up_to: 1000000: tiers out of order"},
		{"negative price", tiers(okIdent, "      - {up_to: 1000000, unit_price: \"0\"}\n      - {unit_price: \"-0.00005\"}\n"),
			"resolver: config: billing.tiers.anonymous[1].unit_price: -0.00005: negative unit price"},
		{"unknown class", "billing:\n  tiers:\n    premium:\n      - {unit_price: \"1\"}\n",
			`resolver: config: billing.tiers.premium: "premium": unknown billing class`},
		{"unquoted price is still exact", tiers(okIdent, "      - {up_to: 1000000, unit_price: 0}\n      - {unit_price: -0.0000343}\n"),
			"resolver: config: billing.tiers.anonymous[1].unit_price: -0.0000343: negative unit price"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, "resolver.yaml", tt.yaml)
			for _, args := range [][]string{
				{"billing", "simulate", "--events", "1", "--identified-share", "0"},
				{"billing", "report"},
			} {
				code, stdout, stderr := run(t, append([]string{"--config", file, "--state-dir", t.TempDir()}, args...)...)
				assert.Equal(t, exitConfig, code, "%v; stderr:\n%s", args, stderr)
				assert.Contains(t, stderr, tt.want, "%v", args)
				assert.Empty(t, stdout, "%v", args)
			}
		})
	}
}

// TestTiersFromFile: a config file sets one class; the other keeps its
// default, and prices are kept exact whether quoted or not.
func TestTiersFromFile(t *testing.T) {
	file := writeFile(t, "resolver.yaml", "billing:\n  tiers:\n    anonymous:\n"+
		"      - {up_to: 10, unit_price: \"0\"}\n      - {unit_price: 0.0000343}\n")
	cfg, _, err := loadConfig(file, nil)
	require.NoError(t, err)
	p, err := cfg.Pricing()
	require.NoError(t, err)
	assert.Equal(t, billing.DefaultPricing()[billing.Identified], p[billing.Identified])
	assert.Equal(t, billing.Tiers{{UpTo: 10}, {UnitPrice: 34_300}}, p[billing.Anonymous])
}

// billingState writes a state dir whose billing view holds three teams and
// two months, folded from several deltas as the view does.
func billingState(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := state.Open(filepath.Join(dir, "identity"), state.Options{Logger: zaptest.NewLogger(t)})
	require.NoError(t, err)
	batches := [][]state.BillingDelta{
		{
			{Team: "1", Month: "2026-11", Class: "anonymous", Count: 6_000_000},
			{Team: "1", Month: "2026-11", Class: "identified", Count: 2_500_000},
			{Team: "1", Month: "2026-11", Class: "excluded", Count: 123_456},
			{Team: "2", Month: "2026-11", Class: "identified", Count: 999_999},
		},
		{
			{Team: "1", Month: "2026-11", Class: "anonymous", Count: 4_000_000},
			{Team: "1", Month: "2026-12", Class: "anonymous", Count: 1_000_001},
			{Team: "1", Month: "2026-12", Class: "identified", Count: 1},
			{Team: "2", Month: "2026-11", Class: "identified", Count: 2},
			{Team: "phc_team3", Month: "2026-12", Class: "excluded", Count: 42},
		},
	}
	for i, b := range batches {
		require.NoError(t, st.ApplyBilling(b, map[int32]int64{0: int64(i + 1)}))
	}
	require.NoError(t, st.Close())
	return dir
}

// TestBillingReport: the report of a state dir as a table, JSON and CSV,
// each against its golden file.
func TestBillingReport(t *testing.T) {
	dir := billingState(t)
	for _, format := range []string{"table", "json", "csv"} {
		t.Run(format, func(t *testing.T) {
			code, stdout, stderr := run(t, "--state-dir", dir, "--log-level", "warn", "billing", "report", "--format", format)
			require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
			assert.Empty(t, stderr)
			golden(t, "billing_report."+format+".golden", stdout)
		})
	}

	t.Run("json is the report", func(t *testing.T) {
		_, stdout, _ := run(t, "--state-dir", dir, "billing", "report", "--format", "json")
		var r struct {
			Statements []struct {
				Team, Month string
				Anonymous   struct{ Events int64 }
				Total       string
			}
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &r))
		require.Len(t, r.Statements, 4)
		assert.Equal(t, "1", r.Statements[0].Team)
		assert.Equal(t, "2026-11", r.Statements[0].Month)
		assert.Equal(t, int64(10_000_000), r.Statements[0].Anonymous.Events, "two deltas folded")
		assert.Equal(t, "624.40", r.Statements[0].Total) // 324.40 anonymous + 300 identified
	})

	t.Run("filters", func(t *testing.T) {
		code, stdout, stderr := run(t, "--state-dir", dir, "billing", "report", "--format", "csv", "--month", "2026-12", "--team", "1")
		require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
		for _, line := range splitLines(stdout)[1:] {
			assert.True(t, strings.HasPrefix(line, "1,2026-12,"), "line %q", line)
		}
		assert.Contains(t, stdout, "1,2026-12,total,,,,1000002,,0.00005\n")
	})

	t.Run("nothing selected", func(t *testing.T) {
		code, stdout, _ := run(t, "--state-dir", dir, "billing", "report", "--team", "nobody")
		require.Equal(t, exitOK, code)
		assert.Equal(t, "no billing data\n", stdout)
	})

	t.Run("configured tiers", func(t *testing.T) {
		file := writeFile(t, "resolver.yaml", "billing:\n  tiers:\n    identified:\n"+
			"      - {up_to: 1000000, unit_price: \"0\"}\n      - {unit_price: \"1\"}\n")
		code, stdout, stderr := run(t, "--config", file, "--state-dir", dir, "billing", "report", "--format", "csv", "--team", "2")
		require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
		assert.Contains(t, stdout, "2,2026-11,total,,,,1000001,,1.00\n")
	})
}

// TestBillingReportErrors: bad flags exit 2; a missing or locked state dir
// exits 1 with a message saying what to do.
func TestBillingReportErrors(t *testing.T) {
	t.Run("bad month", func(t *testing.T) {
		code, _, stderr := run(t, "--state-dir", t.TempDir(), "billing", "report", "--month", "2026-13")
		assert.Equal(t, exitConfig, code)
		assert.Contains(t, stderr, `--month "2026-13": want YYYY-MM`)
	})
	t.Run("bad format", func(t *testing.T) {
		code, _, stderr := run(t, "--state-dir", t.TempDir(), "billing", "report", "--format", "xml")
		assert.Equal(t, exitConfig, code)
		assert.Contains(t, stderr, `--format "xml": want table, json or csv`)
	})
	t.Run("unknown subcommand", func(t *testing.T) {
		code, _, stderr := run(t, "billing", "invoice")
		assert.Equal(t, exitConfig, code)
		assert.Contains(t, stderr, `unknown command "invoice" for "resolver billing"`)
	})
	t.Run("no state", func(t *testing.T) {
		dir := t.TempDir()
		code, _, stderr := run(t, "--state-dir", dir, "billing", "report")
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, stderr, "no resolver state in "+filepath.Join(dir, "identity"))
		_, err := os.Stat(filepath.Join(dir, "identity"))
		assert.True(t, errors.Is(err, os.ErrNotExist), "report must not create the state")
	})
	t.Run("locked by a running instance", func(t *testing.T) {
		dir := billingState(t)
		st, err := state.Open(filepath.Join(dir, "identity"), state.Options{})
		require.NoError(t, err)
		defer st.Close()
		code, stdout, stderr := run(t, "--state-dir", dir, "billing", "report", "--team", "1", "--month", "2026-11")
		assert.Equal(t, exitFailure, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "state directory "+filepath.Join(dir, "identity")+" is in use, most likely by a running resolver")
		assert.Contains(t, stderr, "curl 'http://127.0.0.1:9464/v1/billing?month=2026-11&team=1'")
	})
}

// TestBillingSimulate: docs/SEMANTICS.md §7's check, 10,000,000 anonymous
// events cost $324.40, in both formats.
func TestBillingSimulate(t *testing.T) {
	code, stdout, stderr := run(t, "billing", "simulate", "--events", "10000000", "--identified-share", "0")
	require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
	assert.Empty(t, stderr)
	golden(t, "billing_simulate.table.golden", stdout)
	assert.Regexp(t, `(?m)^anonymous +10,000,000 +324\.40$`, stdout)
	assert.Regexp(t, `(?m)^total +10,000,000 +324\.40$`, stdout)
	assert.Regexp(t, `(?m)^if all identified +10,000,000 +1080\.00$`, stdout)

	code, stdout, stderr = run(t, "billing", "simulate", "--events", "10000000", "--identified-share", "0", "--format", "json")
	require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
	var s struct {
		Anonymous     struct{ Total string }
		Total         string
		AllIdentified string `json:"all_identified"`
		Saving        string
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &s))
	assert.Equal(t, "324.40", s.Anonymous.Total)
	assert.Equal(t, "324.40", s.Total)
	assert.Equal(t, "1080.00", s.AllIdentified)
	assert.Equal(t, "755.60", s.Saving)
}

// TestBillingSimulateTierFile: --tiers replaces the configured tiers, in
// JSON or YAML; a bad file exits 2 naming the file, the key and the value.
func TestBillingSimulateTierFile(t *testing.T) {
	jsonFile := writeFile(t, "tiers.json", `{"identified": [{"up_to": 10, "unit_price": "0"}, {"unit_price": "0.01"}],
 "anonymous": [{"up_to": 10, "unit_price": "0"}, {"unit_price": 0.001}]}`)
	yamlFile := writeFile(t, "tiers.yaml", "identified:\n  - {up_to: 10, unit_price: \"0\"}\n  - {unit_price: \"0.01\"}\n"+
		"anonymous:\n  - {up_to: 10, unit_price: \"0\"}\n  - {unit_price: 0.001}\n")
	for _, file := range []string{jsonFile, yamlFile} {
		t.Run(filepath.Ext(file), func(t *testing.T) {
			code, stdout, stderr := run(t, "billing", "simulate", "--events", "110", "--identified-share", "0.5", "--tiers", file)
			require.Equal(t, exitOK, code, "stderr:\n%s", stderr)
			// 55 identified: 45 × 0.01; 55 anonymous: 45 × 0.001; all identified: 100 × 0.01.
			assert.Regexp(t, `(?m)^identified +55 +0\.45$`, stdout)
			assert.Regexp(t, `(?m)^anonymous +55 +0\.045$`, stdout)
			assert.Regexp(t, `(?m)^total +110 +0\.495$`, stdout)
			assert.Regexp(t, `(?m)^if all identified +110 +1\.00$`, stdout)
			assert.Regexp(t, `(?m)^saving +0\.505$`, stdout)
		})
	}

	tests := []struct {
		name, file, content, want string
	}{
		{"json overlap", "t.json", `{"identified": [{"up_to": 10, "unit_price": "0"}, {"up_to": 10, "unit_price": "1"}, {"unit_price": "1"}],
 "anonymous": [{"unit_price": "0"}]}`, "identified[1].up_to: 10: tiers overlap"},
		{"yaml negative", "t.yaml", "identified:\n  - {unit_price: \"0\"}\nanonymous:\n  - {unit_price: \"-1\"}\n",
			"anonymous[0].unit_price: -1.00: negative unit price"},
		{"yaml unknown class", "t.yml", "identified:\n  - {unit_price: \"0\"}\nanonymous:\n  - {unit_price: \"0\"}\nvip:\n  - {unit_price: \"0\"}\n",
			`vip: "vip": unknown billing class`},
		{"yaml unknown field", "t.yaml", "identified:\n  - {upto: 5, unit_price: \"0\"}\n", "field upto not found"},
		{"json unknown field", "t.json", `{"identified": [{"upto": 5, "unit_price": "0"}]}`, "identified[0].upto: invalid tier file: unknown field"},
		{"not json", "t.json", `{"identified": `, "invalid tier file"},
		{"empty", "t.yaml", "", "empty file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := writeFile(t, tt.file, tt.content)
			code, stdout, stderr := run(t, "billing", "simulate", "--events", "1", "--identified-share", "1", "--tiers", file)
			assert.Equal(t, exitConfig, code, "stderr:\n%s", stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, "resolver: config: --tiers "+file+": ")
			assert.Contains(t, stderr, tt.want)
		})
	}
	t.Run("missing", func(t *testing.T) {
		code, _, stderr := run(t, "billing", "simulate", "--events", "1", "--identified-share", "1", "--tiers", "/nonexistent/tiers.json")
		assert.Equal(t, exitConfig, code)
		assert.Contains(t, stderr, "/nonexistent/tiers.json")
	})
}

// TestBillingSimulateFlags: missing or out-of-range flags exit 2.
func TestBillingSimulateFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--identified-share", "0"}, "--events is required"},
		{[]string{"--events", "5"}, "--identified-share is required"},
		{[]string{"--events", "-5", "--identified-share", "0"}, "--events -5: must not be negative"},
		{[]string{"--events", "5", "--identified-share", "1.5"}, "--identified-share 1.5: must be within [0, 1]"},
		{[]string{"--events", "5", "--identified-share", "NaN"}, "--identified-share NaN: must be within [0, 1]"},
		{[]string{"--events", "5", "--identified-share", "0", "--format", "csv"}, `--format "csv": want table or json`},
		{[]string{"--events", "many", "--identified-share", "0"}, "--events"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := run(t, append([]string{"billing", "simulate"}, tt.args...)...)
			assert.Equal(t, exitConfig, code, "stderr:\n%s", stderr)
			assert.Contains(t, stderr, tt.want)
		})
	}
}
