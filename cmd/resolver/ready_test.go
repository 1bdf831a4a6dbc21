package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// TestReadyzWaitsForBilling pins readiness of the billing view (issue 4):
// /readyz said ready once the applier had caught up with identity_log, while
// the billing view was still folding billing_usage, so /v1/billing answered
// stale totals from a "ready" instance. billing_usage holds 30,000 committed
// deltas of other instances when a fresh instance starts; the first time
// /readyz says 200, /v1/billing must count all of them, and the "ready" log
// line must come after the billing view's catch-up.
func TestReadyzWaitsForBilling(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real pipeline")
	}
	const txns, perTxn = 30, 1000
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	defer b.Close()
	addr := b.Addrs()[0]
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	topics := stream.DefaultTopics()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("earlier-instance"),
		kgo.DefaultProduceTopic(topics.Billing), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, stream.EnsureTopics(ctx, kadm.NewClient(cl), topics.All(), 8, -1, time.Second, zap.NewNop(), topics.TopicOptions()...))
	for i := range txns {
		recs := make([]*kgo.Record, perTxn)
		for j := range recs {
			recs[j] = &kgo.Record{Partition: int32(j % 8), Value: []byte(`{"team":"1","month":"2026-11","class":"identified","count":1}`)}
		}
		require.NoError(t, cl.BeginTransaction())
		require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr(), "transaction %d", i)
		require.NoError(t, cl.EndTransaction(ctx, kgo.TryCommit), "transaction %d", i)
	}

	var stderr syncBuffer
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan int, 1)
	go func() {
		done <- execute(runCtx, []string{"--state-dir", t.TempDir(), "--log-format", "json",
			"run", "--brokers", addr, "--admin-addr", "127.0.0.1:0"}, &syncBuffer{}, &stderr)
	}()
	var base string
	wait(t, 30*time.Second, "admin listening", func() bool {
		a, ok := firstLogField(stderr.String(), "admin listening", "addr")
		if ok {
			base = "http://" + a.(string)
		}
		return ok
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, _, err := httpGet(t, base+"/readyz", "")
		if err == nil && code == http.StatusOK {
			break
		}
		select {
		case code := <-done:
			t.Fatalf("run exited with %d before ready:\n%s", code, stderr.String())
		default:
		}
		require.True(t, time.Now().Before(deadline), "not ready within 60s")
		time.Sleep(5 * time.Millisecond)
	}
	code, body := mustGet(t, base+"/v1/billing?team=1&month=2026-11", "")
	require.Equal(t, http.StatusOK, code, "%s", body)
	var r struct {
		Statements []struct{ Identified struct{ Events int64 } }
	}
	require.NoError(t, json.Unmarshal(body, &r), "%s", body)
	require.Len(t, r.Statements, 1, "%s", body)
	assert.Equal(t, int64(txns*perTxn), r.Statements[0].Identified.Events, "/v1/billing when /readyz first said ready")
	assert.Equal(t, []string{"billing view caught up with billing_usage", "ready"},
		logOrder(stderr.String(), "billing view caught up with billing_usage", "ready"))

	stop()
	select {
	case code := <-done:
		require.Equal(t, 0, code, stderr.String())
	case <-time.After(40 * time.Second):
		t.Fatal("run did not stop")
	}
}

// logOrder returns the messages among msgs of stderr's JSON log lines, in
// the order they were logged.
func logOrder(stderr string, msgs ...string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(stderr))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m struct{ Msg string }
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		for _, s := range msgs {
			if m.Msg == s {
				out = append(out, s)
			}
		}
	}
	return out
}
