package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
)

func (c *cli) snapshotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot --out FILE [--state-dir DIR] [--format table|json]",
		Short: "Copy a stopped instance's state to a file that restore can start a new instance from",
		Long: `snapshot writes the replica in state.dir/identity of a stopped instance to
FILE: a header in plain text (head -2 FILE shows the format, the fingerprint,
the content digest and the applied identity_log and billing_usage offsets)
followed by a zstd-compressed Badger backup of every key, which carries the
same offsets. A new instance restored from it (resolver restore) continues
applying identity_log from those offsets instead of replaying it from the
beginning.

FILE is written under a temporary name and renamed when complete; an existing
FILE is refused. The summary of the state is printed as fingerprint prints it.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := getFormat(cmd, "table", "json")
			if err != nil {
				return err
			}
			out, _ := cmd.Flags().GetString("out")
			if out == "" {
				return &usageError{fmt.Errorf("%s: --out is required", cmd.CommandPath()), cmd.CommandPath()}
			}
			return c.withSetup(cmd, false, func(e env) error {
				sum, err := takeSnapshot(e.cfg, out, e.log)
				if err != nil {
					return err
				}
				return sum.write(cmd.OutOrStdout(), format)
			})
		},
	}
	cmd.Flags().String("out", "", "file to write the snapshot to (must not exist)")
	formatFlag(cmd, "table", "json")
	return cmd
}

// takeSnapshot writes the snapshot of cfg's stopped replica to out and
// returns the summary of the state it holds.
func takeSnapshot(cfg Config, out string, log *zap.Logger) (stateSummary, error) {
	if _, err := os.Lstat(out); err == nil {
		return stateSummary{}, fmt.Errorf("snapshot: %s exists; remove it or choose another --out", out)
	} else if !errors.Is(err, os.ErrNotExist) {
		return stateSummary{}, fmt.Errorf("snapshot: %w", err)
	}
	st, dir, err := openStoppedState(cfg, "snapshot", log)
	if err != nil {
		return stateSummary{}, err
	}
	defer st.Close()

	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return stateSummary{}, fmt.Errorf("snapshot: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) (stateSummary, error) {
		f.Close()
		os.Remove(tmp)
		return stateSummary{}, err
	}
	h, err := st.Snapshot(f)
	if err != nil {
		return fail(fmt.Errorf("snapshot of %s: %w", dir, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("snapshot: %w", err))
	}
	if err := f.Close(); err != nil {
		return fail(fmt.Errorf("snapshot: %w", err))
	}
	// Link rather than rename: it fails if out appeared meanwhile.
	if err := os.Link(tmp, out); err != nil {
		os.Remove(tmp)
		return stateSummary{}, fmt.Errorf("snapshot: %w", err)
	}
	os.Remove(tmp)
	if err := st.Close(); err != nil {
		return stateSummary{}, err
	}
	info, _ := os.Stat(out)
	log.Info("snapshot written", zap.String("file", out), zap.String("state_dir", dir), zap.Int64("bytes", info.Size()))
	return stateSummary{StateDir: dir, Fingerprint: h.Fingerprint, ContentDigest: h.ContentDigest, IdentityLog: h.IdentityLog, BillingUsage: h.BillingUsage}, nil
}
