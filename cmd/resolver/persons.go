package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/resolver-dev/resolver/pkg/lifecycle"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// defaultCommandWait is how long persons delete|split wait for their
// outcome by default.
const defaultCommandWait = 30 * time.Second

func (c *cli) personsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "persons",
		Short: "Delete or split persons (docs/SEMANTICS.md §8)",
		Long: `persons delete and persons split write an admin command to topics.commands
(identity_commands) on the cluster (kafka.brokers, or the embedded broker's
kafka.embedded.listen when none is set). A running instance consumes it,
appends the delete or split op to identity_log, and emits its rows —
persons, person_distinct_ids and person_merges — in the transaction that
commits the command. The command then waits (--wait) for its person_merges
row and prints the outcome; a refusal exits with code 1 and says why.`,
		Args: noArgs,
	}
	cmd.AddCommand(c.personsDeleteCmd(), c.personsSplitCmd())
	return cmd
}

func (c *cli) personsDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete --team T --distinct-id D [--block] [--wait 30s] [--format table|json]",
		Short: "Delete the person of a distinct_id and erase its properties",
		Long: `delete removes the person D belongs to and every distinct-id mapping of it;
what remains is a tombstone with ids and versions only. The feeds get the
person row and every distinct-id row with is_deleted = true. Its properties
are erased everywhere, including identity_log: the data keys of its ids are
tombstoned on identity_keys (crypto-shredding). A later event for one of its
ids starts a fresh person, unless --block: then later events of those ids go
to the dead letters as deleted_distinct_id.

Deleting an id that has no person is a no-op, reported as such (exit 0).
Snapshots taken before the deletion still hold the data (see the README).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := readPersonsArgs(cmd, "exactly one --distinct-id", func(n int) bool { return n == 1 })
			if err != nil {
				return err
			}
			block, _ := cmd.Flags().GetBool("block")
			return c.request(cmd, lifecycle.NewDelete(a.team, a.ids[0], block, time.Now()), a.wait, a.format)
		},
	}
	personsFlags(cmd, "the distinct_id whose person is deleted")
	cmd.Flags().Bool("block", false, "keep the person's ids blocked: their later events are dead-lettered deleted_distinct_id")
	return cmd
}

func (c *cli) personsSplitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "split --team T --distinct-id D [--distinct-id E …] [--no-properties] [--wait 30s] [--format table|json]",
		Short: "Move distinct_ids out of their person into a new person",
		Long: `split moves the named distinct_ids out of their person; together they form
one new person whose id is UUIDv5 of "<team>:<first named id>:split:<log
offset>" (the same on every replica and in every rebuild). The new person is
identified if the old one was and starts with a copy of its properties
(their times kept), or none with --no-properties. Every moved distinct-id
row's version rises, so a warehouse re-attributes those ids' past events.

Refused, with a message: naming every id of the person, naming ids of
different persons, naming an id that has no person.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := readPersonsArgs(cmd, "at least one --distinct-id", func(n int) bool { return n > 0 })
			if err != nil {
				return err
			}
			noProps, _ := cmd.Flags().GetBool("no-properties")
			return c.request(cmd, lifecycle.NewSplit(a.team, a.ids, noProps, time.Now()), a.wait, a.format)
		},
	}
	personsFlags(cmd, "a distinct_id to move (repeat the flag; the first names the new person)")
	cmd.Flags().Bool("no-properties", false, "start the new person without properties")
	return cmd
}

// personsFlags adds the flags both persons commands take.
func personsFlags(cmd *cobra.Command, idUsage string) {
	fs := cmd.Flags()
	fs.String("team", "", `team as the resolver names it ("2", "phc_abc")`)
	fs.StringArray("distinct-id", nil, idUsage)
	fs.Duration("wait", defaultCommandWait, "how long to wait for the outcome (0: write the command and return)")
	formatFlag(cmd, "table", "json")
}

// personsArgs are the values of personsFlags.
type personsArgs struct {
	format, team string
	ids          []string
	wait         time.Duration
}

