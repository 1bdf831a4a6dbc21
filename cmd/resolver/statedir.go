package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/resolver-dev/resolver/pkg/state"
)

// The offline commands — fingerprint, lookup, rebuild, snapshot, restore —
// work on the Badger directory of a stopped instance. Badger allows one
// process per directory, so each of them refuses a directory a running
// resolver holds, saying so.

// identityDir is where an instance keeps its replica: <state.dir>/identity.
func identityDir(cfg Config) string { return filepath.Join(cfg.State.Dir, "identity") }

// stateOptions are the store options of an offline command. Badger narrates
// every open and close at info level; a command wants only its warnings.
func stateOptions(cfg Config, log *zap.Logger) state.Options {
	o := cfg.State.storeOptions()
	o.Logger = log.Named("state").WithOptions(zap.IncreaseLevel(zapcore.WarnLevel))
	return o
}

// storeOptions are the store options every command takes from the state.*
// keys (validated): `run`, the offline commands and `bench` open their
// stores with them, so a new key is added here once.
func (sc StateConfig) storeOptions() state.Options {
	return state.Options{
		CacheBytes:  sc.CacheBytes,
		SyncWrites:  sc.SyncWrites,
		Compression: state.Compression(sc.Compression),
		BlockBytes:  sc.BlockBytes,
	}
}

// writingStateOptions are stateOptions with the free-space floor
// (state.min_free_bytes), for the commands that write much (rebuild,
// restore): they stop with an error on a full disk instead of dying in
// Badger. Reading commands go without it, so that a stopped instance's
// state on a full disk can still be looked at.
func writingStateOptions(cfg Config, log *zap.Logger) state.Options {
	o := stateOptions(cfg, log)
	o.MinFreeBytes = uint64(max(cfg.State.MinFreeBytes, 0))
	return o
}

// lockedError explains a state directory that another process holds.
func lockedError(dir, command string, err error) error {
	return fmt.Errorf("state directory %s is locked by another process, most likely a running resolver: "+
		"`resolver %s` works on a stopped instance's state; stop that instance first (%w)", dir, command, err)
}

// openStoppedState opens the existing replica of cfg for command. A missing
// directory is an error (opening would create an empty state and report on
// nothing); so is one held by a running instance.
func openStoppedState(cfg Config, command string, log *zap.Logger) (*state.Store, string, error) {
	dir := identityDir(cfg)
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, dir, fmt.Errorf("no resolver state in %s (state.dir %s): has a resolver run with this state.dir?", dir, cfg.State.Dir)
		}
		return nil, dir, fmt.Errorf("state directory %s: %w", dir, err)
	}
	st, err := state.Open(dir, stateOptions(cfg, log))
	if err != nil {
		if state.IsLocked(err) {
			return nil, dir, lockedError(dir, command, err)
		}
		return nil, dir, fmt.Errorf("open state %s: %w", dir, err)
	}
	return st, dir, nil
}

// formatFlag adds --format with the given choices, the first the default.
func formatFlag(cmd *cobra.Command, choices ...string) {
	usage := "output format: " + choices[0]
	for i, c := range choices[1:] {
		if i == len(choices)-2 {
			usage += " or " + c
		} else {
			usage += ", " + c
		}
	}
	cmd.Flags().String("format", choices[0], usage)
}

// getFormat reads --format and checks it is one of choices (a *usageError
// otherwise).
func getFormat(cmd *cobra.Command, choices ...string) (string, error) {
	f, err := cmd.Flags().GetString("format")
	if err != nil {
		return "", err
	}
	for _, c := range choices {
		if f == c {
			return f, nil
		}
	}
	return "", &usageError{fmt.Errorf("--format %q: want one of %v", f, choices), cmd.CommandPath()}
}
