package stream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"go.uber.org/zap"
)

// EnsureTopics creates every topic in names that does not exist yet, with
// partitions partitions each, logging each one it creates; existing topics
// are left as they are. While the cluster cannot be reached it retries with
// backoff (capped at maxBackoff), logging each failure; it gives up only on
// an error retrying cannot fix (authorization, a rejected topic config, a
// TLS certificate) or when ctx is done, returning ctx.Err(). partitions and
// replication are kafka.topic_partitions and kafka.replication_factor, in
// the ranges Config.Validate admits.
//
// Topics named by a CompactTopics option are created with
// cleanup.policy=compact (identity_keys: the newest record of a key is
// all that must stay).
func EnsureTopics(ctx context.Context, adm *kadm.Client, names []string, partitions, replication int, maxBackoff time.Duration, log *zap.Logger, opts ...TopicOption) error {
	o := newTopicOptions(opts)
	backoff := 100 * time.Millisecond
	for {
		err := ensureTopics(ctx, adm, names, int32(partitions), int16(replication), o, log) // validated
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryableAdmin(err) {
			return err
		}
		log.Warn("cannot reach the cluster to create topics; retrying", zap.Error(err), zap.Duration("backoff", backoff))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// retryableAdmin reports whether creating topics may succeed if tried
// again: anything but a Kafka error the protocol marks as final, or a failed
// TLS certificate check.
func retryableAdmin(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	var cv *tls.CertificateVerificationError
	return !errors.As(err, &cv)
}

// TopicOption changes how EnsureTopics creates topics.
type TopicOption func(*topicOptions)

type topicOptions struct {
	compact map[string]bool
	single  map[string]bool
}

// newTopicOptions applies opts.
func newTopicOptions(opts []TopicOption) topicOptions {
	var o topicOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// CompactTopics makes EnsureTopics create the named topics compacted.
func CompactTopics(names ...string) TopicOption {
	return func(o *topicOptions) { o.compact = addNames(o.compact, names) }
}

// SinglePartition makes EnsureTopics create the named topics with one
// partition, whatever the partitions of the others.
func SinglePartition(names ...string) TopicOption {
	return func(o *topicOptions) { o.single = addNames(o.single, names) }
}

// addNames adds names to the set m, making it if nil.
func addNames(m map[string]bool, names []string) map[string]bool {
	if m == nil {
		m = make(map[string]bool, len(names))
	}
	for _, n := range names {
		m[n] = true
	}
	return m
}

// TopicOptions are the creation options of the config's topics:
// identity_keys compacted; identity_commands one partition — commands are
// rare and are then applied in the order they were written, and a
// partition of it weighs as much as one of events_raw when the group
// spreads partitions over its members.
func (t Topics) TopicOptions() []TopicOption {
	return []TopicOption{CompactTopics(t.Keys), SinglePartition(t.Commands)}
}

// CreateTopics creates the topics names, without first listing them, as
// EnsureTopics creates the missing ones (opts as its), and returns each
// topic's response. It is for topics known not to exist yet: the bench's
// turns. (A listing before the creation would leave adm's client with
// metadata that says the topics do not exist, which kgo keeps for a few
// seconds, and requests routed by it would fail.)
func CreateTopics(ctx context.Context, adm *kadm.Client, names []string, partitions int32, replication int16, opts ...TopicOption) (kadm.CreateTopicResponses, error) {
	return createTopics(ctx, adm, names, partitions, replication, newTopicOptions(opts))
}

func ensureTopics(ctx context.Context, adm *kadm.Client, names []string, partitions int32, replication int16, o topicOptions, log *zap.Logger) error {
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
	resps, err := createTopics(ctx, adm, missing, partitions, replication, o)
	if err != nil {
		return err
	}
	for _, r := range resps.Sorted() {
		switch {
		case r.Err == nil:
			log.Info("created missing topic", zap.String("topic", r.Topic), zap.Int32("partitions", r.NumPartitions))
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
		default:
			return fmt.Errorf("stream: create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// createTopics creates names: compacted those o names so, of one
// partition those o names so, the rest plain.
func createTopics(ctx context.Context, adm *kadm.Client, names []string, partitions int32, replication int16, o topicOptions) (kadm.CreateTopicResponses, error) {
	var plain, compact, single []string
	for _, n := range names {
		switch {
		case o.compact[n]:
			compact = append(compact, n)
		case o.single[n]:
			single = append(single, n)
		default:
			plain = append(plain, n)
		}
	}
	resps := kadm.CreateTopicResponses{}
	for _, set := range []struct {
		names      []string
		partitions int32
		configs    map[string]*string
	}{{plain, partitions, nil}, {compact, partitions, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}}, {single, 1, nil}} {
		if len(set.names) == 0 {
			continue
		}
		rs, err := adm.CreateTopics(ctx, set.partitions, replication, set.configs, set.names...)
		if err != nil {
			return nil, fmt.Errorf("stream: create topics %v: %w", set.names, err)
		}
		for n, r := range rs {
			resps[n] = r
		}
	}
	return resps, nil
}
