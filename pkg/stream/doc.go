// Package stream is the resolver's Kafka side, on franz-go: topic
// creation, the applier that replays the identity log into the
// local replica, and the pipeline whose partition batches turn raw capture
// events into person-stamped events, feed rows, warnings and billing deltas,
// each batch in one Kafka transaction with its consumed offsets.
//
// See docs/DESIGN.md for the shape: Kafka is the source of truth; every instance
// applies all of identity_log, in order, into its own Badger replica; the
// worker that owns an input partition logs the ops its batch implies, waits
// until its own replica has applied them, and stamps from that replica.
//
// Within a batch, the CPU-bound steps (decoding, and stamping once the
// batch's ops are applied) run on GOMAXPROCS goroutines over contiguous
// chunks of records; everything that is produced is produced in input
// order. Identity ops travel as oplog.proto's Op (package oplog);
// version-1 JSON records stay readable. The worker sessions (two per
// instance by default) join the group with kafka.group_protocol (KIP-848
// "consumer" by default, asking the broker for its range assignor, which
// spreads each topic's partitions over the members) and initialise their
// transactional producer as soon as they exist, so a restarted instance
// aborts what its killed predecessor left open.
//
// No single record of identity_log or billing_usage stops the fleet: the
// applier and the billing view skip, identically on every replica, what no
// replica can apply (with a warn line and a metric), pause at an op of a
// version they do not know, and stop only on a local failure, with its
// cause (Applier, BillingView; their Health feeds readiness).
package stream
