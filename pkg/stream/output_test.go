package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/billing"
)

// accounted is what became of each input record, by its "uuid": the reason
// it was dead-lettered, or "stamped".
type accounted map[string]string

// account reads events_person and the dead letters until want records are
// there (and a settle period shows no more), and checks every input record
// appears exactly once. Dead letters are matched to their input by the
// source_offset header within a partition, since a cut one has lost its
// uuid; byOffset maps "partition/offset" to the input's uuid.
func (h *harness) account(t *testing.T, want int, byOffset map[string]string) (accounted, map[string]*kgo.Record) {
	t.Helper()
	out := h.readCommitted(want, 60*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	got := accounted{}
	records := map[string]*kgo.Record{}
	for _, r := range out[h.cfg.Topics.Person] {
		var v struct {
			UUID string `json:"uuid"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &v))
		_, dup := got[v.UUID]
		require.False(t, dup, "%s stamped twice", v.UUID)
		got[v.UUID], records[v.UUID] = "stamped", r
	}
	for _, r := range out[h.cfg.Topics.DeadLetter] {
		id, ok := byOffset[header(r, "source_partition")+"/"+header(r, "source_offset")]
		require.True(t, ok, "dead letter of an unknown input %s/%s", header(r, "source_partition"), header(r, "source_offset"))
		_, dup := got[id]
		require.False(t, dup, "%s accounted for twice", id)
		got[id], records[id] = header(r, "error"), r
	}
	require.Len(t, got, want, "every input record once, as a stamped event or a dead letter")
	return got, records
}

// produceTracked produces recs to the input topic and returns, for each,
// "partition/offset" → its uuid (every record here carries one).
func (h *harness) produceTracked(t *testing.T, recs []*kgo.Record) map[string]string {
	t.Helper()
	cl := h.client(kgo.DefaultProduceTopic(h.cfg.Topics.Raw), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerBatchMaxBytes(4<<20))
	res := cl.ProduceSync(context.Background(), recs...)
	require.NoError(t, res.FirstErr())
	m := map[string]string{}
	for _, r := range res {
		var v struct {
			UUID string `json:"uuid"`
		}
		require.NoError(t, json.Unmarshal(r.Record.Value, &v))
		m[fmt.Sprintf("%d/%d", r.Record.Partition, r.Record.Offset)] = v.UUID
	}
	return m
}

func uuidN(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

// TestOutputBounds pins issue 11's "stamped events are silently lost": a
// big $set event, an event whose stamped form would pass the record bound
// because of its person's properties, and an oversize personless event
// were counted, billed and committed, yet appeared neither on events_person
// nor on the dead letters. Each must now be a dead letter output_too_large
// (cut when the dead letter itself is too large), and the instance goes on.
func TestOutputBounds(t *testing.T) {
	h := newHarness(t)
	h.cfg.MaxRecordBytes = 64 << 10
	in := h.start(t.TempDir())
	defer in.stop(t)

	pad := func(n int) string { return strings.Repeat("x", n) }
	ev := func(n int, did, body string) *kgo.Record {
		return &kgo.Record{Key: []byte("t:" + did), Value: fmt.Appendf(nil, `{"uuid":%q,"event":"e","distinct_id":%q,"token":"t",%s}`, uuidN(n), did, body)}
	}
	// First: a person with 25 kB of properties (within the bound).
	first := []*kgo.Record{ev(1, "heavy", `"properties":{"$set":{"blob":"`+pad(25<<10)+`"}}`)}
	off := h.produceTracked(t, first)
	got, _ := h.account(t, 1, off)
	require.Equal(t, "stamped", got[uuidN(1)])

	recs := []*kgo.Record{
		// its identity op is over the bound
		ev(2, "bigset", `"properties":{"$set":{"blob":"`+pad(70<<10)+`"}}`),
		// personless, its stamped event over the bound, and its dead letter too
		ev(3, "anon", `"properties":{"$process_person_profile":false,"blob":"`+pad(80<<10)+`"}`),
		// within the bound, but its person's 25 kB and its own 45 kB pass it
		ev(4, "heavy", `"properties":{"note":"`+pad(45<<10)+`"}`),
		// many properties
		ev(5, "many", `"properties":{`+manyProps(20000)+`}`),
		// an ordinary event last
		ev(6, "plain", `"properties":{"$set":{"a":1}}`),
	}
	for k, v := range h.produceTracked(t, recs) {
		off[k] = v
	}
	got, records := h.account(t, 6, off)
	assert.Equal(t, "output_too_large", got[uuidN(2)])
	assert.Equal(t, "output_too_large", got[uuidN(3)])
	assert.Equal(t, "output_too_large", got[uuidN(4)])
	assert.Equal(t, "output_too_large", got[uuidN(5)])
	assert.Equal(t, "stamped", got[uuidN(6)])

	// A dead letter keeps the original bytes when they fit, and is cut to
	// max − 1 KiB with truncated: true when they do not.
	assert.Equal(t, string(recs[2].Value), string(records[uuidN(4)].Value))
	assert.Empty(t, header(records[uuidN(4)], "truncated"))
	cut := records[uuidN(3)]
	assert.Equal(t, "true", header(cut, "truncated"))
	assert.Equal(t, string(recs[1].Value[:h.cfg.MaxRecordBytes-deadLetterReserve]), string(cut.Value))
	for _, r := range records {
		assert.LessOrEqual(t, recordBytes(r), h.cfg.MaxRecordBytes)
	}

	// Only the stamped events are billed.
	var billed int64
	for _, r := range h.readAll(h.cfg.Topics.Billing) {
		d, err := billing.DecodeDelta(r.Value)
		require.NoError(t, err)
		billed += d.Count
	}
	assert.EqualValues(t, 2, billed)
}

func manyProps(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"p%d":%d`, i, i)
	}
	return b.String()
}

// TestFlushThenDecide pins issue 11's "the output error is checked before
// the transaction's produces are flushed": a produce that failed was
// committed past, its record lost. Here events_person's max.message.bytes
// is lowered under the running instance, below one event of a batch: that
// batch must abort (again and again), never commit; once the topic takes
// the record again, every record of the batch is stamped exactly once.
func TestFlushThenDecide(t *testing.T) {
	h := newHarness(t)
	h.cfg.Kafka.Compression = "none" // so that the broker sees the records' own size
	in := h.start(t.TempDir())
	defer in.stop(t)
	ctx := context.Background()
	adm := kadm.NewClient(h.client())
	setLimit := func(v string) {
		resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: &v}}, h.cfg.Topics.Person)
		require.NoError(t, err)
		for _, r := range resp {
			require.NoError(t, r.Err)
		}
	}
	setLimit("4000")

	var recs []*kgo.Record
	for i := range 20 {
		body := `"properties":{}`
		if i == 7 {
			body = `"properties":{"note":"` + strings.Repeat("y", 6000) + `"}`
		}
		recs = append(recs, &kgo.Record{Key: []byte("k"), Value: fmt.Appendf(nil, `{"uuid":%q,"event":"e","distinct_id":"d%d","token":"t",%s}`, uuidN(i), i, body)})
	}
	off := h.produceTracked(t, recs)
	wait(t, 30*time.Second, "an aborted transaction", func() bool { return in.p.Stats().Aborted.Load() > 0 })
	assert.Zero(t, in.p.Stats().Committed.Load(), "nothing committed past the refused record")
	assert.Empty(t, h.readAll(h.cfg.Topics.Person), "nothing of the batch on events_person")

	setLimit("1048588")
	got, _ := h.account(t, len(recs), off)
	for i := range recs {
		assert.Equal(t, "stamped", got[uuidN(i)], "record %d", i)
	}
}

