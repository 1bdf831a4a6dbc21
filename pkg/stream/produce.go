package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/event"
)

// producer produces a batch's records into the open transaction and keeps
// the first error, so the batch can be aborted. Its errors are known only
// once the session has flushed (see Pipeline.transact): decide after that.
type producer struct {
	sess *kgo.GroupTransactSession
	ctx  context.Context
	// max is output.max_record_bytes.
	max int
	// bufs are the worker's buffers of the batch (see worker).
	bufs *batchBuffers

	mu    sync.Mutex
	first error

	stamped, dead, warnings int64
	// oversizeRows are the feed rows over the record bound, not produced.
	oversizeRows []oversizeRow

	// rep, when not nil (the pipeline has an Observer), also counts dead
	// letters by reason and warnings by type.
	rep *BatchReport

	// acked is the producer id and epoch that wrote the batch's records,
	// as the broker acknowledged them; nil until a record is acknowledged.
	// A zombie's log names them.
	acked atomic.Pointer[producerEpoch]

	// promiseFn is o.promise, made once when the producer is: a method
	// value passed on each produce would be a closure allocated per record.
	promiseFn func(*kgo.Record, error)
}

// producerEpoch is a transactional producer's id and epoch.
type producerEpoch struct {
	id    int64
	epoch int16
}

// step adds the time since start to the batch's step s, when the batch is
// reported (an Observer is set), and returns now.
func (o *producer) step(s Step, start time.Time) time.Time {
	if o.rep == nil {
		return start
	}
	now := time.Now()
	o.rep.Steps[s] += now.Sub(start)
	return now
}

// warning counts one produced ingestion warning of type typ.
func (o *producer) warning(typ string) {
	o.warnings++
	if o.rep != nil {
		addCount(&o.rep.Warnings, typ, 1)
	}
}

func (o *producer) produce(r *kgo.Record) {
	o.sess.Produce(o.ctx, r, o.promiseFn)
}

func (o *producer) promise(r *kgo.Record, err error) {
	if err == nil {
		if r != nil && r.ProducerID >= 0 && o.acked.Load() == nil {
			o.acked.Store(&producerEpoch{r.ProducerID, r.ProducerEpoch})
		}
		return
	}
	o.mu.Lock()
	if o.first == nil {
		if r != nil {
			err = fmt.Errorf("produce %d bytes to %s: %w", recordBytes(r), r.Topic, err)
		}
		o.first = err
	}
	o.mu.Unlock()
}

func (o *producer) err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.first
}

// json produces v as JSON; values here are the resolver's own row types and
// cannot fail to encode. Rows are bounded by construction (person
// properties by identity.max_person_properties_bytes, ids and details by the
// decoder); a row over the record bound all the same (a person stored
// before the cap existed) is not produced but counted in oversizeRows, for
// the caller to report: failing the batch would retry it for ever, on every
// instance that owns the partition.
func (o *producer) json(topic, key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		o.promise(nil, err)
		return
	}
	o.produceRow(&kgo.Record{Topic: topic, Key: []byte(key), Value: b})
}

// feedRow produces a feed row written into the arena ar: b is the block
// room returned at start, with the row's key (k bytes) and then its value
// appended. The record comes from the batch's slab.
func (o *producer) feedRow(ar *arena, topic string, start, k int, b []byte) {
	kv := ar.keep(start, b)
	r := o.bufs.feedRecs.next()
	r.Topic, r.Key, r.Value = topic, kv[:k:k], kv[k:]
	o.produceRow(r)
}

// produceRow produces a feed row, unless it is over the record bound (see
// json).
func (o *producer) produceRow(r *kgo.Record) {
	if n := recordBytes(r); n > o.max {
		o.oversizeRows = append(o.oversizeRows, oversizeRow{topic: r.Topic, bytes: n})
		return
	}
	o.produce(r)
}

// oversizeRow is a feed row dropped for its size.
type oversizeRow struct {
	topic string
	bytes int
}

// deadLetterBatch dead-letters a record batch that was refused undecoded
// (boundedDecompressor): one record without key or value, whose headers
// name the batch's offsets, source_offset to source_offset_last. Its
// records were never read, so they cannot be carried.
func (o *producer) deadLetterBatch(topic string, b *kgo.ErrDecompressTooLarge, maxBytes, ratio int) {
	detail := fmt.Sprintf("the record batch at offsets %d to %d decompresses past input.max_batch_bytes (%d) or input.max_compression_ratio (%d) times its compressed size, or does not decompress at all; its records were not read",
		b.Offset, b.NextOffset-1, maxBytes, ratio)
	o.produce(&kgo.Record{
		Topic: topic,
		Headers: []kgo.RecordHeader{
			{Key: "error", Value: []byte(reasonBatchRefused)},
			{Key: "error_detail", Value: []byte(detail)},
			{Key: "source_topic", Value: []byte(b.Topic)},
			{Key: "source_partition", Value: headerInt(int64(b.Partition))},
			{Key: "source_offset", Value: headerInt(b.Offset)},
			{Key: "source_offset_last", Value: headerInt(b.NextOffset - 1)},
		},
	})
	o.dead++
	if o.rep != nil {
		addCount(&o.rep.DeadLettered, reasonBatchRefused, 1)
	}
}

// reasonBatchRefused is the dead-letter reason of a refused record batch.
const reasonBatchRefused = "batch_refused"

// deadLetter produces a rejected record: its original key and bytes, and
// headers saying why and where from. A dead letter over the record bound is
// cut (docs/SEMANTICS.md §6): its key to maxDeadLetterKey bytes, its value to the
// first max − deadLetterReserve bytes, with the header truncated: true.
func (o *producer) deadLetter(topic string, r *kgo.Record, cause error) {
	reason := "unknown"
	if rs, ok := event.ReasonOf(cause); ok {
		reason = string(rs)
	}
	detail := ""
	if cause != nil {
		detail = cause.Error()
		if len(detail) > maxDeadLetterDetail {
			detail = detail[:maxDeadLetterDetail]
		}
	}
	dl := &kgo.Record{
		Topic:     topic,
		Key:       r.Key,
		Value:     r.Value,
		Timestamp: r.Timestamp,
		Headers: []kgo.RecordHeader{
			{Key: "error", Value: []byte(reason)},
			{Key: "error_detail", Value: []byte(detail)},
			{Key: "source_topic", Value: []byte(r.Topic)},
			{Key: "source_partition", Value: headerInt(int64(r.Partition))},
			{Key: "source_offset", Value: headerInt(r.Offset)},
		},
	}
	if recordBytes(dl) > o.max {
		limit := o.max - deadLetterReserve
		if len(dl.Key) > maxDeadLetterKey {
			dl.Key = dl.Key[:maxDeadLetterKey]
		}
		if len(dl.Value) > limit {
			dl.Value = dl.Value[:limit]
		}
		dl.Headers = append(dl.Headers, kgo.RecordHeader{Key: "truncated", Value: []byte("true")})
	}
	o.produce(dl)
	o.dead++
	if o.rep != nil {
		addCount(&o.rep.DeadLettered, reason, 1)
	}
}
