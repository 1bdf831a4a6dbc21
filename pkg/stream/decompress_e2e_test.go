package stream

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// refusalLogs is a logger that keeps the warn lines saying a record was
// skipped as a batch refused unread, and a count of them.
func refusalLogs() (*zap.Logger, func() int) {
	core, logs := observer.New(zapcore.WarnLevel)
	return zap.New(core), func() int {
		return logs.FilterFieldKey("reason").Filter(func(e observer.LoggedEntry) bool {
			return strings.Contains(e.ContextMap()["reason"].(string), "record batch refused unread")
		}).Len()
	}
}

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

// produceBomb writes to partition p of topic one zstd record batch of n
// zero bytes: ~100 bytes on the wire.
func (h *harness) produceBomb(ctx context.Context, topic string, p int32, n int) {
	h.t.Helper()
	cl := h.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.ZstdCompression()),
		kgo.ProducerBatchMaxBytes(64<<20), kgo.BrokerMaxWriteBytes(64<<20))
	require.NoError(h.t, cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: make([]byte, n)}).FirstErr())
}

// TestLogBatchBombsSkippedTwoReplicas: a record batch of identity_log that
// decompresses far past its compressed size (written by whoever can write
// the internal topics) is refused unread by every replica alike, counted
// as malformed, its offset applied past; the real ops around it are
// applied, and the replicas agree. Before, every replica held it whole as
// it was fetched, and a batch over franz-go's 1 GiB bound stopped the
// partition's applier for good — and with it every batch that waits on
// the partition, fleet-wide.
func TestLogBatchBombsSkippedTwoReplicas(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	h.topicsUp(ctx)
	h.fillRaw(ctx, 0, 100)

	h.produceTo(ctx, h.cfg.Topics.IdentityLog, []*kgo.Record{{Partition: 0, Value: mustEncode(t, realOp(0, 1, "a", 1))}})
	h.produceBomb(ctx, h.cfg.Topics.IdentityLog, 0, 2<<20) // ~20,000 times its compressed size
	h.produceTo(ctx, h.cfg.Topics.IdentityLog, []*kgo.Record{{Partition: 0, Value: mustEncode(t, realOp(0, 2, "a", 2))}})

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var fps []string
	for i := range 2 {
		st := openStore(t)
		log, refusals := refusalLogs()
		a, err := NewApplier(ctx, h.cfg, st, log)
		require.NoError(t, err)
		go func() { _ = a.Run(runCtx) }()
		wait(t, 30*time.Second, fmt.Sprintf("replica %d applies past the bomb", i), func() bool { return a.Offsets()[0] == 3 })
		assert.Equal(t, 1, refusals(), "replica %d: refused unread, not decompressed and found no op", i)
		assert.Equal(t, hostileCounts{applied: 2, malformed: 1}, hostileCounts{a.Applied.Load(), a.Rejected.Load(), a.Malformed.Load()}, "replica %d", i)
		assert.Equal(t, "2", propN(t, st, "a"), "replica %d: the op after the bomb", i)
		assert.NoError(t, a.Health())
		fp, err := st.Fingerprint()
		require.NoError(t, err)
		fps = append(fps, fp)
	}
	assert.Equal(t, fps[0], fps[1], "the replicas agree")
}

// TestBillingViewSkipsBatchBombs: the same for billing_usage.
func TestBillingViewSkipsBatchBombs(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	adm := h.topicsUp(ctx)
	delta := func(n int64) []*kgo.Record {
		return []*kgo.Record{{Partition: 0, Value: fmt.Appendf(nil, `{"team":"1","month":"2026-11","class":"identified","count":%d}`, n)}}
	}
	h.produceTo(ctx, h.cfg.Topics.Billing, delta(5))
	h.produceBomb(ctx, h.cfg.Topics.Billing, 0, 2<<20)
	h.produceTo(ctx, h.cfg.Topics.Billing, delta(7))

	st := openStore(t)
	obs := &billingWatch{}
	cfg := h.cfg
	cfg.Observer = obs
	log, refusals := refusalLogs()
	v, err := NewBillingView(ctx, cfg, st, adm, log)
	require.NoError(t, err)
	go func() { _ = v.Run(ctx) }()
	require.NoError(t, v.CatchUp(ctx, adm))
	assert.Equal(t, map[string]int64{"1/2026-11/identified": 12}, billingTotals(t, st))
	assert.Equal(t, 1, refusals(), "refused unread, not decompressed and found no delta")
	assert.Equal(t, BillingReport{Folded: 2, Malformed: 1}, obs.report())
	assert.NoError(t, v.Health())
}

// produceRawBatch writes to partition p of topic one record batch whose
// records are body as they are, under the given codec attribute: what a
// client that writes its own batches may send (kfake, like Kafka, checks
// the batch's CRC, not that its records decompress).
func (h *harness) produceRawBatch(ctx context.Context, topic string, p int32, codec int16, body []byte) {
	h.t.Helper()
	b := kmsg.RecordBatch{FirstOffset: 0, PartitionLeaderEpoch: -1, Magic: 2, Attributes: codec,
		FirstTimestamp: time.Now().UnixMilli(), MaxTimestamp: time.Now().UnixMilli(),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: body}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))                                          // Length
	binary.BigEndian.PutUint32(raw[17:], crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))) // CRC
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10_000
	cl := h.client()
	tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	require.NoError(h.t, err)
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic, rt.TopicID = topic, tds[topic].ID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = p, raw
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	require.NoError(h.t, err)
	require.NoError(h.t, kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode), "the broker takes the batch")
}

// TestInputCorruptBatchRefused: a record batch whose records do not
// decompress at all (its codec says zstd, its bytes are not) stopped its
// partition for good: franz-go refetched it and failed the same way, on
// every instance. It is now refused like a bomb: one dead letter
// batch_refused, exactly one, and the event after it is stamped. The batch
// is the partition's first record, and the instance's two workers start
// together: the transaction that dead-letters it is often aborted by their
// rebalance, which once skipped the batch with its dead letter undone
// (kgo's abort reset the partition to the offset given to skip it, taken
// for a committed one; skipRefused).
func TestInputCorruptBatchRefused(t *testing.T) {
	h := newHarness(t)
	in := h.start(t.TempDir())
	defer in.stop(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	h.produceRawBatch(ctx, h.cfg.Topics.Raw, 5, 4, []byte("these bytes are no zstd frame, whatever the attributes say"))
	cl := h.client(kgo.DefaultProduceTopic(h.cfg.Topics.Raw), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Partition: 5, Key: []byte("t:u"),
		Value: fmt.Appendf(nil, `{"uuid":%q,"event":"e","distinct_id":"u","token":"t"}`, uuidN(1))}).FirstErr())

	out := h.readCommitted(2, 60*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	require.Len(t, out[h.cfg.Topics.Person], 1, "the event after the batch is stamped")
	require.Len(t, out[h.cfg.Topics.DeadLetter], 1)
	dl := out[h.cfg.Topics.DeadLetter][0]
	assert.Equal(t, reasonBatchRefused, header(dl, "error"))
	assert.Equal(t, "5", header(dl, "source_partition"))
	assert.Equal(t, "0", header(dl, "source_offset"))
}
