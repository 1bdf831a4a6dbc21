package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// Tests set the environment they need themselves; a developer's
	// RESOLVER_* variables must not leak into them.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, envPrefix+"_") {
			os.Unsetenv(name)
		}
	}
	// The binary the process tests share (resolverBinary) goes with the
	// run: each run used to leave ~28 MB in the temp dir.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if buildPath != "" {
			_ = os.RemoveAll(filepath.Dir(buildPath))
		}
	}))
}

// syncBuffer is a bytes.Buffer safe for a command writing while a test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// wait polls cond until it holds or timeout passes.
func wait(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writeFile writes a file in a fresh temp dir and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := t.TempDir() + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExitCodes runs the command line in-process and checks the exit code
// contract: 2 for bad config or command line (before anything starts), 1
// for other failures, 0 for success.
func TestExitCodes(t *testing.T) {
	badFile := writeFile(t, "bad.yaml", "kafka:\n  topic_partitions: 0\n")
	unknownKey := writeFile(t, "unknown.yaml", "kafka:\n  brokerz: [a:1]\n")
	notYAML := writeFile(t, "broken.yaml", "kafka: [\n")

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		code    int
		wantErr string // on stderr
	}{
		{"help", []string{"--help"}, nil, exitOK, ""},
		{"no command shows help", nil, nil, exitOK, ""},
		{"run help", []string{"run", "--help"}, nil, exitOK, ""},
		{"unknown command", []string{"frobnicate"}, nil, exitConfig, `unknown command "frobnicate"`},
		{"unknown flag", []string{"run", "--frobnicate"}, nil, exitConfig, "unknown flag: --frobnicate"},
		{"stray argument", []string{"broker", "extra"}, nil, exitConfig, `unexpected argument "extra"`},
		{"flag value does not parse", []string{"broker", "--partitions", "many"}, nil, exitConfig, "--partitions"},
		{"invalid value in file", []string{"--config", badFile, "run"}, nil, exitConfig,
			"config: kafka.topic_partitions: 0: must be at least 1"},
		{"invalid value from flag", []string{"broker", "--partitions", "0"}, nil, exitConfig,
			"config: kafka.topic_partitions: 0: must be at least 1"},
		{"invalid value from env", []string{"run"}, map[string]string{"RESOLVER_LOG_LEVEL": "loud"}, exitConfig,
			`config: log.level: "loud": must be one of`},
		{"env value of the wrong type", []string{"run"}, map[string]string{"RESOLVER_STREAM_MAX_BATCH_RECORDS": "lots"}, exitConfig,
			"stream.max_batch_records"},
		{"unknown key in file", []string{"--config", unknownKey, "broker"}, nil, exitConfig, "kafka.brokerz: unknown key"},
		{"file is not YAML", []string{"--config", notYAML, "run"}, nil, exitConfig, notYAML},
		{"missing config file", []string{"--config", "/nonexistent/resolver.yaml", "run"}, nil, exitConfig, "/nonexistent/resolver.yaml"},
		{"broker cannot listen", []string{"broker", "--listen", "127.0.0.1:notaport"}, nil, exitConfig, "kafka.embedded.listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr syncBuffer
			args := append([]string{"--state-dir", t.TempDir()}, tt.args...)
			code := execute(t.Context(), args, &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if tt.wantErr != "" && !strings.Contains(stderr.String(), tt.wantErr) {
				t.Fatalf("stderr does not contain %q:\n%s", tt.wantErr, stderr.String())
			}
			if tt.code == exitOK && stderr.String() != "" {
				t.Fatalf("unexpected stderr:\n%s", stderr.String())
			}
		})
	}
}

// TestExitCodeRuntimeFailure: a failure after the config was accepted exits
// 1, here an embedded broker whose port is taken.
func TestExitCodeRuntimeFailure(t *testing.T) {
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"broker", "--listen", "127.0.0.1:0", "--state-dir", t.TempDir(), "--log-level", "warn"}, &stdout, &stderr)
	}()
	addr := brokerAddr(t, &stdout)

	var stderr2 syncBuffer
	code := execute(t.Context(), []string{"broker", "--listen", addr, "--state-dir", t.TempDir()}, &stdout, &stderr2)
	if code != exitFailure {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", code, exitFailure, stderr2.String())
	}
	if !strings.Contains(stderr2.String(), addr) {
		t.Fatalf("error does not name the address %s:\n%s", addr, stderr2.String())
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("first broker: exit code %d; stderr:\n%s", code, stderr.String())
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{nil, exitOK},
		{os.ErrNotExist, exitFailure},
		{&FieldError{Key: "k", Value: 1, Reason: "r"}, exitConfig},
		{configErrorf("x"), exitConfig},
		{&usageError{err: os.ErrInvalid}, exitConfig},
		{defaultConfigWith(func(c *Config) { c.Kafka.Group = "" }).Validate(), exitConfig},
	}
	for _, tt := range tests {
		if got := exitCode(tt.err); got != tt.code {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.code)
		}
	}
}

// realRun is `resolver run` started in this process on the embedded
// broker, with its admin server on a free port.
type realRun struct {
	base   string // the admin server, http://host:port
	broker string // the embedded broker's address
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startRealRun starts `resolver run` with a config file of cfgYAML and a
// fresh state directory, and waits until it has logged its admin and
// broker addresses. The run is stopped when the test ends, if stop was
// not called.
func startRealRun(t *testing.T, cfgYAML string) *realRun {
	t.Helper()
	cfgFile := writeFile(t, "resolver.yaml", cfgYAML)
	ctx, cancel := context.WithCancel(t.Context())
	r := &realRun{stderr: &syncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		var stdout syncBuffer
		r.done <- execute(ctx, []string{"--config", cfgFile, "--state-dir", t.TempDir(), "--log-format", "json",
			"run", "--embedded-listen", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, &stdout, r.stderr)
	}()
	t.Cleanup(cancel)
	wait(t, 30*time.Second, "the pipeline to start", func() bool {
		select {
		case code := <-r.done:
			t.Fatalf("run exited with %d; stderr:\n%s", code, r.stderr.String())
		default:
		}
		a, ok1 := firstLogField(r.stderr.String(), "admin listening", "addr")
		b, ok2 := firstLogField(r.stderr.String(), "pipeline starting", "brokers")
		if ok1 && ok2 {
			r.base, r.broker = "http://"+a.(string), b.([]any)[0].(string)
		}
		return ok1 && ok2
	})
	return r
}

// stop cancels the run and requires it to exit cleanly within 40s.
func (r *realRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case code := <-r.done:
		require.Equal(t, exitOK, code, "stderr:\n%s", r.stderr.String())
	case <-time.After(40 * time.Second):
		t.Fatalf("run did not stop; stderr:\n%s", r.stderr.String())
	}
}
