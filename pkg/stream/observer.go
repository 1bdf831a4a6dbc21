package stream

import (
	"time"

	"github.com/resolver-dev/resolver/pkg/billing"
)

// Observer receives the pipeline's counts, for metrics (internal/metrics has the
// Prometheus one). It is optional: Config.Observer nil costs nothing.
//
// Threading contract: ObserveBatch is called from each worker's loop after
// every transaction — with Config.Workers > 1, concurrently from several
// workers, each passing its own report —, ObserveApply from the applier
// after every applied chunk of identity_log, ObserveLag from the lag poller
// every Config.LagInterval. The three may run concurrently with each other;
// only ObserveApply and ObserveLag never run concurrently with themselves. They are called synchronously on the
// processing path: they must return quickly and never block. A report and
// the slices it points to are valid only during the call (they are reused).
type Observer interface {
	ObserveBatch(*BatchReport)
	ObserveApply(*ApplyReport)
	ObserveLag(LagReport)
}

// TrimObserver is an optional interface of an Observer: ObserveTrimError
// is called for every failed outbox trim (reading the group's committed
// offsets, or deleting a partition's rows), from the trimming goroutine. It
// must return quickly.
type TrimObserver interface {
	ObserveTrimError()
}

// BatchReport is one batch of the worker loop: one poll, one transaction.
type BatchReport struct {
	// Records is the number of records consumed by the batch.
	Records int
	// Committed is whether the transaction committed. An aborted batch is
	// processed again later; its output counts below are zero.
	Committed bool
	// Duration is the whole batch: from the poll's return to the end of its
	// transaction.
	Duration time.Duration
	// EndDuration is the part of Duration spent ending the transaction
	// (flushing its records, then committing or aborting).
	EndDuration time.Duration
	// OpsLogged is the number of identity ops produced to identity_log.
	// They are logged outside the transaction, so they are counted for an
	// aborted batch too.
	OpsLogged int
	// Stamped is the billing deltas of the batch's stamped events: one per
	// (team, month, class), exactly what went to billing_usage.
	Stamped []billing.Delta
	// DeadLettered counts the records sent to the dead-letter topic, by
	// reason (the "error" header).
	DeadLettered []Count
	// Warnings counts the ingestion warnings produced, by type: the
	// decoder's and the identity graph's (merge refusals).
	Warnings []Count
	// Steps is where Duration went, step by step (Step): what to look at
	// first when a worker is slow. The poll before the batch is not in it.
	Steps [NumSteps]time.Duration
	// Zombie, when not empty, says the batch was held by a zombie — an
	// instance whose claim to the batch had ended while it worked — and
	// how that was found: ZombieGroupFenced or ZombieProducerFenced. The
	// transaction is then aborted (Committed is false) and the records go
	// to whoever owns their partitions now.
	Zombie string
}

// Step is a step of a worker's batch (BatchReport.Steps), in the order the
// batch takes them (docs/DESIGN.md, "Partition workers").
type Step int

// The steps of a batch.
const (
	StepDecode  Step = iota // decoding the poll's records
	StepReplica             // step 0: waiting for the replica to reach identity_log's listed end
	StepOps                 // step 1: resolving, sealing and logging the batch's identity ops
	StepApplied             // step 1: waiting for the applier to apply them
	StepFeed                // step 2: the feed rows of the batch's ops, from the outbox
	StepStamp               // step 3: stamping, producing, dead letters, billing deltas
	StepFlush               // flushing the transaction's records
	StepEnd                 // committing (or aborting) the transaction
	NumSteps                // the number of steps
)

var stepNames = [NumSteps]string{"decode", "replica", "ops", "applied", "feed", "stamp", "flush", "end"}

// String is the step's name, as metrics label it.
func (s Step) String() string {
	if s < 0 || s >= NumSteps {
		return "unknown"
	}
	return stepNames[s]
}

