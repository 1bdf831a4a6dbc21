package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/lifecycle"
)

// ErrNoOutcome: a command was written but its outcome did not appear on
// person_merges within the wait (no instance running, or all of them
// behind). The command stays on the commands topic and is applied when an
// instance consumes it.
var ErrNoOutcome = errors.New("stream: the command's outcome did not appear on person_merges in time")

// Outcome is what a command did: its person_merges rows (every part), in
// order. A refused command (or the deletion of an unknown id) has one row
// with Refused set.
type Outcome struct {
	Rows []MergeRow
	// Where the command record was written.
	Partition int32
	Offset    int64
}

// Refused is why the command changed nothing, or "".
func (o *Outcome) Refused() string {
	if len(o.Rows) == 0 {
		return ""
	}
	return o.Rows[0].Refused
}

// Moved are the distinct_ids the command moved (a split) or deleted.
func (o *Outcome) Moved() []string {
	var ids []string
	for _, r := range o.Rows {
		ids = append(ids, r.DistinctIDsMoved...)
	}
	return ids
}

// Request writes an admin command to t.Commands and, with wait > 0, waits
// up to wait for its outcome on t.Merges (read_committed: rows of committed
// transactions only). Without a wait it returns once the command is
// written, with no rows.
func Request(ctx context.Context, k Kafka, t Topics, c lifecycle.Command, wait time.Duration, log *zap.Logger) (Outcome, error) {
	val, err := c.Encode()
	if err != nil {
		return Outcome{}, err
	}
	cl, err := kgo.NewClient(append(ClientOpts(k, log, "request"), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
	if err != nil {
		return Outcome{}, fmt.Errorf("stream: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	// Where person_merges ends before the command exists: its outcome is
	// after that.
	var from map[int32]kgo.Offset
	if wait > 0 {
		ends, err := adm.ListEndOffsets(ctx, t.Merges)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("stream: list the end offsets of %s: %w", t.Merges, err)
		}
		from = map[int32]kgo.Offset{}
		ends.Each(func(o kadm.ListedOffset) { from[o.Partition] = kgo.NewOffset().At(o.Offset) })
	}
	res := cl.ProduceSync(ctx, &kgo.Record{Topic: t.Commands, Key: []byte(c.Team), Value: val})
	if err := res.FirstErr(); err != nil {
		return Outcome{}, fmt.Errorf("stream: write the command to %s: %w", t.Commands, err)
	}
	out := Outcome{Partition: res[0].Record.Partition, Offset: res[0].Record.Offset}
	if wait <= 0 {
		return out, nil
	}
	rd, err := kgo.NewClient(append(ClientOpts(k, log, "request-outcome"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{t.Merges: from}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond),
		noFetchSessions,
	)...)
	if err != nil {
		return out, fmt.Errorf("stream: %w", err)
	}
	defer rd.Close()
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		fs := rd.PollFetches(wctx)
		if wctx.Err() != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			return out, fmt.Errorf("%w (waited %s; command %s at %s/%d@%d)", ErrNoOutcome, wait, c.RequestID, t.Commands, out.Partition, out.Offset)
		}
		var done bool
		fs.EachRecord(func(r *kgo.Record) {
			var row MergeRow
			if done || json.Unmarshal(r.Value, &row) != nil || row.EventUUID != c.RequestID || row.SourceTopic != t.Commands {
				return
			}
			out.Rows = append(out.Rows, row)
			done = row.Part >= row.Parts
		})
		if done {
			return out, nil
		}
	}
}
