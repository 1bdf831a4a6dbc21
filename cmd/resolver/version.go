package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/resolver-dev/resolver/internal/metrics"
)

// version and commit are set at link time by the release build:
//
//	go build -ldflags "-X main.version=1.4.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/resolver
//
// (the Dockerfile passes its VERSION and COMMIT build arguments so). Empty,
// they are read from the build info the go command embeds: the module's
// version ("(devel)" for a build of a checkout) and the VCS revision
// (vcs.revision, "-dirty" appended when vcs.modified), which a build
// outside a git checkout (a docker build context without .git) lacks.
var version, commit string

// unknown is the value of a field no source knows.
const unknown = "unknown"

// currentBuild is the build of this binary: the link-time values, else the
// embedded build info, else unknown.
func currentBuild() metrics.BuildInfo {
	bi, _ := debug.ReadBuildInfo()
	return buildFrom(version, commit, bi)
}

// buildFrom is currentBuild over given inputs (bi may be nil: a binary
// built without module support).
func buildFrom(ldVersion, ldCommit string, bi *debug.BuildInfo) metrics.BuildInfo {
	b := metrics.BuildInfo{Version: ldVersion, Commit: ldCommit, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		if b.Version == "" && bi.Main.Version != "" {
			b.Version = bi.Main.Version
		}
		if b.Commit == "" {
			var rev string
			dirty := false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
			if rev != "" && dirty {
				rev += "-dirty"
			}
			b.Commit = rev
		}
	}
	if b.Version == "" {
		b.Version = unknown
	}
	if b.Commit == "" {
		b.Commit = unknown
	}
	return b
}

// versionLine is the one line of `resolver --version`.
func versionLine(b metrics.BuildInfo) string {
	return fmt.Sprintf("resolver %s (commit %s, %s)", b.Version, b.Commit, b.GoVersion)
}

func (c *cli) versionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this binary",
		Long: `version prints what this binary was built from: its version and commit
(set at link time with -ldflags "-X main.version=... -X main.commit=...", as
the Dockerfile does from its VERSION and COMMIT build arguments; otherwise read
from the build information the go command embeds, "unknown" where it has
none) and the Go version it was built with. The same values are the labels of
the resolver_build_info metric. It reads no configuration.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, err := cmd.Flags().GetString("format")
			if err != nil {
				return err
			}
			b := currentBuild()
			switch format {
			case "text":
				fmt.Fprintf(c.stdout, "version:    %s\ncommit:     %s\ngo version: %s\n", b.Version, b.Commit, b.GoVersion)
			case "json":
				out, err := json.Marshal(map[string]string{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion})
				if err != nil {
					return err
				}
				fmt.Fprintf(c.stdout, "%s\n", out)
			default:
				return &usageError{fmt.Errorf("%s: --format %q: must be text or json", cmd.CommandPath(), format), cmd.CommandPath()}
			}
			return nil
		},
	}
	cmd.Flags().String("format", "text", "text or json")
	return cmd
}

// setVersion makes `resolver --version` print versionLine.
func setVersion(root *cobra.Command) {
	b := currentBuild()
	root.Version = b.Version
	root.SetVersionTemplate(strings.ReplaceAll(versionLine(b), "{", "{{`{`}}") + "\n")
}
