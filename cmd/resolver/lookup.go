package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/resolver-dev/resolver/pkg/state"
)

func (c *cli) lookupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lookup --team T --distinct-id D [--state-dir DIR] [--format table|json]",
		Short: "Print the person of a distinct_id from a stopped instance's state",
		Long: `lookup prints the person a distinct_id belongs to, from the replica in
state.dir/identity of a stopped instance: its id, created_at, is_identified and
version, every distinct_id of the person with the version of its distinct-id
row, and its properties with the time of the event that set each one.

A distinct_id that no stored person claims belongs to its implicit person
(docs/SEMANTICS.md §3), which has no stored state; lookup says so.

--team is the team as the resolver names it: the team_id ("2") or, for
events without one, the token ("phc_abc"). The JSON output is the one the
admin server returns for /v1/persons?team=T&distinct_id=D, which is how to
ask a running instance (its state directory is locked).

With --as-of TIME (RFC 3339, e.g. 2026-12-01T10:00:00Z) lookup prints instead
the person the distinct_id belonged to at TIME, by the identity_log record
times of the recorded lineage steps that moved it (the rule is on
state.Store.AsOf; docs/SEMANTICS.md §8), with the last such step.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := getFormat(cmd, "table", "json")
			if err != nil {
				return err
			}
			team, _ := cmd.Flags().GetString("team")
			did, _ := cmd.Flags().GetString("distinct-id")
			if team == "" || did == "" {
				return &usageError{fmt.Errorf("%s: --team and --distinct-id are required", cmd.CommandPath()), cmd.CommandPath()}
			}
			var asOf time.Time
			if s, _ := cmd.Flags().GetString("as-of"); s != "" {
				if asOf, err = time.Parse(time.RFC3339Nano, s); err != nil {
					return &usageError{fmt.Errorf("%s: --as-of %q: not an RFC 3339 time (e.g. 2026-12-01T10:00:00Z)", cmd.CommandPath(), s), cmd.CommandPath()}
				}
			}
			return c.withSetup(cmd, false, func(e env) error {
				st, dir, err := openStoppedState(e.cfg, "lookup", e.log)
				if err != nil {
					return err
				}
				if !asOf.IsZero() {
					v, err := st.AsOf(team, did, asOf)
					if cerr := st.Close(); err == nil && cerr != nil {
						err = cerr
					}
					if err != nil {
						return fmt.Errorf("lookup in %s: %w", dir, err)
					}
					return writeAsOf(cmd.OutOrStdout(), v, format)
				}
				v, err := st.Lookup(team, did)
				if cerr := st.Close(); err == nil && cerr != nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("lookup in %s: %w", dir, err)
				}
				return writePerson(cmd.OutOrStdout(), v, format)
			})
		},
	}
	fs := cmd.Flags()
	fs.String("team", "", `team as the resolver names it ("2", "phc_abc")`)
	fs.String("distinct-id", "", "distinct_id to look up")
	fs.String("as-of", "", "print the person the id belonged to at this time (RFC 3339) instead")
	formatFlag(cmd, "table", "json")
	return cmd
}

// writePerson prints a person as a table or as JSON (the /v1/persons body).
func writePerson(w io.Writer, v state.PersonView, format string) error {
	if format == "json" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	kind := "explicit"
	if v.Implicit {
		kind = "implicit: no stored person claims this distinct_id"
	}
	fmt.Fprintf(tw, "team\t%s\n", v.Team)
	fmt.Fprintf(tw, "distinct_id\t%s\n", v.DistinctID)
	fmt.Fprintf(tw, "person_id\t%s (%s)\n", v.PersonID, kind)
	fmt.Fprintf(tw, "created_at\t%s\n", v.CreatedAt)
	fmt.Fprintf(tw, "is_identified\t%t\n", v.IsIdentified)
	fmt.Fprintf(tw, "version\t%d\n", v.Version)
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\ndistinct_ids (%d)\n", len(v.DistinctIDs))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  VERSION\tDISTINCT_ID\n")
	for _, d := range v.DistinctIDs {
		fmt.Fprintf(tw, "  %d\t%s\n", d.Version, d.DistinctID)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintf(w, "\nproperties (%d)\n", len(v.Properties))
	if len(v.Properties) == 0 {
		return nil
	}
	keys := make([]string, 0, len(v.Properties))
	for k := range v.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  KEY\tVALUE\tSET_AT\n")
	for _, k := range keys {
		p := v.Properties[k]
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", k, p.Value, p.Time)
	}
	return tw.Flush()
}

// asOfBasis says in words how an AsOfView's person was found.
var asOfBasis = map[string]string{
	state.BasisImplicit:   "no recorded step ever moved the id: its implicit person",
	state.BasisMoved:      "the person the last step at or before that time moved the id into",
	state.BasisBeforeNext: "the person the id's next recorded step took it out of",
	state.BasisCurrent:    "its person now: the last step by then deleted its person",
}

// writeAsOf prints the person of an id at a past time.
func writeAsOf(w io.Writer, v state.AsOfView, format string) error {
	if format == "json" {
		return writeJSONOut(w, v)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "team\t%s\n", v.Team)
	fmt.Fprintf(tw, "distinct_id\t%s\n", v.DistinctID)
	fmt.Fprintf(tw, "as of\t%s (identity_log record time)\n", v.At)
	id := v.PersonID
	if v.ImplicitID {
		id += " (the id's implicit person id)"
	}
	fmt.Fprintf(tw, "person_id\t%s\n", id)
	fmt.Fprintf(tw, "because\t%s\n", asOfBasis[v.Basis])
	if err := tw.Flush(); err != nil {
		return err
	}
	if v.Step == nil {
		return nil
	}
	e := &ew{w: w}
	e.printf("\nlast step at or before that time\n")
	writeStep(e, 1, v.Step)
	return e.err
}
