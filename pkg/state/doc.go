// Package state is an instance's replica of the identity state: the
// unionfind.Store on Badger, with the applier's offsets, the outbox of feed
// rows, and the billing view, all in one key space documented in keys.go.
//
// The identity_log in Kafka is the source of truth; this is a rebuildable
// view of it. What makes it safe to rebuild and to compare:
//
//   - Atomic batches. Update runs a batch of unionfind.Graph.Apply calls
//     and the log offset they reach (Tx.SetApplied), the per-source high
//     water marks and the outbox rows in one Badger transaction: a crash
//     never leaves state and offsets disagreeing (sorted commits, below,
//     trade this for speed in a replay, and mark the store meanwhile). The applier resumes from
//     AppliedOffsets. A process killed while Badger creates a write-ahead
//     log leaves it empty, which Badger cannot open; Open removes such
//     files first (emptylogs.go; TestKilledWriterReopens kills a writer
//     and reopens its store 40 times).
//   - Determinism. Keys and values have one encoding each (keys.go,
//     codec.go), so the same ops give byte-identical state, and
//     Fingerprint — a SHA-256 over the identity keys — is equal across
//     replicas, engines and batch boundaries.
//   - Pipelined replay. With SetPipelined (stream.Rebuild) an Update
//     returns once its commit is handed to Badger, and the next one reads
//     that commit's writes from an overlay while it is written
//     (pipelined.go); readers wait for it, so nothing else changes. With
//     SetReplayFilter a replay's transactions also skip reading what was
//     never written, and read the members of persons made during the
//     replay from memory (replayfilter.go). With SetSortedCommits a
//     commit is written in key order as several Badger transactions, at
//     half the memtable's cost; the store is marked until they have all
//     landed, and Open refuses a marked store (ErrUnfinishedReplay). With
//     SetDeferredIndex the lineage index rows, which no op reads, are held
//     back and stream-written in key order when the sorted commits end
//     (deferredindex.go). A store opened with Options.Replay lets Badger's
//     level-0 tables wait (up to ReplayLevelZeroTables) instead of
//     compacting them into the levels as the state grows, and
//     CompactLevelZero compacts them in one pass at the replay's end.
//   - Two engines, one logic. Open gives Badger; NewMemory a sorted map for
//     fast tests. Both run the same transaction code (tx.go) over a tiny
//     key-value interface (kv.go), and one conformance suite tests both.
//
// Find, the read of every stamped event, goes through a bounded
// read-through cache that only Update's commit path writes authoritatively
// (cache.go explains the race it avoids).
package state
