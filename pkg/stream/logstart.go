package stream

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
)

// LogTruncatedError is the ErrLogTruncated of CheckLogStart: the
// partitions of identity_log that lost records a replica had yet to apply.
type LogTruncatedError struct {
	Topic      string
	Partitions []TruncatedPartition // by partition number
}

// TruncatedPartition is one partition of a LogTruncatedError.
type TruncatedPartition struct {
	Partition int32
	// Next is the next offset the replica would apply (0 if it never
	// applied the partition); Start is the partition's log start offset,
	// greater than Next: offsets Next to Start-1 were deleted.
	Next, Start int64
}

func (e *LogTruncatedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v past what this replica has applied: ", ErrLogTruncated)
	for i, p := range e.Partitions {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "partition %d of %s starts at offset %d, but the replica's next offset to apply is %d (offsets %d to %d were deleted, by retention or DeleteRecords, before it applied them)",
			p.Partition, e.Topic, p.Start, p.Next, p.Next, p.Start-1)
	}
	b.WriteString(". Their identity state cannot be replayed: restore a snapshot of an instance that has applied past these offsets" +
		" (resolver snapshot --out FILE of its stopped state, then resolver restore --from FILE into a fresh state.dir for this instance);" +
		" resolver rebuild cannot help, as it needs the log from offset 0")
	return b.String()
}

// Unwrap makes errors.Is(err, ErrLogTruncated) hold.
func (e *LogTruncatedError) Unwrap() error { return ErrLogTruncated }

// CheckLogStart fails with a *LogTruncatedError (ErrLogTruncated) if topic,
// the identity_log, no longer holds records that a replica has yet to
// apply: a partition whose log starts past the replica's next offset to
// apply there (applied, as state.Store.AppliedOffsets returns it; 0 for a
// partition it never applied). Those records' identity state is lost to the
// replica, and consuming from its offset would silently skip to the log
// start. NewApplier checks this before it starts, so `resolver run` and
// Rebuild refuse such a replica; `resolver rebuild` checks it for an empty
// replica before it deletes anything.
func CheckLogStart(ctx context.Context, adm *kadm.Client, topic string, applied map[int32]int64) error {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("stream: list start offsets of %s: %w", topic, err)
	}
	e := &LogTruncatedError{Topic: topic}
	starts.Each(func(o kadm.ListedOffset) {
		if next := applied[o.Partition]; o.Offset > next {
			e.Partitions = append(e.Partitions, TruncatedPartition{Partition: o.Partition, Next: next, Start: o.Offset})
		}
	})
	if len(e.Partitions) == 0 {
		return nil
	}
	slices.SortFunc(e.Partitions, func(a, b TruncatedPartition) int { return int(a.Partition - b.Partition) })
	return e
}
