package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// fakeBackend stands in for pkg/state and the pipeline, recording what the
// run command does to them and in which order.
type fakeBackend struct {
	// run is the pipeline's Run; default: block until ctx is done.
	run     func(ctx context.Context) error
	openErr error

	mu      sync.Mutex
	events  []string
	cfg     stream.Config
	started chan struct{}
	// brokerUpAtClose: the embedded broker still answered when the state
	// was closed.
	brokerUpAtClose bool
}

func newFakeBackend() *fakeBackend { return &fakeBackend{started: make(chan struct{})} }

func (f *fakeBackend) record(e string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, e)
}

func (f *fakeBackend) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

func (f *fakeBackend) open(dir string, _ StateConfig, _ *zap.Logger) (stateStore, error) {
	if f.openErr != nil {
		return nil, f.openErr
	}
	f.record("open state " + filepath.Base(dir))
	return fakeStore{f}, nil
}

type fakeStore struct{ f *fakeBackend }

func (s fakeStore) Pipeline(cfg stream.Config, _ *zap.Logger) (pipeline, error) {
	s.f.mu.Lock()
	s.f.cfg = cfg
	s.f.mu.Unlock()
	s.f.record("build pipeline")
	return fakePipeline(s), nil
}

func (s fakeStore) Close() error {
	s.f.mu.Lock()
	brokers := s.f.cfg.Kafka.Brokers
	s.f.mu.Unlock()
	if len(brokers) > 0 {
		if c, err := net.DialTimeout("tcp", brokers[0], time.Second); err == nil {
			c.Close()
			s.f.mu.Lock()
			s.f.brokerUpAtClose = true
			s.f.mu.Unlock()
		}
	}
	s.f.record("close state")
	return nil
}

type fakePipeline struct{ f *fakeBackend }

func (p fakePipeline) Run(ctx context.Context) error {
	p.f.record("pipeline running")
	close(p.f.started)
	var err error
	if p.f.run != nil {
		err = p.f.run(ctx)
	} else {
		<-ctx.Done()
	}
	p.f.record("pipeline stopped")
	return err
}

func testConfig(t *testing.T) Config {
	return defaultConfigWith(func(c *Config) {
		c.State.Dir = t.TempDir()
		c.Kafka.Embedded.Listen = "127.0.0.1:0"
		c.Admin.Addr = "127.0.0.1:0" // never the default port: other tests and instances use it
		c.Stream.ShutdownTimeout = 10 * time.Second
	})
}

func testCLI(t *testing.T, f *fakeBackend) *cli {
	return &cli{
		stdout:    &syncBuffer{},
		stderr:    &syncBuffer{},
		exit:      func(code int) { t.Errorf("exit(%d) called", code) },
		openState: f.open,
	}
}

// TestRunCommand runs `resolver run` in-process on the embedded broker with
// a fake pipeline: the broker is started, every topic created, the state
// opened in <state.dir>/identity; on cancel the pipeline stops, then the
// state closes (the broker still up), then the broker; exit code 0.
func TestRunCommand(t *testing.T) {
	f := newFakeBackend()
	c := testCLI(t, f)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- c.execute(ctx, []string{"run", "--state-dir", dir, "--embedded-listen", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-level", "debug"})
	}()
	select {
	case <-f.started:
	case code := <-done:
		t.Fatalf("run exited with %d before the pipeline started; stderr:\n%s", code, c.stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("pipeline did not start")
	}

	f.mu.Lock()
	cfg := f.cfg
	f.mu.Unlock()
	require.Len(t, cfg.Kafka.Brokers, 1)
	addr := cfg.Kafka.Brokers[0]
	topics := listTopics(t, addr)
	for _, name := range stream.DefaultTopics().All() {
		parts := 8
		if name == stream.DefaultTopics().Commands {
			parts = 1 // stream.SinglePartition
		}
		assert.Equal(t, parts, topics[name], "topic %s", name)
	}
	assert.DirExists(t, filepath.Join(dir, "broker"))
	id, err := defaultConfigWith(func(c *Config) { c.State.Dir = dir }).InstanceID()
	require.NoError(t, err)
	assert.Equal(t, "resolver-"+id, cfg.TransactionalID)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, exitOK, code, "stderr:\n%s", c.stderr)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop")
	}
	assert.Equal(t, []string{"open state identity", "build pipeline", "pipeline running", "pipeline stopped", "close state"}, f.Events())
	assert.True(t, f.brokerUpAtClose, "broker closed before the state")
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "broker still listening after run returned")
	for _, want := range []string{"embedded broker started", "created missing topic", "shutting down", "stopped cleanly"} {
		assert.Contains(t, c.stderr.(*syncBuffer).String(), want)
	}
}

