package stream

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/event"
)

// producer produces a batch's records into the open transaction and keeps
// the first error, so the batch can be aborted.
type producer struct {
	sess *kgo.GroupTransactSession
	ctx  context.Context

	mu    sync.Mutex
	first error

	stamped, dead, warnings int64

	// rep, when not nil (the pipeline has an Observer), also counts dead
	// letters by reason and warnings by type.
	rep *BatchReport
}

// warning counts one produced ingestion warning of type typ.
func (o *producer) warning(typ string) {
	o.warnings++
	if o.rep != nil {
		addCount(&o.rep.Warnings, typ, 1)
	}
}

func (o *producer) produce(r *kgo.Record) {
	o.sess.Produce(o.ctx, r, o.promise)
}

func (o *producer) promise(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	o.mu.Lock()
	if o.first == nil {
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
// cannot fail to encode.
func (o *producer) json(topic, key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		o.promise(nil, err)
		return
	}
	o.produce(&kgo.Record{Topic: topic, Key: []byte(key), Value: b})
}

// deadLetter produces a rejected record: its original key and bytes, and
// headers saying why and where from.
func (o *producer) deadLetter(topic string, r *kgo.Record, cause error) {
	reason := "unknown"
	if rs, ok := event.ReasonOf(cause); ok {
		reason = string(rs)
	}
	detail := ""
	if cause != nil {
		detail = cause.Error()
	}
	o.produce(&kgo.Record{
		Topic: topic,
		Key:   r.Key,
		Value: r.Value,
		Headers: []kgo.RecordHeader{
			{Key: "error", Value: []byte(reason)},
			{Key: "error_detail", Value: []byte(detail)},
			{Key: "source_topic", Value: []byte(r.Topic)},
			{Key: "source_partition", Value: headerInt(int64(r.Partition))},
			{Key: "source_offset", Value: headerInt(r.Offset)},
		},
	})
	o.dead++
	if o.rep != nil {
		addCount(&o.rep.DeadLettered, reason, 1)
	}
}
