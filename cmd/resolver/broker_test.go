package main

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

var listeningRE = regexp.MustCompile(`resolver broker listening on (\S+)`)

// brokerAddr waits for `resolver broker` to print its address on stdout.
func brokerAddr(t *testing.T, stdout *syncBuffer) string {
	t.Helper()
	var addr string
	wait(t, 10*time.Second, "resolver broker listening on ...", func() bool {
		m := listeningRE.FindStringSubmatch(stdout.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// listTopics returns the topics of the broker at addr with their partition
// counts.
func listTopics(t *testing.T, addr string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for name, d := range details {
		if d.Err == nil {
			out[name] = len(d.Partitions)
		}
	}
	return out
}

// TestBrokerCommand runs `resolver broker --listen 127.0.0.1:0` in-process:
// it prints its address, has created every configured topic with
// --partitions partitions (a configured name included), and stops cleanly
// when its context is cancelled. A second start on the same data dir finds
// the topics there.
func TestBrokerCommand(t *testing.T) {
	dataDir := t.TempDir()
	cfgFile := writeFile(t, "resolver.yaml", "topics:\n  raw: my_raw_events\n")
	args := []string{"--config", cfgFile, "broker", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--partitions", "3"}

	for round := range 2 {
		var stdout, stderr syncBuffer
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int, 1)
		go func() { done <- execute(ctx, args, &stdout, &stderr) }()

		addr := brokerAddr(t, &stdout)
		got := listTopics(t, addr)
		want := defaultConfig()
		want.Topics.Raw = "my_raw_events"
		for _, name := range want.streamTopics().All() {
			parts := 3
			if name == want.Topics.Commands {
				parts = 1 // stream.SinglePartition
			}
			if got[name] != parts {
				t.Errorf("round %d: topic %s: %d partitions, want %d (topics: %v)", round, name, got[name], parts, got)
			}
		}
		if _, ok := got["events_raw"]; ok {
			t.Errorf("round %d: default raw topic created although topics.raw is configured", round)
		}

		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Fatalf("round %d: exit code %d; stderr:\n%s", round, code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: broker did not stop on cancel", round)
		}
		if round == 1 && slices.ContainsFunc(splitLines(stderr.String()), func(l string) bool {
			return regexp.MustCompile(`created missing topic`).MatchString(l)
		}) {
			t.Errorf("restart on the same data dir created topics again:\n%s", stderr.String())
		}
	}
}
