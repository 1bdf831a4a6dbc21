package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/state"
)

func (c *cli) restoreCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "restore --from FILE [--state-dir DIR] [--format table|json]",
		Short: "Create a new instance's state from a snapshot file",
		Long: `restore loads a snapshot (resolver snapshot) into state.dir/identity, which
must not exist or be empty: it bootstraps a new instance without replaying
identity_log from the beginning. It checks that the loaded state has the
fingerprint and offsets the snapshot's header names, and removes what it wrote
if not. It loads beside the directory and moves the result into place only
once checked, so a restore that is killed leaves no partial state behind (run
it again; it removes what the killed one left). It reads the compressed snapshots resolver snapshot writes (format 2)
and the uncompressed ones of earlier versions (format 1).

Start the instance with resolver run and the same state.dir: its applier
continues from the snapshot's identity_log offsets, and it reports ready once it
has caught up with the log. Give it its own state.dir (and so its own
transactional id): a restored copy must not share a directory with the
instance it was taken from.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := getFormat(cmd, "table", "json")
			if err != nil {
				return err
			}
			from, _ := cmd.Flags().GetString("from")
			if from == "" {
				return &usageError{fmt.Errorf("%s: --from is required", cmd.CommandPath()), cmd.CommandPath()}
			}
			return c.withSetup(cmd, false, func(e env) error {
				sum, err := restoreSnapshot(e.cfg, from, e.log)
				if err != nil {
					return err
				}
				return sum.write(cmd.OutOrStdout(), format)
			})
		},
	}
	cmd.Flags().String("from", "", "snapshot file written by resolver snapshot")
	formatFlag(cmd, "table", "json")
	return cmd
}

// restoreSnapshot restores the snapshot in file into cfg's state dir and
// returns the summary of the restored state.
func restoreSnapshot(cfg Config, file string, log *zap.Logger) (stateSummary, error) {
	f, err := os.Open(file)
	if err != nil {
		return stateSummary{}, fmt.Errorf("restore: %w", err)
	}
	defer f.Close()
	dir := identityDir(cfg)
	st, h, err := state.Restore(dir, bufio.NewReaderSize(f, 1<<20), writingStateOptions(cfg, log))
	switch {
	case errors.Is(err, state.ErrNotEmpty):
		return stateSummary{}, fmt.Errorf("restore: %w: restore makes a new instance; choose a fresh --state-dir, or remove the old state first", err)
	case state.IsLocked(err):
		return stateSummary{}, lockedError(dir, "restore", err)
	case err != nil:
		return stateSummary{}, fmt.Errorf("restore %s into %s: %w", file, dir, err)
	}
	sum, err := summarize(st, dir)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return stateSummary{}, err
	}
	log.Info("snapshot restored", zap.String("file", file), zap.String("state_dir", dir), zap.Time("taken_at", h.CreatedAt))
	return sum, nil
}