// TestRunPipelineFails: a fatal pipeline error still closes the state and
// the broker, and exits 1.
func TestRunPipelineFails(t *testing.T) {
	f := newFakeBackend()
	f.run = func(context.Context) error { return errors.New("boom") }
	c := testCLI(t, f)
	err := c.runResolver(t.Context(), testConfig(t), zaptest.NewLogger(t))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pipeline: boom")
	assert.Equal(t, exitFailure, exitCode(err))
	assert.Equal(t, []string{"open state identity", "build pipeline", "pipeline running", "pipeline stopped", "close state"}, f.Events())
}

// TestRunShutdownTimeout: a pipeline that does not stop within
// stream.shutdown_timeout makes run give up with an error naming the key;
// the state is not closed under it.
func TestRunShutdownTimeout(t *testing.T) {
	f := newFakeBackend()
	release := make(chan struct{})
	f.run = func(context.Context) error { <-release; return nil }
	c := testCLI(t, f)
	cfg := testConfig(t)
	cfg.Stream.ShutdownTimeout = 200 * time.Millisecond
	// The abandoned broker close goes on after run returns: the state dir
	// is removed once it has finished, not by t.TempDir.
	dir, err := os.MkdirTemp("", "resolver-run-timeout-")
	require.NoError(t, err)
	t.Cleanup(func() {
		wait(t, 10*time.Second, "removing "+dir, func() bool { return os.RemoveAll(dir) == nil })
	})
	cfg.State.Dir = dir
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.runResolver(ctx, cfg, zaptest.NewLogger(t)) }()
	<-f.started
	start := time.Now()
	cancel()
	err = <-done
	elapsed := time.Since(start)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "stream.shutdown_timeout")
	assert.Equal(t, exitFailure, exitCode(err))
	assert.Less(t, elapsed, 5*time.Second)
	assert.NotContains(t, f.Events(), "close state")
	close(release)
	wait(t, 5*time.Second, "the fake pipeline to return", func() bool {
		return slicesContains(f.Events(), "pipeline stopped")
	})
}

// TestRunOpenStateFails: an error opening the state (here: locked) is
// returned as it is, after closing the broker; exit 1.
func TestRunOpenStateFails(t *testing.T) {
	f := newFakeBackend()
	f.openErr = errors.New("state directory /x/identity is locked by another process")
	c := testCLI(t, f)
	cfg := testConfig(t)
	err := c.runResolver(t.Context(), cfg, zaptest.NewLogger(t))
	require.ErrorIs(t, err, f.openErr)
	assert.Equal(t, exitFailure, exitCode(err))
	// The broker was closed: its data dir can be opened again.
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(cfg.State.Dir, "broker")})
	require.NoError(t, err, "broker data dir still in use")
	b.Close()
}

// TestRunCancelledBeforeStart: a signal while topics are being created is a
// clean stop (exit 0) that never opens the state.
func TestRunCancelledBeforeStart(t *testing.T) {
	f := newFakeBackend()
	c := testCLI(t, f)
	cfg := testConfig(t)
	// An external cluster that is not there: topic creation retries until
	// the context is cancelled.
	cfg.Kafka.Brokers = []string{unusedAddr(t)}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	err := c.runResolver(ctx, cfg, zaptest.NewLogger(t))
	require.NoError(t, err)
	assert.Empty(t, f.Events())
}

// unusedAddr returns a loopback address nothing listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	return addr
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if strings.EqualFold(x, v) {
			return true
		}
	}
	return false
}

// TestRunCancelEcho: a pipeline that answers our cancellation with an error
// wrapping context.Canceled (stopped during its own start-up) has stopped
// cleanly: exit 0. Regression: a restart stopped at once exited 1 with
// "pipeline: stream: list topics: context canceled".
func TestRunCancelEcho(t *testing.T) {
	f := newFakeBackend()
	f.run = func(ctx context.Context) error {
		<-ctx.Done()
		return fmt.Errorf("stream: list topics: %w", ctx.Err())
	}
	c := testCLI(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.runResolver(ctx, testConfig(t), zaptest.NewLogger(t)) }()
	<-f.started
	cancel()
	require.NoError(t, <-done)
	assert.Contains(t, f.Events(), "close state")
}
