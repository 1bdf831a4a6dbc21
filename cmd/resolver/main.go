package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	setGCPercent()
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// execute runs the command line args and returns the process exit code (see
// errors.go): 0 on success and on a clean shutdown after a signal, 2 for an
// invalid config or command line, 1 for anything else. Errors go to stderr.
// Tests call it in-process.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, exit: os.Exit, openState: openState}
	return c.execute(ctx, args)
}

// cli is what every command shares: where it writes, and the seams that
// tests replace.
type cli struct {
	stdout, stderr io.Writer
	// exit ends the process at once; called on a second signal.
	exit func(code int)
	// openState opens the identity state of `resolver run`; the real one is
	// in wire.go.
	openState openStateFunc
}

func (c *cli) execute(ctx context.Context, args []string) int {
	root := c.rootCmd()
	root.SetArgs(args)
	root.SetOut(c.stdout)
	root.SetErr(c.stderr)
	err := root.ExecuteContext(ctx)
	if err != nil {
		c.printError(err)
	}
	return exitCode(err)
}

// printError writes err to stderr, one "resolver: " line per joined error,
// and for a bad command line a hint where the usage is.
func (c *cli) printError(err error) {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		if line != "" {
			fmt.Fprintf(c.stderr, "resolver: %s\n", line)
		}
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "Run '%s --help' for usage.\n", ue.command)
	}
}

// noArgs is cobra.NoArgs returning a *usageError.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("%s: unexpected argument %q", cmd.CommandPath(), args[0]), cmd.CommandPath()}
	}
	return nil
}
