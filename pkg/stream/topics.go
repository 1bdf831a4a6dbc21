package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// EnsureTopics creates every topic in names that does not exist yet, with
// partitions partitions each, logging each one it creates. Existing topics
// are left as they are.
func EnsureTopics(ctx context.Context, adm *kadm.Client, names []string, partitions int32, replication int16, log *zap.Logger) error {
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return fmt.Errorf("stream: list topics: %w", err)
	}
	var missing []string
	for _, n := range names {
		if d, ok := details[n]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	resps, err := adm.CreateTopics(ctx, partitions, replication, nil, missing...)
	if err != nil {
		return fmt.Errorf("stream: create topics %v: %w", missing, err)
	}
	for _, r := range resps.Sorted() {
		switch {
		case r.Err == nil:
			log.Info("created missing topic", zap.String("topic", r.Topic), zap.Int32("partitions", partitions))
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
		default:
			return fmt.Errorf("stream: create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}
