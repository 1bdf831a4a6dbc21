package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/state"
)

// Sizes of TestDiskFullStopsCleanly. The instance's state.dir is a tmpfs of
// diskFS bytes holding a ballast file of diskBallast; with a floor of
// diskFloor the instance may write about diskFS-diskBallast-diskFloor (32
// MiB) before it must stop, less than the input needs (diskEvents events
// of ~100 KB of Badger writes each: the person and its outbox row); once
// the ballast is gone the rest fits. The floor exceeds what Badger writes
// at Close (the flush of a memtable of at most those 32 MiB).
const (
	diskFS      = 256 << 20
	diskBallast = 96 << 20
	diskFloor   = 128 << 20
	diskEvents  = 700
	diskBlob    = 48 << 10
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory, unmounted at
// cleanup, or skips the test where mounting is not permitted.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small-fs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	args := []string{"-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir}
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small filesystem for the state dir (`mount %s`: %v: %s); run as root, or in a container with CAP_SYS_ADMIN",
			strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		// Lazily: a killed process's files may still be closing.
		if out, err := exec.Command("umount", "-l", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// diskInput is the input: diskEvents events of distinct ids, each setting a
// random (incompressible) blob on its new person, and a few malformed
// records for the dead-letter topic.
func diskInput(t *testing.T) (recs []gen.Record, blobs map[string]string) {
	t.Helper()
	blobs = map[string]string{}
	for i := range diskEvents {
		raw := make([]byte, diskBlob*3/4)
		_, _ = rand.Read(raw)
		blob := base64.RawStdEncoding.EncodeToString(raw)
		did := fmt.Sprintf("disk-%04d", i)
		uuid := fmt.Sprintf("0190c1a2-0000-7000-8000-%012d", i)
		v := fmt.Sprintf(`{"uuid":%q,"event":"signed_up","distinct_id":%q,"token":"phc_disk","timestamp":"2026-11-28T10:00:00Z","properties":{"$set":{"blob":%q}}}`, uuid, did, blob)
		blobs[did] = blob
		recs = append(recs, gen.Record{Key: []byte("phc_disk:" + did), Value: []byte(v), Kind: "disk", UUID: uuid, DistinctID: did, Team: "phc_disk"})
		if i%100 == 50 {
			bad := fmt.Sprintf(`{"event":"broken %d"`, i)
			recs = append(recs, gen.Record{Key: []byte("phc_disk:"), Value: []byte(bad), Kind: "malformed", Reason: "invalid_json"})
		}
	}
	return recs, blobs
}

// stampedOut is what the test reads of a stamped event.
type stampedOut struct {
	UUID       string `json:"uuid"`
	DistinctID string `json:"distinct_id"`
	Team       string `json:"team"`
	PersonID   string `json:"person_id"`
	Props      struct {
		Blob string `json:"blob"`
	} `json:"person_properties"`
}

// TestDiskFullStopsCleanly is the fault test of issue 11: the state
// directory on a small filesystem that fills up. Before, Badger's writes
// into its memory-mapped WAL met a full tmpfs with SIGBUS and the process
// died inside Badger (seen with this test and state.min_free_bytes 0:
// "unexpected fault address", runtime.memmove in
// badger.(*logFile).writeEntry ← (*memTable).Put ← (*DB).writeToLSM, exit
// status 2). Now the instance stops with an error naming the
// directory, the free bytes and the floor (exit 1, not a signal); nothing
// was committed to events_person that its replica does not hold; and once
// space is given back the restarted instance resumes and accounts for
// every input record exactly once, stamped or dead-lettered.
func TestDiskFullStopsCleanly(t *testing.T) {
	c := newCluster(t, "diskfull", 5*time.Minute)
	root := mountTmpfs(t, diskFS)
	ballast := filepath.Join(root, "ballast")
	require.NoError(t, os.WriteFile(ballast, make([]byte, diskBallast), 0o644)) // written, so it occupies its pages
	stateDir := filepath.Join(root, "state")
	env := append(c.instanceEnv(stateDir), fmt.Sprintf("RESOLVER_STATE_MIN_FREE_BYTES=%d", diskFloor))

	recs, blobs := diskInput(t)
	col := c.collect()
	inst := c.start("instance", env, "run")
	t.Cleanup(func() { inst.kill(t) }) // before the unmount
	c.waitReady(inst)
	c.produce(recs)

	// 1. It stops on its own, with the error, not a signal.
	c.waitFor(nil, 120*time.Second, "the instance to stop on the full disk", inst.exited)
	var ee *exec.ExitError
	require.True(t, errors.As(inst.err, &ee), "exit: %v\n%s", inst.err, tail(inst.stderr.String(), 30))
	ws := ee.Sys().(syscall.WaitStatus)
	require.False(t, ws.Signaled(), "killed by %v\n%s", ws.Signal(), tail(inst.stderr.String(), 30))
	assert.Equal(t, exitFailure, ee.ExitCode())
	stderr := inst.stderr.String()
	t.Logf("the instance stopped (exit %d): %s", ee.ExitCode(), tail(stderr, 1))
	for _, fault := range []string{"signal SIGBUS", "unexpected fault address", "fatal error: fault", "panic:"} {
		assert.NotContains(t, stderr, fault)
	}
	assert.Contains(t, stderr, "disk almost full")
	assert.Contains(t, stderr, filepath.Join(stateDir, "identity"))
	assert.Contains(t, stderr, "state.min_free_bytes")
	assert.Contains(t, stderr, fmt.Sprintf("floor of %d bytes", diskFloor))
	assert.True(t, inst.hasLog("state disk below its free-space floor: stopping") || strings.Contains(stderr, "disk almost full"))

	// 2. What was committed before the stop is consistent with what the
	// replica wrote: each committed stamped event's person is in the
	// replica, with the blob its event set.
	committed := c.readAll("events_person")
	t.Logf("%d of %d events stamped and committed before the disk filled", len(committed), diskEvents)
	require.NotEmpty(t, committed, "nothing was processed before the disk filled: the test's sizes are off")
	require.Less(t, len(committed), diskEvents, "everything fit: the disk never filled; the test's sizes are off")
	st, err := state.Open(filepath.Join(stateDir, "identity"), state.Options{})
	require.NoError(t, err)
	for _, r := range committed {
		var s stampedOut
		require.NoError(t, json.Unmarshal(r.Value, &s))
		p, explicit, err := st.Find(s.Team, s.DistinctID)
		require.NoError(t, err)
		require.True(t, explicit, "%s: stamped and committed, but its person is not in the replica", s.DistinctID)
		assert.Equal(t, s.PersonID, p.ID.String(), s.DistinctID)
		assert.Equal(t, blobs[s.DistinctID], s.Props.Blob, "%s: stamped without its $set", s.DistinctID)
	}
	require.NoError(t, st.Close())

	// 3. Space back: the instance starts, resumes, and every input comes
	// out exactly once.
	require.NoError(t, os.Remove(ballast))
	inst2 := c.start("instance-2", env, "run")
	t.Cleanup(func() { inst2.kill(t) })
	c.waitReady(inst2)
	c.waitAll(col, recs, 120*time.Second)
	for _, r := range c.readAll("events_person") {
		var s stampedOut
		require.NoError(t, json.Unmarshal(r.Value, &s))
		assert.Equal(t, blobs[s.DistinctID], s.Props.Blob, "%s: stamped without its $set", s.DistinctID)
	}
	inst2.stop(t, 40*time.Second)
	sum := c.summary(stateDir)
	assert.Equal(t, c.logEnds(), sum.IdentityLog, "the replica applied the whole identity_log")
}
