//go:build unix

package state

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestKilledWriterReopens SIGKILLs a process that writes a store — during
// Badger's Open, mid-write, across memtable rotations — 40 times
// (STATE_KILL_TEST_KILLS sets how many): every other one a random moment
// after it starts, the others after a random number of its writes. It
// reopens the store after each kill: the store must
// open (the kill test once met a store Badger would not open again,
// emptylogs.go), and hold exactly the ops before its applied offset, as a
// store that applied only those has them (an Update and its offset are
// one transaction).
func TestKilledWriterReopens(t *testing.T) {
	dir := t.TempDir()
	ref := NewMemory()
	defer ref.Close()
	var g unionfind.Graph
	applied := 0
	rng := rand.New(rand.NewPCG(3, 4))
	kills := 40
	if v, err := strconv.Atoi(os.Getenv("STATE_KILL_TEST_KILLS")); err == nil && v > 0 {
		kills = v // more, to hunt for crash windows: STATE_KILL_TEST_KILLS=1000
	}
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(core)
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), killWriterEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		// The writer prints how many ops it has applied since it started,
		// every killProgressOps.
		progress := make(chan int, 1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if n, err := strconv.Atoi(sc.Text()); err == nil {
					select {
					case <-progress:
					default:
					}
					progress <- n
				}
			}
		}()
		if k%2 == 0 {
			// Within Badger's Open, or soon after.
			time.Sleep(time.Duration(rng.IntN(30_000)) * time.Microsecond)
		} else {
			// Among the writes, once there have been some however slow the
			// build (-race): a memtable holds a few hundred ops.
			want := 200 + rng.IntN(600)
			deadline := time.After(time.Minute)
		wait:
			for {
				select {
				case n := <-progress:
					if n >= want {
						break wait
					}
				case <-done:
					t.Fatalf("kill %d: the writer stopped by itself: %s", k, stderr.String())
				case <-deadline:
					t.Fatalf("kill %d: the writer made no progress in a minute: %s", k, stderr.String())
				}
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		<-done
		err = cmd.Wait()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "kill %d: the writer stopped by itself: %s", k, stderr.String())
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("kill %d: the writer exited (%v) before the kill: %s", k, err, stderr.String())
		}

		o := killWriterOptions()
		o.Logger = log
		s, err := Open(dir, o)
		require.NoError(t, err, "reopen after kill %d", k)
		offs, err := s.AppliedOffsets()
		require.NoError(t, err)
		n := int(offs[0])
		require.GreaterOrEqual(t, n, applied, "kill %d: the applied offset went back", k)
		update(t, ref.Store, func(tx Tx) error {
			for ; applied < n; applied++ {
				op := killOp(applied)
				if _, err := g.Apply(tx, &op); err != nil {
					return err
				}
			}
			return tx.SetApplied(0, int64(n))
		})
		require.Equal(t, fingerprint(t, ref.Store), fingerprint(t, s), "kill %d: the store after %d ops", k, n)
		require.NoError(t, s.Close())
	}
	require.Greater(t, applied, 1000, "the writer got far enough to rotate memtables")
	t.Logf("%d kills, %d ops applied; empty write-ahead logs removed on %d reopens", kills, applied,
		logs.FilterMessageSnippet("empty write-ahead log").Len())
}
