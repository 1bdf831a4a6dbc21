package stream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// follower folds one topic into the replica: it consumes every partition of
// the topic (direct assignment, no group) from the next offsets the replica
// stored, hands each poll to its owner, which stores the records' effect
// together with the next offsets in one Badger transaction and then calls
// advance; and it lets other goroutines wait for those offsets and learn
// why it stopped. The Applier (identity_log) and the BillingView
// (billing_usage) are followers with their own folds.
//
// run is called once, from one goroutine, which is then the only one to
// call advance; wait, offsets, health and done are safe from any goroutine.
type follower struct {
	topic string
	cl    *kgo.Client // nil for an owner made without a client (tests that fold by hand)
	// stoppedErr is the owner's sentinel of a follower that has stopped
	// (ErrApplierStopped, ErrBillingViewStopped), fatal to the instance.
	stoppedErr error

	mu      sync.Mutex      // guards the fields below, and the owner's state that its waits judge by (update)
	next    map[int32]int64 // next offset to fold per partition, as stored
	changed chan struct{}   // closed and replaced after every advance and update
	stopped chan struct{}   // closed when run returns
	stopErr error           // why run returned, wrapping stoppedErr; set before stopped is closed
}

// newFollower is a follower of topic from next, the offsets stored (nil:
// none), without its client (consume sets it).
func newFollower(topic string, next map[int32]int64, stoppedErr error) *follower {
	if next == nil {
		next = map[int32]int64{}
	}
	return &follower{topic: topic, stoppedErr: stoppedErr, next: next,
		changed: make(chan struct{}), stopped: make(chan struct{})}
}

// consume makes the follower's client: parts, the topic's partitions
// (topicPartitions), each from the offset stored for it or else from its
// start. opts add to the client options of cfg named name, whose logger is
// named under log.
func (f *follower) consume(cfg Kafka, parts []int32, log *zap.Logger, name string, opts ...kgo.Opt) error {
	start := map[int32]kgo.Offset{}
	for _, p := range parts {
		if next, ok := f.next[p]; ok {
			start[p] = kgo.NewOffset().At(next)
		} else {
			start[p] = kgo.NewOffset().AtStart()
		}
	}
	cl, err := kgo.NewClient(append(append(ClientOpts(cfg, log, name),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{f.topic: start}), noFetchSessions),
		append(replicatedFetchOpts(), opts...)...)...)
	if err != nil {
		return err
	}
	f.cl = cl
	return nil
}

// run polls at most max records at a time until ctx is done or fold fails,
// calling fold with each poll's records, in order, and fetchErr with each
// fetch error (an error fetchErr returns ends run). It owns the client and
// closes it on return. It returns nil when ctx is done, else the error
// that stopped it, as fold or fetchErr gave it; finish wraps it.
func (f *follower) run(ctx context.Context, max int, fetchErr func(partition int32, err error) error, fold func(context.Context, []*kgo.Record) error) error {
	defer f.cl.Close()
	for {
		fs := f.cl.PollRecords(ctx, max)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		var (
			lost    error
			refused []*kgo.ErrDecompressTooLarge
		)
		fs.EachError(func(_ string, p int32, err error) {
			if b, ok := errors.AsType[*kgo.ErrDecompressTooLarge](err); ok {
				refused = append(refused, b)
				return
			}
			lost = errors.Join(lost, fetchErr(p, err))
		})
		if lost != nil {
			return lost
		}
		var recs []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		for _, b := range refused {
			// After the poll's records of its partition, which come
			// before it: its client fetched nothing of the partition past
			// it.
			recs = append(recs, refusedRecord(b))
		}
		if len(recs) == 0 {
			continue
		}
		if err := fold(ctx, recs); err != nil {
			return err
		}
		skipRefused(f.cl, refused, true)
	}
}

// replicatedFetchOpts are the options of every client that reads a topic
// all replicas fold alike (identity_log, billing_usage, identity_keys):
// record batches decompressed within bounds that are the same on every
// replica (boundedDecompressor; a refused batch is skipped by all alike),
// and a fetch response bounded with them.
func replicatedFetchOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.WithDecompressor(newBoundedDecompressor(replicatedBatchBytes, replicatedCompressionRatio)),
		kgo.FetchMaxBytes(boundedFetchMaxBytes),
	}
}

