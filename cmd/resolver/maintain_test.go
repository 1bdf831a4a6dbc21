package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/internal/metrics"
	"github.com/resolver-dev/resolver/pkg/state"
)

// diskFake is a maintainedStore whose free space the test sets.
type diskFake struct {
	free atomic.Uint64
	gcs  atomic.Int64
}

const diskFakeFloor = 1 << 20

func (d *diskFake) DiskHealth() error {
	if f := d.free.Load(); f < diskFakeFloor {
		return &state.DiskFullError{Dir: "/state/identity", Free: f, Floor: diskFakeFloor}
	}
	return nil
}
func (d *diskFake) DiskFree() (uint64, bool) { return d.free.Load(), true }
func (d *diskFake) ValueLogGC(float64) (state.GCResult, error) {
	d.gcs.Add(1)
	return state.GCResult{Rewrites: 1, Reclaimed: 4096}, nil
}

// TestMaintain: value log GC runs on its interval (and is counted), the
// free space is read every second, and a disk below its floor is reported
// once and ends maintain.
func TestMaintain(t *testing.T) {
	d := &diskFake{}
	d.free.Store(1 << 30)
	m := metrics.New(metrics.Config{})
	var reported []error
	var mu sync.Mutex
	done := make(chan struct{})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	sc := StateConfig{MinFreeBytes: diskFakeFloor, ValueLogGCInterval: 20 * time.Millisecond, ValueLogGCDiscardRatio: 0.5}
	go func() {
		defer close(done)
		maintain(ctx, sc, d, m, zaptest.NewLogger(t), func(err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		})
	}()
	wait(t, 10*time.Second, "two value log GCs", func() bool { return d.gcs.Load() >= 2 })
	d.free.Store(10)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("maintain did not end on a full disk")
	}
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, reported, 1)
	assert.True(t, state.IsDiskFull(reported[0]))
}

// diskStore is the fake store of run's tests that also reports its disk.
type diskStore struct {
	fakeStore
	*diskFake
}

// TestRunStopsOnFullDisk: when the disk of state.dir falls below its floor
// while the pipeline runs (taken by something else: the pipeline has not
// written), run stops the pipeline, closes the state and returns the disk
// error (exit 1), which names the directory, the free bytes and the floor.
func TestRunStopsOnFullDisk(t *testing.T) {
	f := newFakeBackend()
	d := &diskFake{}
	d.free.Store(1 << 30)
	c := testCLI(t, f)
	c.openState = func(dir string, sc StateConfig, log *zap.Logger) (stateStore, error) {
		st, err := f.open(dir, sc, log)
		if err != nil {
			return nil, err
		}
		return diskStore{st.(fakeStore), d}, nil
	}
	cfg := testConfig(t)
	cfg.State.MinFreeBytes = diskFakeFloor
	errc := make(chan error, 1)
	go func() { errc <- c.runResolver(t.Context(), cfg, zaptest.NewLogger(t)) }()
	select {
	case <-f.started:
	case err := <-errc:
		t.Fatalf("run returned before the pipeline started: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("pipeline did not start")
	}
	d.free.Store(4096)
	var err error
	select {
	case err = <-errc:
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop on the full disk")
	}
	require.Error(t, err)
	var de *state.DiskFullError
	require.True(t, errors.As(err, &de), "%v", err)
	assert.Contains(t, err.Error(), "/state/identity")
	assert.Contains(t, err.Error(), "4096 bytes free")
	assert.Equal(t, exitFailure, exitCode(err))
	assert.Equal(t, []string{"open state identity", "build pipeline", "pipeline running", "pipeline stopped", "close state"}, f.Events())
}
