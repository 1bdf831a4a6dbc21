package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// errSourceUnsure: an op's source offset is at or past the cached end of
// its partition (or the partition is not cached); the end offsets must be
// listed again before the op is judged.
var errSourceUnsure = errors.New("stream: source offset at or past the cached end offset")

// maxSourceBackoff bounds the wait between two listings of end offsets that
// failed.
const maxSourceBackoff = 30 * time.Second

// sourceEnds judges op sources against the input topic's end offsets (see
// Applier, "Source offsets"). It is used by the applier's goroutine only.
type sourceEnds struct {
	topic   string
	list    func(context.Context) (map[int32]int64, error) // end offset per partition, as of now
	log     *zap.Logger
	backoff time.Duration   // first wait after a failed listing
	ends    map[int32]int64 // as last listed; nil before the first listing
}

// check judges src. With listed false, an offset the cache cannot vouch
// for returns errSourceUnsure; with listed true (just refreshed), it is
// rejected. Any other error is a rejection that no listing can change.
func (s *sourceEnds) check(src unionfind.Source, listed bool) error {
	switch {
	case src.Topic != s.topic:
		return fmt.Errorf("source topic %.64q is not the input topic %q: no op comes from there", src.Topic, s.topic)
	case src.Partition < 0:
		return fmt.Errorf("source partition %d is negative", src.Partition)
	case src.Offset < 0:
		return fmt.Errorf("source offset %d is negative", src.Offset)
	}
	end, ok := s.ends[src.Partition]
	switch {
	case ok && src.Offset < end:
		return nil
	case !listed:
		return errSourceUnsure
	case !ok:
		return fmt.Errorf("source partition %d does not exist in %s (it has %d partitions)", src.Partition, s.topic, len(s.ends))
	default:
		return fmt.Errorf("source offset %d is at or past the end offset %d of partition %d of %s: no such record",
			src.Offset, end, src.Partition, s.topic)
	}
}

// refresh lists the end offsets again, retrying with backoff until it
// succeeds or ctx is done: a failed listing is this instance's problem, and
// judging without it would reject real ops. Its only error is ctx's.
func (s *sourceEnds) refresh(ctx context.Context) error {
	backoff := max(s.backoff, 100*time.Millisecond)
	for {
		ends, err := s.list(ctx)
		if err == nil && len(ends) == 0 {
			err = fmt.Errorf("no partitions listed (does %s exist?)", s.topic)
		}
		if err == nil {
			if s.ends == nil {
				s.ends = make(map[int32]int64, len(ends))
			}
			for p, o := range ends {
				s.ends[p] = max(s.ends[p], o) // an end offset never goes down
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.log.Warn("list the input topic's end offsets to check op sources (retrying; the applier waits)",
			zap.String("topic", s.topic), zap.Duration("backoff", backoff), zap.Error(err))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxSourceBackoff)
	}
}

// listEnds lists the end offsets of topic's partitions with adm.
func listEnds(adm *kadm.Client, topic string) func(context.Context) (map[int32]int64, error) {
	return func(ctx context.Context) (map[int32]int64, error) {
		lo, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("stream: list end offsets of %s: %w", topic, err)
		}
		out := map[int32]int64{}
		lo.Each(func(o kadm.ListedOffset) {
			if o.Topic == topic {
				out[o.Partition] = o.Offset
			}
		})
		return out, nil
	}
}
