// Package stream is the resolver's Kafka side, on franz-go: the embedded
// broker, topic creation, the applier that replays the identity log into the
// local replica, and the pipeline whose partition batches turn raw capture
// events into person-stamped events, feed rows, warnings and billing deltas,
// each batch in one Kafka transaction with its consumed offsets.
//
// See DESIGN.md for the shape: Kafka is the source of truth; every instance
// applies all of identity_log, in order, into its own Badger replica; the
// worker that owns an input partition logs the ops its batch implies, waits
// until its own replica has applied them, and stamps from that replica.
package stream
