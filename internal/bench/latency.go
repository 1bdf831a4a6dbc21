package bench

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/gen"
)

// latencyGrace is how long the latency phase waits for the last probes
// after the last one was produced.
const latencyGrace = 30 * time.Second

// latency produces the plan's probe records to raw at Config.LatencyRate,
// each stamped with its produce time, and reads out (read_committed) from
// its end as of now; a probe's latency is the time its output record was
// polled minus its produce time. Probes are matched by uuid; malformed
// records (dead-lettered by the resolver) are produced but not expected.
func (r *runner) latency(ctx context.Context, raw, out string, p *plan) ([]time.Duration, int, error) {
	want := map[string]int{}
	for i, rec := range p.probeRecs {
		if rec.UUID != "" && rec.Kind != gen.KindMalformed {
			want[strings.ToLower(rec.UUID)] = i
		}
	}
	ends, err := r.adm.ListEndOffsets(ctx, out)
	if err != nil {
		return nil, 0, fmt.Errorf("bench: latency: list end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return nil, 0, fmt.Errorf("bench: latency: list end offsets: %w", err)
	}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) { from[o.Partition] = kgo.NewOffset().At(o.Offset) })
	cons, err := kgo.NewClient(append(clientOpts(r.c.Kafka, r.c.Log, "latency"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{out: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)...)
	if err != nil {
		return nil, 0, fmt.Errorf("bench: latency consumer: %w", err)
	}
	defer cons.Close()
	prod, err := NewProducer(r.c.Kafka, r.c.Log.Named("probe"), kgo.ProducerLinger(0))
	if err != nil {
		return nil, 0, err
	}
	defer prod.Close()

	sent := make([]atomic.Int64, len(p.probeRecs)) // produce time, Unix ns
	produced := make(chan error, 1)
	go func() {
		interval := time.Second / time.Duration(r.c.LatencyRate)
		start := time.Now()
		for i, rec := range p.probeRecs {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			now := time.Now()
			sent[i].Store(now.UnixNano())
			prod.Produce(ctx, &kgo.Record{Topic: raw, Key: rec.Key, Value: rec.Value, Timestamp: now}, nil)
		}
		produced <- prod.Flush(ctx)
	}()

	lat := make([]time.Duration, 0, len(want))
	seen := make([]bool, len(p.probeRecs))
	var deadline time.Time // set once every probe is produced
	for len(lat) < len(want) {
		pctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
		fs := cons.PollFetches(pctx)
		cancel()
		now := time.Now()
		fs.EachRecord(func(rec *kgo.Record) {
			i, ok := want[uuidOf(rec.Value)]
			if !ok || seen[i] {
				return
			}
			seen[i] = true
			lat = append(lat, now.Sub(time.Unix(0, sent[i].Load())))
		})
		if deadline.IsZero() {
			select {
			case err := <-produced:
				if err != nil {
					return nil, 0, fmt.Errorf("bench: latency: produce probes: %w", err)
				}
				deadline = time.Now().Add(latencyGrace)
			default:
			}
		}
		if ctx.Err() != nil {
			<-produced // the producer stops on ctx too
			return nil, 0, ctx.Err()
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
	}
	if deadline.IsZero() {
		if err := <-produced; err != nil {
			return nil, 0, fmt.Errorf("bench: latency: produce probes: %w", err)
		}
	}
	return lat, len(want), nil
}

// uuidOf returns the top-level "uuid" of a capture event or a stamped event
// (both write it first, or among the first members), lower-cased; "" if it
// has none.
func uuidOf(v []byte) string {
	const key = `"uuid":"`
	i := bytes.Index(v, []byte(key))
	if i < 0 || len(v) < i+len(key)+36 {
		return ""
	}
	return strings.ToLower(string(v[i+len(key) : i+len(key)+36]))
}

// percentile returns the p-th percentile (nearest rank) of ds, sorting
// it; 0 for none.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := (len(ds)*p + 99) / 100
	return ds[min(max(i-1, 0), len(ds)-1)]
}
