//go:build unix

package state

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
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
	ref := newKillRef()
	defer ref.close()
	rng := rand.New(rand.NewPCG(3, 4))
	kills := 40
	if v, err := strconv.Atoi(os.Getenv("STATE_KILL_TEST_KILLS")); err == nil && v > 0 {
		kills = v // more, to hunt for crash windows: STATE_KILL_TEST_KILLS=1000
	}
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(core)
	for k := range kills {
		cmd, out, stderr := startKillWriter(t, dir)
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
		err := cmd.Wait()
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
		require.Equal(t, ref.at(t, n), fingerprint(t, s), "kill %d: the store after %d ops", k, n)
		require.NoError(t, s.Close())
	}
	require.Greater(t, ref.applied, 1000, "the writer got far enough to rotate memtables")
	t.Logf("%d kills, %d ops applied; empty write-ahead logs removed on %d reopens", kills, ref.applied,
		logs.FilterMessageSnippet("empty write-ahead log").Len())
}

// startKillWriter starts the killed writer (killWriterChild) on dir, with
// its stdout to read and its stderr collected.
func startKillWriter(t *testing.T, dir string) (*exec.Cmd, io.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killWriterEnv+"="+dir)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	return cmd, out, stderr
}

// crashImage leaves in dir a store as a writer killed mid-stream leaves it:
// the killed writer has applied at least ops ops (its tables, and
// memtables not yet flushed).
func crashImage(t *testing.T, dir string, ops int) {
	t.Helper()
	cmd, out, stderr := startKillWriter(t, dir)
	sc := bufio.NewScanner(out)
	reached := false
	for !reached && sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		reached = err == nil && n >= ops
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	require.True(t, reached, "the writer stopped before %d ops: %s", ops, stderr.String())
}

// TestWipeOrder: memtable logs newest first (by number, not name), then the
// MANIFEST, then the rest.
func TestWipeOrder(t *testing.T) {
	got := wipeOrder([]string{"000001.sst", "DISCARD", "MANIFEST", "00009.mem", "000002.vlog", "100000.mem", "00010.mem", "KEYREGISTRY", "x.mem"})
	require.Equal(t, []string{"100000.mem", "00010.mem", "00009.mem", "MANIFEST", "000001.sst", "000002.vlog", "DISCARD", "KEYREGISTRY", "x.mem"}, got)
}

// TestWipeKilledAtAnyStep: a wipe (resolver rebuild's first step) killed
// after any file it deletes leaves a directory that opens — as the state it
// was wiping, less its newest transactions, or as an empty one — and holds
// exactly the ops before its applied offset. It wipes copies of a killed
// writer's store (tables and unflushed memtables), stopping after 0, 1, 2,
// … of its deletions.
func TestWipeKilledAtAnyStep(t *testing.T) {
	image := t.TempDir()
	// 40,000 ops are eight or more 1 MiB memtables: more than Badger keeps
	// in memory (five), so some are tables however slow its flushes.
	crashImage(t, image, 40_000)
	entries, err := os.ReadDir(image)
	require.NoError(t, err)
	var names []string
	mems, tables := 0, 0
	for _, e := range entries {
		if e.Name() == lockName {
			continue
		}
		names = append(names, e.Name())
		switch filepath.Ext(e.Name()) {
		case ".mem":
			mems++
		case ".sst":
			tables++
		}
	}
	require.Positive(t, tables, "the writer flushed memtables into tables: %v", names)
	require.Positive(t, mems, "the image has a memtable log: %v", names)
	order := wipeOrder(names)
	img := readSparse(t, image)

	ref := newKillRef()
	defer ref.close()
	empty := ref.at(t, 0)
	// From the most removed to the least, so the reference only moves on.
	for k := len(order); k >= 0; k-- {
		dir := filepath.Join(t.TempDir(), "identity")
		img.write(t, dir)
		for _, name := range order[:k] {
			require.NoError(t, os.RemoveAll(filepath.Join(dir, name)))
		}
		s, err := Open(dir, killWriterOptions())
		require.NoError(t, err, "a wipe killed after %d of %d deletions (%v)", k, len(order), order[:k])
		offs, err := s.AppliedOffsets()
		require.NoError(t, err)
		if n, ok := offs[0]; ok {
			require.Equal(t, ref.at(t, int(n)), fingerprint(t, s), "after %d deletions: the state at offset %d", k, n)
		} else {
			require.Equal(t, empty, fingerprint(t, s), "after %d deletions: no offset, so an empty state", k)
		}
		require.NoError(t, s.Close())
	}
	require.GreaterOrEqual(t, ref.applied, 40_000, "the whole image is the state after its offset")
}

// sparseImage is a directory's files as their written parts: a killed
// Badger leaves its logs at their full mapped size (the value log at 2 GiB),
// almost all of it zeros never written.
type sparseImage []sparseFile

type sparseFile struct {
	name   string
	size   int64
	chunks []sparseChunk
}

type sparseChunk struct {
	off  int64
	data []byte
}

// readSparse reads the files of dir, keeping only their chunks that are
// not all zeros.
func readSparse(t *testing.T, dir string) sparseImage {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var img sparseImage
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		f := sparseFile{name: e.Name()}
		for {
			n, err := io.ReadFull(in, buf)
			if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
				f.chunks = append(f.chunks, sparseChunk{off: f.size, data: bytes.Clone(buf[:n])})
			}
			f.size += int64(n)
			if err != nil {
				break
			}
		}
		require.NoError(t, in.Close())
		img = append(img, f)
	}
	return img
}

// write makes the image's files in a new dir, with holes for the zeros.
func (img sparseImage) write(t *testing.T, dir string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, f := range img {
		out, err := os.Create(filepath.Join(dir, f.name))
		require.NoError(t, err)
		for _, c := range f.chunks {
			_, err := out.WriteAt(c.data, c.off)
			require.NoError(t, err)
		}
		require.NoError(t, errors.Join(out.Truncate(f.size), out.Close()))
	}
}
