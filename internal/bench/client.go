package bench

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/stream"
)

// clientOpts are the pipeline's own client options (stream.ClientOpts),
// so both sides of the comparison connect alike.
func clientOpts(k stream.Kafka, log *zap.Logger, name string) []kgo.Opt {
	return stream.ClientOpts(k, log, "bench-"+name)
}

// NewProducer returns a client for Produce: idempotent (kgo's default),
// batched (kgo's 10 ms linger and 1 MB batches), partitioning by
// key as Kafka's default partitioner does, so records keyed
// "token:distinct_id" land where capture would put them. opts are appended.
func NewProducer(k stream.Kafka, log *zap.Logger, opts ...kgo.Opt) (*kgo.Client, error) {
	if log == nil {
		log = zap.NewNop()
	}
	all := append(clientOpts(k, log, "producer"),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.MaxBufferedRecords(50_000),
	)
	cl, err := kgo.NewClient(append(all, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("bench: producer: %w", err)
	}
	return cl, nil
}
