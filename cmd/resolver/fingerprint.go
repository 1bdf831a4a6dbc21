package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/resolver-dev/resolver/pkg/state"
)

func (c *cli) fingerprintCmd() *cobra.Command {
	var rows bool
	cmd := &cobra.Command{
		Use:   "fingerprint [--state-dir DIR] [--rows] [--format table|json]",
		Short: "Print the state fingerprint and applied log offsets of a stopped instance",
		Long: `fingerprint reads the replica in state.dir/identity of a stopped instance and
prints:

  fingerprint     SHA-256 of the whole identity state, byte for byte. Replicas
                  of one identity_log that applied it to the same offsets have
                  equal fingerprints.
  content_digest  SHA-256 of what the state says — every distinct_id's person,
                  every live person's created_at, is_identified and property
                  values — without versions or property times. Two runs over
                  the same input compare by it: their logs interleave the
                  partitions differently, which changes versions, not persons.
  identity_log    the next offset to apply per partition (what was applied)
  billing_usage   the next offset to fold per partition (billing view)

With --rows it also counts the replica's rows by kind (mappings, members,
persons, lineage rows, lineage index, outbox, …): rows, and the bytes of
their keys and values as written, before Badger's own overhead. It reads
every row: on a large replica that takes minutes.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := getFormat(cmd, "table", "json")
			if err != nil {
				return err
			}
			return c.withSetup(cmd, false, func(e env) error {
				st, dir, err := openStoppedState(e.cfg, "fingerprint", e.log)
				if err != nil {
					return err
				}
				sum, err := summarize(st, dir)
				if err == nil && rows {
					if sum.Rows, err = st.RowStats(); err != nil {
						err = fmt.Errorf("rows of %s: %w", dir, err)
					}
				}
				if cerr := st.Close(); err == nil && cerr != nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				return sum.write(cmd.OutOrStdout(), format)
			})
		},
	}
	formatFlag(cmd, "table", "json")
	cmd.Flags().BoolVar(&rows, "rows", false, "also count the rows by kind, with their key and value bytes (reads every row)")
	return cmd
}

// stateSummary is what fingerprint, rebuild, snapshot and restore print
// about a replica.
type stateSummary struct {
	StateDir      string          `json:"state_dir"`
	Fingerprint   string          `json:"fingerprint"`
	ContentDigest string          `json:"content_digest"`
	IdentityLog   map[int32]int64 `json:"identity_log"`
	BillingUsage  map[int32]int64 `json:"billing_usage"`
	// Rows: fingerprint --rows only.
	Rows []state.RowKind `json:"rows,omitempty"`
}

// summarize reads the summary of an open replica.
func summarize(st *state.Store, dir string) (stateSummary, error) {
	s := stateSummary{StateDir: dir}
	var err error
	if s.Fingerprint, err = st.Fingerprint(); err != nil {
		return s, fmt.Errorf("fingerprint of %s: %w", dir, err)
	}
	if s.ContentDigest, err = st.ContentDigest(); err != nil {
		return s, fmt.Errorf("content digest of %s: %w", dir, err)
	}
	if s.IdentityLog, err = st.AppliedOffsets(); err != nil {
		return s, fmt.Errorf("applied offsets of %s: %w", dir, err)
	}
	if s.BillingUsage, err = st.BillingOffsets(); err != nil {
		return s, fmt.Errorf("billing offsets of %s: %w", dir, err)
	}
	return s, nil
}

// write prints the summary as aligned lines or as one JSON object.
func (s stateSummary) write(w io.Writer, format string) error {
	if format == "json" {
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "state_dir\t%s\n", s.StateDir)
	fmt.Fprintf(tw, "fingerprint\t%s\n", s.Fingerprint)
	fmt.Fprintf(tw, "content_digest\t%s\n", s.ContentDigest)
	fmt.Fprintf(tw, "identity_log\t%s\n", formatOffsets(s.IdentityLog))
	fmt.Fprintf(tw, "billing_usage\t%s\n", formatOffsets(s.BillingUsage))
	if err := tw.Flush(); err != nil || len(s.Rows) == 0 {
		return err
	}
	return writeRows(w, s.Rows)
}

// writeRows prints the rows by kind as a table, with a total line and
// each kind's share of the bytes.
func writeRows(w io.Writer, kinds []state.RowKind) error {
	var rows, bytes int64
	for _, k := range kinds {
		rows += k.Rows
		bytes += k.KeyBytes + k.ValueBytes
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\nkind\ttag\trows\tkey bytes\tvalue bytes\tshare of bytes\t\n")
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%.1f%%\t\n", k.Kind, k.Tag, k.Rows, k.KeyBytes, k.ValueBytes,
			100*float64(k.KeyBytes+k.ValueBytes)/float64(max(bytes, 1)))
	}
	fmt.Fprintf(tw, "all\t\t%d\t\t\t%d bytes\t\n", rows, bytes)
	return tw.Flush()
}

// formatOffsets writes next offsets as "partition:offset …" in partition
// order, with their sum: "42 (0:20 1:22)".
func formatOffsets(m map[int32]int64) string {
	if len(m) == 0 {
		return "nothing applied"
	}
	parts := make([]int32, 0, len(m))
	var total int64
	for p, o := range m {
		parts = append(parts, p)
		total += o
	}
	slices.Sort(parts)
	var b strings.Builder
	b.WriteString(strconv.FormatInt(total, 10))
	b.WriteString(" (")
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%d", p, m[p])
	}
	b.WriteByte(')')
	return b.String()
}