// TestFitTopics: a cluster whose events_person takes smaller records than
// output.max_record_bytes assumes gets a lower bound at start-up, so that
// records are routed by the bound (here a dead letter output_too_large,
// cut) instead of refused by the broker.
func TestFitTopics(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	adm := kadm.NewClient(h.client())
	limit := "40000"
	resp, err := adm.CreateTopics(ctx, int32(h.cfg.TopicPartitions), -1, map[string]*string{"max.message.bytes": &limit}, h.cfg.Topics.Person)
	require.NoError(t, err)
	require.NoError(t, resp.Error())
	h.cfg.MaxRecordBytes = 64 << 10
	h.cfg.Kafka.Compression = "none"
	in := h.start(t.TempDir())
	defer in.stop(t)
	assert.Equal(t, 40000-batchOverhead, in.p.cfg.MaxRecordBytes)

	recs := []*kgo.Record{
		{Key: []byte("k"), Value: []byte(`{"uuid":"` + uuidN(1) + `","event":"e","distinct_id":"a","token":"t","properties":{"note":"` + strings.Repeat("z", 30000) + `"}}`)},
		{Key: []byte("k"), Value: []byte(`{"uuid":"` + uuidN(2) + `","event":"e","distinct_id":"a","token":"t"}`)},
	}
	got, records := h.account(t, 2, h.produceTracked(t, recs))
	assert.Equal(t, "output_too_large", got[uuidN(1)])
	assert.Equal(t, "true", header(records[uuidN(1)], "truncated"))
	assert.Equal(t, "stamped", got[uuidN(2)])
}

// TestBillingMonthOfRecordTimestamp pins docs/SEMANTICS.md §7 as changed on
// 2026-12-04: an event backdated to 1970 by its client is billed in the
// month of its input record's Kafka timestamp, not in 1970-01 with a free
// tier of its own.
func TestBillingMonthOfRecordTimestamp(t *testing.T) {
	h := newHarness(t)
	in := h.start(t.TempDir())
	defer in.stop(t)
	written := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	recs := []*kgo.Record{
		{Key: []byte("k"), Timestamp: written, Value: []byte(`{"uuid":"` + uuidN(1) + `","event":"e","distinct_id":"a","token":"t","timestamp":"1970-01-01T00:00:00Z"}`)},
		{Key: []byte("k"), Timestamp: written, Value: []byte(`{"uuid":"` + uuidN(2) + `","event":"e","distinct_id":"a","token":"t","timestamp":"0001-01-01T00:00:00Z"}`)},
	}
	off := h.produceTracked(t, recs)
	h.account(t, 2, off)
	months := map[string]int64{}
	for _, r := range h.readAll(h.cfg.Topics.Billing) {
		d, err := billing.DecodeDelta(r.Value)
		require.NoError(t, err)
		months[d.Month] += d.Count
	}
	assert.Equal(t, map[string]int64{"2026-11": 2}, months)
}
