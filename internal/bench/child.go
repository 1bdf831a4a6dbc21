package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/broker"
)

// ServeChildBroker is the child side of StartChildBroker: it starts the
// embedded broker in memory on a free loopback port, exactly as Run does in
// process, writes its address and a newline to out, and serves until in
// reaches its end (the parent closed the pipe or died) or ctx is done.
func ServeChildBroker(ctx context.Context, in io.Reader, out io.Writer, log *zap.Logger) error {
	if log == nil {
		log = zap.NewNop()
	}
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: log.Named("broker")})
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := fmt.Fprintln(out, b.Addrs()[0]); err != nil {
		return err
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, in)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	}
	return nil
}

// ChildBroker is a broker process started by StartChildBroker.
type ChildBroker struct {
	Addr  string
	PID   int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// StartChildBroker starts cmd, which must run ServeChildBroker (for the
// resolver binary: "resolver bench --serve-broker"), and waits for its
// address. The child exits when Close closes its stdin, or when this
// process dies.
func StartChildBroker(cmd *exec.Cmd) (*ChildBroker, error) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start broker process: %w", err)
	}
	cb := &ChildBroker{PID: cmd.Process.Pid, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- strings.TrimSpace(sc.Text())
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
		cb.done <- cmd.Wait()
	}()
	select {
	case addr, ok := <-line:
		if !ok || addr == "" {
			_ = stdin.Close()
			return nil, fmt.Errorf("bench: broker process exited before giving its address: %w", <-cb.done)
		}
		cb.Addr = addr
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		_ = stdin.Close()
		return nil, errors.New("bench: broker process gave no address within 30s")
	}
	return cb, nil
}

// Close stops the child broker and waits for it, killing it after 30 s.
func (cb *ChildBroker) Close() error {
	_ = cb.stdin.Close()
	select {
	case err := <-cb.done:
		return err
	case <-time.After(30 * time.Second):
		_ = cb.cmd.Process.Kill()
		return <-cb.done
	}
}
