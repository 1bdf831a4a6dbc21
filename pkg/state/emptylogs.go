package state

import (
	"fmt"
	"os"
	"path/filepath"
)

// Badger creates each write-ahead log file — a memtable's (NNNNN.mem) or a
// value log's (NNNNNN.vlog) — empty and only then sizes it and writes its
// header. A process killed between the two leaves a file of 0 bytes, and
// Badger's Open treats such a file as fatal: "while opening memtables err:
// while opening fid: N err: Create a new file" (dgraph-io/badger#2207, fix
// proposed in #2331, not released in v4.9.6). A replica killed during
// start-up or a memtable rotation — SIGKILL, the OOM killer, a node lost —
// would then refuse to start until someone removed the file by hand; the
// kill test (TestClusterKill9) met it once in about a dozen runs.
//
// An empty log holds no entry, so Open removes it before Badger opens the
// directory (under the Store's lock, so never a log a running Store is
// creating): nothing is lost, and Badger makes the file again when it
// needs that number.

// removeEmptyLogs removes the empty write-ahead log files in dir and
// returns their names.
func removeEmptyLogs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("state: list %s: %w", dir, err)
	}
	var removed []string
	for _, e := range entries {
		// The write-ahead logs Badger cannot open empty.
		if ext := filepath.Ext(e.Name()); !e.Type().IsRegular() || ext != ".mem" && ext != ".vlog" {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return removed, fmt.Errorf("state: stat %s: %w", filepath.Join(dir, e.Name()), err)
		}
		if fi.Size() != 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
			return removed, fmt.Errorf("state: remove the empty write-ahead log %s: %w", filepath.Join(dir, e.Name()), err)
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}
