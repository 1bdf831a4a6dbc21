package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/resolver-dev/resolver/pkg/billing"
	"github.com/resolver-dev/resolver/pkg/state"
)

// billingCmd is `resolver billing`, the parent of report and simulate.
func (c *cli) billingCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "billing",
		Short: "Billing reports and cost simulations under billing.tiers",
		Long: `billing prices monthly event counts with the graduated tiers of
billing.tiers (docs/SEMANTICS.md §7; every key is in configs/resolver.yaml):

  report    the bill of each team and month, from the billing view of a
            stopped instance's state.dir
  simulate  the monthly cost of a given traffic, split between identified
            and anonymous (personless) events`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()), cmd.CommandPath()}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(c.billingReportCmd(), c.billingSimulateCmd())
	return cmd
}

func (c *cli) billingReportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report [--month YYYY-MM] [--team T] [--format table|json|csv]",
		Short: "Print the bill of each team and month from the billing view in state.dir",
		Long: `report reads the billing view of an instance (the totals per team, calendar
month and class that it folded from billing_usage into state.dir/identity) and
prices them with billing.tiers. Per team and month it prints the anonymous,
identified and excluded events, the cost of each class by tier, the total, and
what the same events would cost if all were identified (the saving that
personless events bring).

The state is a Badger directory, which only one process may open: report
works on a stopped instance's state.dir. A running instance holds it; ask
that instance's admin endpoint instead (admin.addr), which returns the same
report as --format json:

  curl 'http://127.0.0.1:9464/v1/billing?team=T&month=YYYY-MM'

Amounts are exact USD decimals; a month is UTC, by event timestamp.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			month, team, format, err := reportFlags(cmd)
			if err != nil {
				return err
			}
			return c.withSetup(cmd, false, func(e env) error {
				return c.billingReport(cmd.OutOrStdout(), e.cfg, e.log, billing.Filter{Month: month, Team: team}, format)
			})
		},
	}
	fs := cmd.Flags()
	fs.String("month", "", "only this calendar month (UTC), YYYY-MM; default every month")
	fs.String("team", "", `only this team, as the resolver names it ("2", "phc_abc"); default every team`)
	fs.String("format", "table", "output format: table, json or csv")
	return cmd
}

// reportFlags reads and checks the flags of billing report; a bad value is a
// *usageError (exit 2).
func reportFlags(cmd *cobra.Command) (month, team, format string, err error) {
	fs := cmd.Flags()
	month, _ = fs.GetString("month")
	team, _ = fs.GetString("team")
	format, _ = fs.GetString("format")
	if month != "" {
		if _, err := billing.ParseMonth(month); err != nil {
			return "", "", "", &usageError{fmt.Errorf("--month %q: want YYYY-MM, e.g. 2026-11", month), cmd.CommandPath()}
		}
	}
	switch format {
	case "table", "json", "csv":
	default:
		return "", "", "", &usageError{fmt.Errorf("--format %q: want table, json or csv", format), cmd.CommandPath()}
	}
	return month, team, format, nil
}

// billingReport prints the report of the billing view in cfg.State.Dir.
func (c *cli) billingReport(w io.Writer, cfg Config, log *zap.Logger, f billing.Filter, format string) error {
	pricing, err := cfg.Pricing()
	if err != nil {
		return err
	}
	totals, err := readBillingTotals(cfg, f, log)
	if err != nil {
		return err
	}
	r, err := billing.NewReport(totals, pricing, f)
	if err != nil {
		return err
	}
	switch format {
	case "json":
		return r.WriteJSON(w)
	case "csv":
		return r.WriteCSV(w)
	default:
		return r.WriteTable(w)
	}
}

// readBillingTotals opens the state in <state.dir>/identity, reads its
// billing totals and closes it again. A state held by a running instance is
// an error that says so and points at the admin endpoint.
func readBillingTotals(cfg Config, f billing.Filter, log *zap.Logger) (map[billing.Key]int64, error) {
	dir := filepath.Join(cfg.State.Dir, "identity")
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no resolver state in %s (state.dir %s): has a resolver run with this state.dir?", dir, cfg.State.Dir)
		}
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	o := stateOptions(cfg, log)
	o.CacheBytes = -1 // reads the billing keys only
	st, err := state.Open(dir, o)
	if err != nil {
		if state.IsLocked(err) {
			return nil, fmt.Errorf("state directory %s is in use, most likely by a running resolver: "+
				"Badger allows one process per directory, so report works on a stopped instance. "+
				"Ask the running instance instead: %s (%w)", dir, adminBillingHint(cfg.Admin.Addr, f), err)
		}
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	totals := map[billing.Key]int64{}
	err = st.BillingTotals(func(team, month, class string, n int64) error {
		c, err := billing.ParseClass(class)
		if err != nil {
			return fmt.Errorf("billing total of team %q month %q: %w", team, month, err)
		}
		totals[billing.Key{Team: team, Month: month, Class: c}] = n
		return nil
	})
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("read billing view in %s: %w", dir, err)
	}
	return totals, nil
}

// adminBillingHint is the request to the admin endpoint that gives the
// report of f.
func adminBillingHint(addr string, f billing.Filter) string {
	if addr == "" {
		return "its admin server is off (admin.addr is empty); set admin.addr and query /v1/billing"
	}
	q := url.Values{}
	if f.Team != "" {
		q.Set("team", f.Team)
	}
	if f.Month != "" {
		q.Set("month", f.Month)
	}
	u := url.URL{Scheme: "http", Host: addr, Path: "/v1/billing", RawQuery: q.Encode()}
	return "curl '" + u.String() + "'"
}

func (c *cli) billingSimulateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "simulate --events N --identified-share P [--tiers FILE]",
		Short: "Print the monthly cost of a given traffic under the configured tiers",
		Long: `simulate prices one month of --events events of one team, the