// The fates of a zombie's batch (BatchReport.Zombie), as the broker
// refused it.
const (
	// ZombieGroupFenced: the consumer group had moved the batch's
	// partitions on — the member's session expired (cut off from the
	// broker for longer than kafka.session_timeout) or the coordinator
	// fenced its member epoch —, so the broker refused its offset commit
	// (or the member learnt it had lost its partitions first) and the
	// transaction was aborted.
	ZombieGroupFenced = "group_fenced"
	// ZombieProducerFenced: the broker knew a newer epoch of the
	// worker's transactional producer — the transaction outlived its
	// timeout and the broker aborted it, or a newer incarnation of the
	// transactional id began —, so it refused the batch's records or
	// their commit; the worker's session is replaced.
	ZombieProducerFenced = "producer_fenced"
)

// ApplyReport is one chunk of identity_log applied to the replica in one
// Badger transaction. Every instance applies every op, so these counts are
// the same on every instance: they describe the replica, not the work
// shared between instances.
type ApplyReport struct {
	// Applied, Skipped, Malformed and Rejected count the chunk's records:
	// ops applied, duplicate ops skipped (at or below the source's high
	// water mark), records that are not ops (a tombstone, undecodable), and
	// ops that no replica can apply (invalid, too large for a key, a source
	// that is not a record of the input topic). The last two are logged at
	// warn level and skipped, identically on every replica.
	Applied, Skipped, Malformed, Rejected int
	// Paused is whether, after the chunk, a partition of identity_log is
	// paused at an op of a version this binary does not know (the applier
	// waits there for an upgrade; Applier.Health).
	Paused bool
	// Merges is the number of merge requests that joined two persons.
	Merges int
	// Refusals counts merge requests refused, by warning type
	// (cannot_merge_with_illegal_distinct_id, cannot_merge_already_identified,
	// merge_move_limit_exceeded).
	Refusals []Count
}

// BillingObserver is an optional extension of Observer, found by type
// assertion on Config.Observer: the billing view's counts. ObserveBilling
// is called from the billing view's goroutine after every fold, never
// concurrently with itself; the report is valid only during the call.
type BillingObserver interface {
	ObserveBilling(*BillingReport)
}

// BillingReport is one fold of billing_usage records into the totals.
// Every instance folds every record, so these counts are the same on every
// instance.
type BillingReport struct {
	// Folded deltas were added to their totals. Malformed records are not
	// deltas (a tombstone, undecodable JSON). Rejected deltas decoded but
	// are out of bounds (billing.Delta.Validate) or would overflow their
	// total. Malformed and rejected records are logged at warn level and
	// skipped, identically on every replica.
	Folded, Malformed, Rejected int
}

// LagReport is how far the applier is behind identity_log, and whether the
// instance is ready (Pipeline.Ready).
type LagReport struct {
	// Offsets is the number of identity_log records not applied yet: log
	// end offset (as last listed) minus next offset to apply, summed over
	// partitions.
	Offsets int64
	// Behind is how long ago identity_log last held nothing the replica
	// has not applied — now minus the time of the newest end-offset listing
	// the applier has reached (lagTracker) — while it has not reached the
	// newest, and zero once it has. A stuck applier's Behind grows with
	// the clock, however few records it lacks.
	Behind time.Duration
	// Ready is whether Pipeline.Ready said ready when the report was made.
	Ready bool
}

// Count is a number of occurrences of one key (a reason, a type).
type Count struct {
	Key string
	N   int
}

// addCount adds n to key's count in *cs. The keys of one batch are few (a
// handful of reasons or types), so a linear search in a reused slice beats
// a map and allocates nothing once the slice has grown.
func addCount(cs *[]Count, key string, n int) {
	for i := range *cs {
		if (*cs)[i].Key == key {
			(*cs)[i].N += n
			return
		}
	}
	*cs = append(*cs, Count{Key: key, N: n})
}
