package state

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestOpenAfterCrashInLogCreation: a process killed after Badger created a
// write-ahead log file and before it sized it leaves the file empty, and
// Badger's own Open refuses the directory for good (dgraph-io/badger#2207;
// the kill test met it: "while opening memtables err: while opening fid:
// 2 err: Create a new file"). Open removes such files, says so, and the
// state is whole; a log that holds anything is left alone.
func TestOpenAfterCrashInLogCreation(t *testing.T) {
	for _, name := range []string{"00099.mem", "000099.vlog"} {
		t.Run(name, func(t *testing.T) {
			o := testOptions(t)
			s, dir := openTest(t, o)
			fp := writeReopenState(t, s)
			must(t, s.Close())

			empty := filepath.Join(dir, name)
			must(t, os.WriteFile(empty, nil, 0o644))
			// What the workaround is for: Badger alone cannot open it (in a
			// child process: Badger's failed Open leaks its goroutines).
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), badgerOpenEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("Badger opened a directory with an empty write-ahead log: if it handles them now (badger#2331), removeEmptyLogs can go\n%s", out)
			}
			if !strings.Contains(string(out), "Create a new file") {
				t.Fatalf("Badger's Open failed otherwise than expected: %v\n%s", err, out)
			}
			must(t, os.WriteFile(empty, nil, 0o644)) // Badger's failed Open sized it

			kept := filepath.Join(dir, "00098.mem.note") // not a log: left alone
			must(t, os.WriteFile(kept, nil, 0o644))
			core, logs := observer.New(zapcore.WarnLevel)
			o.Logger = zap.New(core)
			s, err = Open(dir, o)
			if err != nil {
				t.Fatalf("Open with an empty %s: %v", name, err)
			}
			defer s.Close()
			checkReopenState(t, s, fp)
			if _, err := os.Stat(kept); err != nil {
				t.Fatalf("a file that is not a log was touched: %v", err)
			}
			warned := logs.FilterMessageSnippet("empty write-ahead log").All()
			if len(warned) != 1 || warned[0].ContextMap()["file"] != name {
				t.Fatalf("warnings: %v", logs.All())
			}
			update(t, s, func(tx Tx) error { return tx.SetApplied(2, 43) }) // and it writes
		})
	}
}

func TestRemoveEmptyLogsKeepsNonEmpty(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"00001.mem": "x", "000001.vlog": "y", "00002.mem": "", "MANIFEST": "", "000003.sst": ""} {
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644))
	}
	must(t, os.Mkdir(filepath.Join(dir, "00004.mem"), 0o755)) // not a regular file
	removed, err := removeEmptyLogs(dir)
	must(t, err)
	if len(removed) != 1 || removed[0] != "00002.mem" {
		t.Fatalf("removed %v, want [00002.mem]", removed)
	}
	for _, name := range []string{"00001.mem", "000001.vlog", "MANIFEST", "000003.sst", "00004.mem"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// badgerOpenEnv names the directory TestMain opens with Badger alone, in a
// child process of TestOpenAfterCrashInLogCreation.
const badgerOpenEnv = "RESOLVER_STATE_TEST_BADGER_OPEN"

// badgerOpenChild opens dir with Badger alone and reports the outcome: 0
// if it opened, 1 (and the error on stderr) if not.
func badgerOpenChild(dir string) int {
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
	if err != nil {
		fmt.Fprintln(os.Stderr, "badger.Open:", err)
		return 1
	}
	db.Close()
	return 0
}
