package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInputBatchBombsRefused is what anyone who can produce to events_raw
// sends to take the fleet down: record batches of a few KiB that
// decompress to hundreds of MiB (Kafka bounds only the compressed batch).
// Every instance would hold them in memory as they are fetched, and a
// batch over franz-go's own bound (1 GiB) would stop its partition for
// good. Here one partition gets an ordinary event, a batch over
// input.max_batch_bytes, a batch under it but far over
// input.max_compression_ratio, and another ordinary event: both events
// are stamped, each bomb is one dead letter batch_refused naming its
// offsets, and the worker moved past them (its offsets are committed past
// the last event, so a restart does not see them again).
func TestInputBatchBombsRefused(t *testing.T) {
	h := newHarness(t)
	h.cfg.MaxBatchBytes = MinMaxBatchBytes
	dir := t.TempDir()
	in := h.start(dir)

	cl := h.client(kgo.DefaultProduceTopic(h.cfg.Topics.Raw), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerBatchMaxBytes(64<<20), kgo.BrokerMaxWriteBytes(64<<20))
	produce := func(r *kgo.Record) int64 {
		r.Partition = 3
		res := cl.ProduceSync(context.Background(), r)
		require.NoError(t, res.FirstErr())
		return res[0].Record.Offset
	}
	ev := func(n int) *kgo.Record {
		return &kgo.Record{Key: []byte("t:u"), Value: fmt.Appendf(nil, `{"uuid":%q,"event":"e","distinct_id":"u","token":"t"}`, uuidN(n))}
	}
	first := produce(ev(1))
	overMax := produce(&kgo.Record{Value: make([]byte, 32<<20)})    // ~1 KiB of zstd, 32 MiB of zeros
	overRatio := produce(&kgo.Record{Value: make([]byte, 512<<10)}) // under 1 MiB, ~100 bytes compressed
	last := produce(ev(2))
	require.Equal(t, []int64{first + 1, first + 2, first + 3}, []int64{overMax, overRatio, last})

	out := h.readCommitted(4, 60*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	var uuids []string
	for _, r := range out[h.cfg.Topics.Person] {
		var v struct {
			UUID string `json:"uuid"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &v))
		uuids = append(uuids, v.UUID)
	}
	assert.Equal(t, []string{uuidN(1), uuidN(2)}, uuids, "both events stamped, once")
	dead := out[h.cfg.Topics.DeadLetter]
	require.Len(t, dead, 2, "one dead letter per refused batch")
	for i, off := range []int64{overMax, overRatio} {
		r := dead[i]
		assert.Equal(t, reasonBatchRefused, header(r, "error"))
		assert.Equal(t, h.cfg.Topics.Raw, header(r, "source_topic"))
		assert.Equal(t, "3", header(r, "source_partition"))
		assert.Equal(t, strconv.FormatInt(off, 10), header(r, "source_offset"))
		assert.Equal(t, strconv.FormatInt(off, 10), header(r, "source_offset_last"))
		assert.Contains(t, header(r, "error_detail"), "input.max_batch_bytes")
		assert.Nil(t, r.Value, "its records were never read")
	}
	wait(t, 30*time.Second, "the refused batches counted", func() bool { return in.p.Stats().RefusedBatches.Load() == 2 })
	in.stop(t)

	// A restart resumes after the last event: nothing is refused or
	// stamped again.
	in = h.start(dir)
	defer in.stop(t)
	produce(ev(3))
	out = h.readCommitted(5, 60*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	assert.Len(t, out[h.cfg.Topics.Person], 3)
	assert.Len(t, out[h.cfg.Topics.DeadLetter], 2)
	assert.Zero(t, in.p.Stats().RefusedBatches.Load())
}
