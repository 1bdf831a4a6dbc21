// Package metrics is the resolver's Prometheus instrumentation: one
// Metrics value holds every metric on its own registry (never the global
// one, so tests and several pipelines in one process do not collide), fed
// by the pipeline through stream.Observer and by the replica through a
// collector that reads its cache counters and disk size at scrape time.
//
// It is a package of its own, not part of internal/admin, because the two have
// different users: the pipeline's wiring creates the metrics and hands them
// to stream.Config.Observer whether or not anything serves them (a
// benchmark or a test reads them with a Gatherer), while internal/admin only
// serves some prometheus.Gatherer over HTTP and knows nothing of what is in
// it. Keeping them apart keeps internal/admin free of pkg/stream.
//
// # Metrics
//
// From the partition workers (counted once per committed transaction, so a
// batch that is aborted and processed again counts once):
//
//	resolver_events_consumed_total                      records consumed from topics.raw
//	resolver_events_stamped_total{team,class}           events stamped, by billing class
//	resolver_events_dead_lettered_total{reason}         records sent to the dead-letter topic
//	resolver_ingestion_warnings_total{type}             ingestion warnings produced
//	resolver_identity_ops_logged_total                  identity ops produced to identity_log
//	resolver_transactions_total{outcome}                committed / aborted
//	resolver_zombie_batches_total{fate}                 batches aborted because this instance's claim to them had ended:
//	                                                    group_fenced (the group moved their partitions on), producer_fenced
//	resolver_batch_duration_seconds                     poll to end of transaction (histogram)
//	resolver_transaction_duration_seconds{outcome}      ending the transaction (histogram)
//
// From the applier (every instance applies every op, so these are the same
// on every instance; do not sum them across instances):
//
//	resolver_identity_ops_total{result}                 applied / skipped (duplicate) / malformed (not an op) / rejected (no replica can apply it)
//	resolver_applier_paused                             1 while paused at an op of an unknown version (waiting for an upgrade)
//	resolver_identity_merges_total                      merge requests that joined two persons
//	resolver_identity_merge_refusals_total{type}        merge requests refused, by warning type
//	resolver_applier_lag_offsets                        identity_log records not yet applied
//	resolver_applier_lag_seconds                        while records are missing, seconds since the log last held
//	                                                    nothing unapplied (grows while the applier is stuck); 0 when caught up
//	resolver_ready                                      1 while /readyz says ready, else 0
//
// The three come from the lag poller, which lists identity_log's end offsets
// every readiness.max_lag/4 (stream.Config.LagInterval); their values are
// as of the last listing.
//
// From the billing view (the same on every instance):
//
//	resolver_billing_deltas_total{result}               billing_usage records folded / malformed / rejected
//
// From the replica, read at scrape time:
//
//	resolver_state_cache_hits_total, resolver_state_cache_misses_total
//	resolver_state_cache_hit_ratio                      hits / (hits + misses) since start
//	resolver_state_cache_bytes, resolver_state_cache_entries
//	resolver_state_disk_bytes                           disk space of the Badger directory
//
// From the replica's upkeep (`resolver run`'s maintenance and the outbox
// trimmer):
//
//	resolver_state_disk_free_bytes                      free space of state.dir's filesystem, read every second
//	resolver_state_disk_below_floor                     1 while below state.min_free_bytes (the instance stops)
//	resolver_state_value_log_gc_runs_total              value log garbage collections run
//	resolver_state_value_log_gc_rewrites_total          value log files rewritten by them
//	resolver_state_value_log_gc_reclaimed_bytes_total   disk space they gave back
//	resolver_outbox_trim_errors_total                   failed outbox trims (logged at warn; retried)
//
// From the worker clients, read at scrape time (WatchConsumerLag; one
// ListOffsets request per scrape):
//
//	resolver_consumer_lag_records{topic,partition}      records of topics.raw not consumed yet by this instance: the
//	                                                    partition's end offset minus the workers' position (after the
//	                                                    last polled record, else the committed offset), for the
//	                                                    partitions this instance consumes
//
// From every Kafka client of the pipeline (ClientHooks; franz-go's
// plugin/kprom, namespace resolver, label client_id = the client's role:
// worker, ops, keys, admin, ...; role-2, ... while several are open):
//
//	resolver_connects_total, resolver_connect_errors_total, resolver_disconnects_total{node_id}
//	resolver_write_bytes_total, resolver_read_bytes_total, resolver_write_errors_total, resolver_read_errors_total{node_id}
//	resolver_produce_{compressed,uncompressed}_bytes_total, resolver_produce_batches_total,
//	resolver_produce_records_total{node_id,topic}       what output.compression and kafka.compression save
//	resolver_fetch_{compressed,uncompressed}_bytes_total, resolver_fetch_batches_total, resolver_fetch_records_total{node_id,topic}
//	resolver_buffered_{produce,fetch}_records_total, resolver_buffered_{produce,fetch}_bytes
//
// And resolver_build_info{version,commit,goversion} (always 1; the labels of
// `resolver version`), resolver_metrics_team_labels, the number of teams
// that have their own team label, plus the standard go_* and process_*
// collectors.
//
// # The team label
//
// resolver_events_stamped_total carries the team so that a team's billed
// traffic can be watched, but teams are unbounded and every label value is
// a time series. The first Config.TeamCap teams seen by this process keep
// their own label for its lifetime; events of every later team are counted
// under team="other". The cap is per process: after a restart the first
// teams seen may be others.
//
// A team is input, so each label value is also bounded (LabelValue): at
// most 64 bytes of valid, printable UTF-8, non-printable characters and
// invalid bytes replaced by U+FFFD. The reason and type labels come from
// the resolver's fixed sets; a value that does not look like one (an
// identifier of lowercase ASCII letters, digits, '_', '$') is counted as
// "other", and at most 64 values per metric get their own series, so
// nothing read from input can grow them.
package metrics