// readPersonsArgs reads personsFlags; --team is required, and as many
// --distinct-id as countOK admits (want says how many, for the error).
func readPersonsArgs(cmd *cobra.Command, want string, countOK func(int) bool) (personsArgs, error) {
	var a personsArgs
	var err error
	if a.format, err = getFormat(cmd, "table", "json"); err != nil {
		return a, err
	}
	a.team, _ = cmd.Flags().GetString("team")
	a.ids, _ = cmd.Flags().GetStringArray("distinct-id")
	a.wait, _ = cmd.Flags().GetDuration("wait")
	if a.team == "" || !countOK(len(a.ids)) {
		return a, &usageError{fmt.Errorf("%s: --team and %s are required", cmd.CommandPath(), want), cmd.CommandPath()}
	}
	return a, nil
}

// errRefused makes a refused command exit 1 after its message is printed.
var errRefused = errors.New("refused")

// request writes a command and prints its outcome.
func (c *cli) request(cmd *cobra.Command, lc lifecycle.Command, wait time.Duration, format string) error {
	if err := lc.Validate(); err != nil {
		return &usageError{fmt.Errorf("%s: %w", cmd.CommandPath(), err), cmd.CommandPath()}
	}
	return c.withSetup(cmd, true, func(e env) error {
		k, _, err := genKafka(e.cfg)
		if err != nil {
			return err
		}
		sc, err := e.cfg.ToStream()
		if err != nil {
			return err
		}
		out, err := stream.Request(e.ctx, k, sc.Topics, lc, wait, e.log)
		if err != nil {
			return err
		}
		w := cmd.OutOrStdout()
		if err := writeOutcome(w, lc, out, wait, format); err != nil {
			return err
		}
		if r := out.Refused(); r != "" && r != "unknown_distinct_id" {
			return fmt.Errorf("%s %s: %w: %s", lc.Command, lc.RequestID, errRefused, refusalText(r))
		}
		return nil
	})
}

// refusalText says a refusal in words.
func refusalText(r string) string {
	switch r {
	case "unknown_distinct_id":
		return "no person has this distinct_id: nothing to do"
	case "cannot_split_every_distinct_id":
		return "a split must leave at least one distinct_id in the person; to remove the whole person, delete it"
	case "cannot_split_distinct_id_not_in_person":
		return "the named distinct_ids are not all in one person (or one has no person); name ids of a single person"
	}
	return r
}

func writeOutcome(w io.Writer, lc lifecycle.Command, out stream.Outcome, wait time.Duration, format string) error {
	if format == "json" {
		b, err := json.MarshalIndent(struct {
			Command   lifecycle.Command `json:"command"`
			Partition int32             `json:"partition"`
			Offset    int64             `json:"offset"`
			Rows      []stream.MergeRow `json:"person_merges"`
		}{lc, out.Partition, out.Offset, out.Rows}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "command\t%s %s (request %s)\n", lc.Command, strings.Join(lc.DistinctIDs, ", "), lc.RequestID)
	fmt.Fprintf(tw, "written\tpartition %d offset %d\n", out.Partition, out.Offset)
	switch {
	case wait <= 0:
		fmt.Fprintf(tw, "outcome\tnot waited for (--wait 0)\n")
	case out.Refused() == "unknown_distinct_id":
		fmt.Fprintf(tw, "outcome\tno-op: %s\n", refusalText(out.Refused()))
	case out.Refused() != "":
		fmt.Fprintf(tw, "outcome\trefused: %s\n", refusalText(out.Refused()))
	default:
		r := out.Rows[0]
		moved := out.Moved()
		if lc.Command == lifecycle.Delete {
			fmt.Fprintf(tw, "outcome\tdeleted person %s (%d distinct_ids%s)\n", r.AbsorbedPersonID, len(moved), blockedNote(lc.Block))
		} else {
			fmt.Fprintf(tw, "outcome\tmoved %d distinct_ids from person %s to new person %s\n", len(moved), r.AbsorbedPersonID, r.SurvivorPersonID)
		}
		fmt.Fprintf(tw, "distinct_ids\t%s\n", clipList(moved, 20))
		fmt.Fprintf(tw, "identity_log\tpartition %d offset %d\n", r.LogPartition, r.LogOffset)
	}
	return tw.Flush()
}

func blockedNote(block bool) string {
	if block {
		return ", now blocked"
	}
	return ""
}

// clipList joins ids, the first n of them and how many more.
func clipList(ids []string, n int) string {
	if len(ids) <= n {
		return strings.Join(ids, ", ")
	}
	return strings.Join(ids[:n], ", ") + fmt.Sprintf(" … and %d more", len(ids)-n)
}