// The bounds of what a follower's client decompresses
// (boundedDecompressor). They decide which record batches every replica
// skips, so they are constants: changing them is a change of what the
// replicated topics mean, as an op's encoding is. A legitimate batch of
// identity_log is at most one producer batch of output.max_record_bytes
// (64 MiB at most) and its framing; snappy (kafka.compression's default)
// cannot pass a ratio of ~21, and sealed property values (the default) do
// not compress.
const (
	replicatedBatchBytes       = 2 * maxMaxRecordBytes
	replicatedCompressionRatio = 256
)

// refusedKey is the Context key of a refusedRecord.
type refusedKey struct{}

// refusedRecord stands for a record batch of a followed topic that the
// client refused to decompress (boundedDecompressor): a record at the
// batch's last offset, with no key or value, whose Context holds the
// refusal. The folds skip it as malformed (refusedBatch), so every replica
// passes the batch alike and stores its offsets as applied.
func refusedRecord(b *kgo.ErrDecompressTooLarge) *kgo.Record {
	return &kgo.Record{Topic: b.Topic, Partition: b.Partition, Offset: b.NextOffset - 1,
		Context: context.WithValue(context.Background(), refusedKey{}, b)}
}

// refusedBatch returns why r, a refusedRecord, was refused, and nil for
// any record a client fetched.
func refusedBatch(r *kgo.Record) error {
	if r.Context == nil {
		return nil
	}
	b, ok := r.Context.Value(refusedKey{}).(*kgo.ErrDecompressTooLarge)
	if !ok {
		return nil
	}
	return fmt.Errorf("a record batch refused unread (offsets %d to %d): it decompresses past %d bytes or %d times its compressed size, or not at all",
		b.Offset, b.NextOffset-1, replicatedBatchBytes, replicatedCompressionRatio)
}

// finish records why run returned and wakes everything waiting on the
// follower; it returns run's error wrapping stoppedErr (nil stays nil).
func (f *follower) finish(err error) error {
	stop := fmt.Errorf("%w: the instance is shutting down", f.stoppedErr)
	if err != nil {
		err = fmt.Errorf("%w: %w", f.stoppedErr, err)
		stop = err
	}
	f.mu.Lock()
	f.stopErr = stop
	f.mu.Unlock()
	close(f.stopped)
	return err
}

// advance records the next offsets stored with a fold, and wakes waiters.
func (f *follower) advance(next map[int32]int64) {
	f.update(func() {
		for p, o := range next {
			f.next[p] = o
		}
	})
}

// update runs fn under the follower's lock, then wakes waiters: the owner
// changes there the state its waits judge by.
func (f *follower) update(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
	close(f.changed)
	f.changed = make(chan struct{})
}

// locked runs fn under the follower's lock, to read what update changes.
func (f *follower) locked(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// offsets returns a copy of the next offset to fold per partition.
func (f *follower) offsets() map[int32]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.next)
}

// health is nil while run runs (or before it), and why it returned after.
func (f *follower) health() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stopErr
}

// done is closed when run has returned (health says why).
func (f *follower) done() <-chan struct{} { return f.stopped }

// progress is how a partition stands against the offset a wait wants.
type progress uint8

const (
	waitBehind  progress = iota // not there yet: wait for the next change
	waitReached                 // there
	waitStuck                   // cannot get there until something outside the follower changes
)

// wait blocks until judge says waitReached for every partition p of want
// (judge(p, next offset to fold, want[p]), called under the follower's
// lock), or until one is waitStuck (then it returns true at once), ctx is done
// (ctx's error), or run returns (health's error).
func (f *follower) wait(ctx context.Context, want map[int32]int64, judge func(p int32, next, want int64) progress) (isStuck bool, err error) {
	for {
		f.mu.Lock()
		done, blocked := true, false
		for p, o := range want {
			switch judge(p, f.next[p], o) {
			case waitBehind:
				done = false
			case waitStuck:
				done, blocked = false, true
			}
		}
		ch := f.changed
		f.mu.Unlock()
		switch {
		case blocked:
			return true, nil
		case done:
			return false, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		case <-f.stopped:
			return false, f.health()
		}
	}
}
