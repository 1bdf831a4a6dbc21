// Package bench measures the resolver against the broker's own limit, in
// one process run, on the same generated input: turns of a plain franz-go
// transactional consume→produce passthrough (the limit: no decoding, one
// output record per input record) and of the full pipeline (stream.Pipeline:
// decode, identity ops through identity_log, stamping, feeds, billing,
// exactly-once), interleaved A B A B so that machine noise hits both alike.
//
// Each turn starts from scratch: fresh topics, a fresh consumer group and
// transactional ids and, for the resolver, fresh state directories. The
// processors start first and are warmed up on a few records until the group
// is stable; then the turn's input is produced in one transaction, so that it
// becomes visible to the read_committed consumers at one instant, and the
// throughput window runs from that commit until every input record's
// transaction has committed. Then a paced trickle of probe records measures
// end-to-end latency (produce → visible to a read_committed consumer), and
// the turn's topics are deleted, so the broker carries nothing from one turn
// into the next.
//
// Run drives a whole comparison and returns a Report; the go test
// benchmarks BenchmarkPipeline and BenchmarkPassthrough run single turns.
// "resolver bench" is the command-line front end, and "resolver gen" uses
// Produce to write a generated stream into any broker.
package bench
