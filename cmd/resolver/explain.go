package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/resolver-dev/resolver/pkg/state"
)

// explainMovedShown is how many moved ids a table step lists before
// "… and N more".
const explainMovedShown = 10

func (c *cli) explainCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "explain --team T --distinct-id A [--distinct-id B] [--state-dir DIR] [--format table|json]",
		Short: "Explain from a stopped instance's state why a distinct_id is in its person",
		Long: `explain prints the recorded lineage of a distinct_id (docs/SEMANTICS.md §8)
from the replica in state.dir/identity of a stopped instance: every step that
moved the id (merge, split, deletion) in identity_log order, the steps that
grew its current person, and the refused merges that named it. Each step
shows its rule, event uuid, event time, source coordinates (topic, partition,
offset) and identity_log position, the surviving and absorbed persons and the
ids it moved; refusals are marked REFUSED with the warning type.

With a second --distinct-id, explain prints the path between the two ids:
if they are one person, the steps that moved each and the step that joined
them; if not, the refused merges between an id of one's person and an id of
the other's, and the last deletion or split that separated them.

The JSON output is the one the admin server returns for
/v1/persons/lineage?team=T&distinct_id=A[&other=B], which is how to ask a
running instance (its state directory is locked).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := getFormat(cmd, "table", "json")
			if err != nil {
				return err
			}
			team, _ := cmd.Flags().GetString("team")
			ids, _ := cmd.Flags().GetStringArray("distinct-id")
			if team == "" || len(ids) == 0 || len(ids) > 2 || ids[0] == "" || len(ids) == 2 && ids[1] == "" {
				return &usageError{fmt.Errorf("%s: --team and one or two non-empty --distinct-id are required", cmd.CommandPath()), cmd.CommandPath()}
			}
			return c.withSetup(cmd, false, func(e env) error {
				st, dir, err := openStoppedState(e.cfg, "explain", e.log)
				if err != nil {
					return err
				}
				var v any
				if len(ids) == 1 {
					v, err = st.Lineage(team, ids[0])
				} else {
					v, err = st.Path(team, ids[0], ids[1])
				}
				if cerr := st.Close(); err == nil && cerr != nil {
					err = cerr
				}
				if err != nil {
					return fmt.Errorf("explain in %s: %w", dir, err)
				}
				w := cmd.OutOrStdout()
				if format == "json" {
					return writeJSONOut(w, v)
				}
				switch v := v.(type) {
				case state.LineageView:
					return writeLineage(w, v)
				case state.PathView:
					return writePath(w, v)
				}
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.String("team", "", `team as the resolver names it ("2", "phc_abc")`)
	fs.StringArray("distinct-id", nil, "distinct_id to explain; give it twice for the path between two ids")
	formatFlag(cmd, "table", "json")
	return cmd
}

func writeJSONOut(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// ew is a writer that keeps the first error, so a table is written
// without checking every line.
type ew struct {
	w   io.Writer
	err error
}

func (e *ew) printf(format string, a ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, a...)
	}
}

func personKind(implicit bool) string {
	if implicit {
		return "implicit: no stored person claims this distinct_id"
	}
	return "explicit"
}

func writeLineage(w io.Writer, v state.LineageView) error {
	e := &ew{w: w}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "team\t%s\n", v.Team)
	fmt.Fprintf(tw, "distinct_id\t%s\n", v.DistinctID)
	fmt.Fprintf(tw, "person_id\t%s (%s)\n", v.PersonID, personKind(v.Implicit))
	if err := tw.Flush(); err != nil {
		return err
	}
	writeSteps(e, fmt.Sprintf("steps that moved %s", v.DistinctID), v.Moves,
		"none recorded: the id is in the person it started in")
	writeSteps(e, "steps that grew person "+v.PersonID, v.Grew, "none recorded")
	writeSteps(e, "refused merges naming "+v.DistinctID, v.Refusals, "none")
	if v.Truncated {
		e.printf("\n(lists are cut: only the newest steps are shown)\n")
	}
	return e.err
}

func writePath(w io.Writer, v state.PathView) error {
	e := &ew{w: w}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "team\t%s\n", v.Team)
	fmt.Fprintf(tw, "distinct_id\t%s → person %s\n", v.A, v.PersonA)
	fmt.Fprintf(tw, "other\t%s → person %s\n", v.B, v.PersonB)
	if v.SamePerson {
		fmt.Fprintf(tw, "verdict\tthe same person\n")
	} else {
		fmt.Fprintf(tw, "verdict\tdifferent persons\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if v.SamePerson {
		if v.Joined != nil {
			e.printf("\njoined by\n")
			writeStep(e, 1, v.Joined)
		} else {
			e.printf("\njoined by: no recorded step (the same id, or joined before lineage was recorded)\n")
		}
	} else {
		writeSteps(e, "refused merges between their persons", v.Refusals, "none recorded")
		if v.Separated != nil {
			e.printf("\nseparated by\n")
			writeStep(e, 1, v.Separated)
		}
	}
	writeSteps(e, "steps that moved "+v.A, v.MovesA, "none recorded")
	writeSteps(e, "steps that moved "+v.B, v.MovesB, "none recorded")
	if v.Truncated {
		e.printf("\n(lists are cut: only the newest steps are shown, or the refusal search stopped at its bound)\n")
	}
	return e.err
}

func writeSteps(e *ew, title string, steps []state.LineageStep, none string) {
	e.printf("\n%s (%d)\n", title, len(steps))
	if len(steps) == 0 {
		e.printf("  %s\n", none)
		return
	}
	for i := range steps {
		writeStep(e, i+1, &steps[i])
	}
}

// writeStep prints one step as a short block a person can read.
func writeStep(e *ew, n int, s *state.LineageStep) {
	head := s.Rule
	if s.Refused != "" {
		head = "REFUSED " + s.Rule + " (" + s.Refused + ")"
	}
	e.printf("  %d. %s at %s\n", n, head, s.EventTimestamp)
	event := s.EventUUID
	if event == "" {
		event = "(none)"
	}
	e.printf("     event     %s from %s partition %d offset %d (op %d)\n", event, s.SourceTopic, s.SourcePartition, s.SourceOffset, s.SourceIndex)
	e.printf("     logged    identity_log partition %d offset %d (row %d) at %s\n", s.LogPartition, s.LogOffset, s.LogIndex, s.LogTime)
	if s.OtherDistinctID != "" || s.IntoDistinctID != "" {
		e.printf("     request   other %s into %s\n", orNone(s.OtherDistinctID), orNone(s.IntoDistinctID))
	}
	switch {
	case s.Refused != "":
		if s.SurvivorPersonID != "" || s.AbsorbedPersonID != "" {
			e.printf("     persons   %s and %s (kept apart)\n", orNone(s.SurvivorPersonID), orNone(s.AbsorbedPersonID))
		}
		e.printf("     moved     nothing\n")
		return
	case s.SurvivorPersonID == "":
		e.printf("     persons   %s deleted\n", orNone(s.AbsorbedPersonID))
	default:
		e.printf("     persons   %s → %s (absorbed → survivor)\n", orNone(s.AbsorbedPersonID), s.SurvivorPersonID)
	}
	e.printf("     moved     %s\n", movedList(s.DistinctIDsMoved, s.DistinctIDsMovedCount))
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// movedList is "(N) a, b, c … and M more".
func movedList(ids []string, total uint64) string {
	shown := ids[:min(len(ids), explainMovedShown)]
	s := fmt.Sprintf("(%d) %s", total, strings.Join(shown, ", "))
	if more := total - uint64(len(shown)); total > uint64(len(shown)) {
		s += fmt.Sprintf(" … and %d more", more)
	}
	return s
}
