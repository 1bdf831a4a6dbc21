// Command resolver is the streaming person-resolution pipeline of
// docs/DESIGN.md: it reads raw capture events from Kafka, resolves each event's
// person in a local, replicated identity graph, and writes the stamped
// events, the person and distinct-id tables, ingestion warnings and billing
// deltas, exactly once.
//
// Commands:
//
//	resolver run      the pipeline. With kafka.brokers empty it first starts
//	                  the embedded broker on kafka.embedded.listen (data in
//	                  <state.dir>/broker). It creates missing topics, opens
//	                  the identity state in <state.dir>/identity and runs
//	                  until SIGINT/SIGTERM, then shuts down in order within
//	                  stream.shutdown_timeout. A second signal exits at once.
//	                  With teams.file set, SIGHUP reloads the team map.
//	resolver broker   the embedded broker alone, until SIGINT/SIGTERM, for
//	                  other processes and any Kafka client; it creates the
//	                  configured topics (--partitions each) and prints
//	                  "resolver broker listening on ADDR".
//
// Later commands (rebuild, fingerprint, lookup, explain, billing report, gen, bench,
// demo) each live in their own file, as a method of cli returning a
// *cobra.Command, added in rootCmd.
//
// Configuration is read once, here, and only here (viper): built-in
// defaults, then --config FILE (YAML), then environment variables
// RESOLVER_<SECTION>_<KEY> (comma-separated lists), then flags. It is
// unmarshalled into Config, validated, and handed down as typed values
// (Config.ToStream for the pipeline). configs/resolver.yaml lists every key
// with its default and unit; tests keep it equal to defaultConfig.
//
// Exit codes: 0 success (including a clean shutdown on a signal); 2 invalid
// configuration or command line, with the key and the bad value on stderr,
// before anything is started; 1 any other failure, and a second signal
// during shutdown.
//
// Logs are zap JSON lines on stderr, or the console encoder when stderr is a
// terminal (log.format), at log.level; each component logs under its own
// name (broker, topics, state, stream).
package main