--identified-share of them identified and the rest anonymous (personless),
under billing.tiers or the tiers in --tiers FILE. It prints the cost of each
class by tier, the total, and the cost of the same traffic all identified
(with the saving) and all anonymous: what moving traffic to personless mode
saves before an SDK setting is changed.

A tier file has the shape of billing.tiers, in JSON (.json, or any file
starting with '{') or YAML:

  {"identified": [{"up_to": 1000000, "unit_price": "0"}, {"unit_price": "0.0001"}],
   "anonymous":  [{"up_to": 1000000, "unit_price": "0"}, {"unit_price": "0.00005"}]}

Both classes are required; prices are decimal strings, USD per event.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			events, share, tiersFile, format, err := simulateFlags(cmd)
			if err != nil {
				return err
			}
			return c.withSetup(cmd, false, func(e env) error {
				pricing, err := e.cfg.Pricing()
				if err != nil {
					return err
				}
				if tiersFile != "" {
					if pricing, err = loadTierFile(tiersFile); err != nil {
						return err
					}
				}
				s, err := billing.Simulate(pricing, events, share)
				if err != nil {
					return err
				}
				if format == "json" {
					return s.WriteJSON(cmd.OutOrStdout())
				}
				return s.WriteTable(cmd.OutOrStdout())
			})
		},
	}
	fs := cmd.Flags()
	fs.Int64("events", 0, "events in the month (required)")
	fs.Float64("identified-share", 0, "share of the events that are identified, 0 to 1 (required)")
	fs.String("tiers", "", "tier file, JSON or YAML, instead of billing.tiers")
	fs.String("format", "table", "output format: table or json")
	return cmd
}

// simulateFlags reads and checks the flags of billing simulate; a missing
// or bad value is a *usageError (exit 2).
func simulateFlags(cmd *cobra.Command) (events int64, share float64, tiersFile, format string, err error) {
	fs := cmd.Flags()
	usage := func(format string, args ...any) error {
		return &usageError{fmt.Errorf(format, args...), cmd.CommandPath()}
	}
	for _, name := range []string{"events", "identified-share"} {
		if !fs.Changed(name) {
			return 0, 0, "", "", usage("--%s is required", name)
		}
	}
	events, _ = fs.GetInt64("events")
	share, _ = fs.GetFloat64("identified-share")
	tiersFile, _ = fs.GetString("tiers")
	format, _ = fs.GetString("format")
	if events < 0 {
		return 0, 0, "", "", usage("--events %d: must not be negative", events)
	}
	if !(share >= 0 && share <= 1) { // also NaN
		return 0, 0, "", "", usage("--identified-share %v: must be within [0, 1]", share)
	}
	if format != "table" && format != "json" {
		return 0, 0, "", "", usage("--format %q: want table or json", format)
	}
	return events, share, tiersFile, format, nil
}

// loadTierFile reads a tier file: JSON through billing.LoadTiersJSON if its
// name ends in .json or it starts with '{', else YAML (go.yaml.in/yaml/v3,
// viper's YAML library) into a billing.TierFile. Every problem is an error
// that exits 2 and names the file, the key and the value.
func loadTierFile(file string) (billing.Pricing, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, configErrorf("--tiers %s: %v", file, err)
	}
	where := "--tiers " + file + ": "
	if strings.EqualFold(filepath.Ext(file), ".json") || bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		p, err := billing.LoadTiersJSON(bytes.NewReader(data))
		if err != nil {
			return nil, tierErrors(where, err)
		}
		return p, nil
	}
	var f billing.TierFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty file")
		}
		return nil, configErrorf("%s%v; want the shape of billing.tiers in configs/resolver.yaml", where, err)
	}
	p, err := f.Pricing("")
	if err != nil {
		return nil, tierErrors(where, err)
	}
	return p, nil
}

// Pricing returns billing.tiers as a validated billing.Pricing. Every
// problem is reported, joined, each naming its key
// ("billing.tiers.identified[2].up_to") and, where there is one, the value:
// a *FieldError, or a *configError for a problem with a whole class list.
// Both exit 2.
func (c Config) Pricing() (billing.Pricing, error) {
	p, err := c.Billing.Tiers.Pricing("billing.tiers")
	if err != nil {
		return nil, tierErrors("", err)
	}
	return p, nil
}

// verbatim is a config value shown as it is, already formatted by
// pkg/billing (formatValue quotes only plain strings).
type verbatim string

// tierErrors turns the *billing.ConfigError values in err (joined, possibly
// nested) into this package's config errors, one per problem, with where in
// front of each key: a *FieldError when the problem has a value, else a
// *configError. Anything else is kept, as a *configError.
func tierErrors(where string, err error) error {
	var out []error
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var ce *billing.ConfigError
		switch {
		case !errors.As(err, &ce):
			out = append(out, configErrorf("%s%v", where, err))
		case strings.HasPrefix(ce.Key, "("): // "(tier file)": the file as a whole
			out = append(out, configErrorf("%s%v", where, ce.Err))
		case ce.Value == "":
			out = append(out, configErrorf("%s%s: %v", where, ce.Key, ce.Err))
		default:
			out = append(out, &FieldError{Key: where + ce.Key, Value: verbatim(ce.Value), Reason: ce.Err.Error()})
		}
	}
	walk(err)
	return errors.Join(out...)
}
