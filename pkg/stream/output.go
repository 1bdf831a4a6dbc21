package stream

import (
	"context"
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/event"
)

// Output bounds (docs/SEMANTICS.md §6, "Nothing is lost, ever"). Every record the
// pipeline produces is at most Config.MaxRecordBytes (output.max_record_bytes)
// of key, value and headers, so that Kafka's record limit never refuses one:
// a stamped event or an identity op that would pass it sends its input record
// to the dead letters instead, and a dead letter that would pass it is cut.

// DefaultMaxRecordBytes is the default of output.max_record_bytes: under
// Kafka's default record limit (max.message.bytes 1,048,588, and franz-go's
// default batch limit 1,000,012), with room for the batch's framing.
const DefaultMaxRecordBytes = 1_000_000

// MinMaxRecordBytes is the least output.max_record_bytes accepted: a dead
// letter keeps deadLetterReserve bytes for its key and headers, and some of
// the original value.
const MinMaxRecordBytes = 4 << 10

// maxMaxRecordBytes is the most output.max_record_bytes accepted: a topic
// can take bigger records (max.message.bytes), but a batch limit beyond this
// is a config mistake.
const maxMaxRecordBytes = 64 << 20

// deadLetterReserve is what a cut dead letter leaves for its key and
// headers: it carries the first MaxRecordBytes − deadLetterReserve bytes of
// the original value (docs/SEMANTICS.md §6).
const deadLetterReserve = 1 << 10

// Bounds of a dead letter's key and error_detail header, so that the cut
// value and they fit in deadLetterReserve together with the other headers
// (whose values are a reason, a topic name of at most 249 bytes, and two
// numbers).
const (
	maxDeadLetterKey    = 256
	maxDeadLetterDetail = 256
)

// batchOverhead is what a producer needs above the largest record for the
// record batch around it (the v2 batch header is 61 bytes, a record's own
// framing a few varints per field); the producers' batch limit is
// MaxRecordBytes plus this, so a record within MaxRecordBytes is never
// refused by the client.
const batchOverhead = 16 << 10

// reasonOutputTooLarge is the dead-letter reason of a record whose stamped
// event, or identity op, would pass output.max_record_bytes. It is the
// pipeline's, not the decoder's: the record decoded fine.
const reasonOutputTooLarge event.Reason = "output_too_large"

// recordBytes is what a record weighs against MaxRecordBytes: its key,
// value, and header keys and values.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// outputTooLarge is the rejection of an input record whose output (what)
// would weigh size bytes, over limit.
func outputTooLarge(what string, size, limit int) error {
	return &event.Rejection{Reason: reasonOutputTooLarge,
		Detail: what + " would be " + strconv.Itoa(size) + " bytes, over output.max_record_bytes " + strconv.Itoa(limit)}
}

// fitTopics returns the record bound to use against topics: max, or less
// when a topic's max.message.bytes cannot take a batch of max+batchOverhead
// (a cluster whose topics were made with a smaller limit than the resolver's
// config assumes). Then records up to the bound are never refused for their
// size, and the producers' batches fit every topic. A cluster that does not
// let the resolver describe topic configs keeps max, with a warning.
func fitTopics(ctx context.Context, adm *kadm.Client, topics []string, max int, log *zap.Logger) (int, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		log.Warn("cannot read the output topics' max.message.bytes; assuming output.max_record_bytes fits them", zap.Error(err))
		return max, nil
	}
	fit := max
	for _, rc := range rcs {
		if rc.Err != nil {
			log.Warn("cannot read a topic's max.message.bytes; assuming output.max_record_bytes fits it", zap.String("topic", rc.Name), zap.Error(rc.Err))
			continue
		}
		for _, c := range rc.Configs {
			if c.Key != "max.message.bytes" || c.Value == nil {
				continue
			}
			limit, err := strconv.Atoi(*c.Value)
			if err != nil || limit-batchOverhead >= fit {
				continue
			}
			if limit-batchOverhead < MinMaxRecordBytes {
				return 0, fmt.Errorf("stream: topic %s has max.message.bytes %d: too small for any output (at least %d): raise it", rc.Name, limit, MinMaxRecordBytes+batchOverhead)
			}
			fit = limit - batchOverhead
			log.Warn("output.max_record_bytes lowered to fit a topic's max.message.bytes",
				zap.String("topic", rc.Name), zap.Int("max.message.bytes", limit), zap.Int("output.max_record_bytes", max), zap.Int("now", fit))
		}
	}
	return fit, nil
}
