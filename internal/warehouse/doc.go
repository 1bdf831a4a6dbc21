// Package warehouse is the Go model of the warehouse side of the resolver:
// what the ClickHouse schema in configs/clickhouse does with the identity
// topics it ingests (events_person, persons, person_distinct_ids,
// person_merges), written out in Go so that it can be tested against the
// resolver itself. (The schema also ingests ingestion_warnings,
// events_dead_letter and billing_usage, with a monthly bill; the tests
// check those tables against the rows the resolver writes and package
// billing, without a model type.)
//
// The model has three parts.
//
//   - Tables folds rows the way ReplacingMergeTree(version) does once its
//     parts have merged: per key, the row with the highest version, and of
//     rows with equal versions the one inserted last. Persons are keyed by
//     (team, id), distinct-id rows by (team, distinct_id). Deleted rows are
//     kept (is_deleted is a column, not a delete), as in the schema.
//   - Tables.CurrentPersonID is the rule of the view
//     events_with_current_person: an event's current person is given by the
//     latest override of its (team, distinct_id) — the distinct-id rows of
//     version > 0, table person_distinct_id_overrides — that row's
//     person_id, or the id's implicit person if the row is deleted — and
//     is the person it was stamped with when there is no override.
//   - Tables.InsertMerge and Tables.MergeEvents are person_merges, the
//     lineage of docs/SEMANTICS.md §8 (one row per record and part; a copy
//     the Kafka engine delivered twice is kept once), and the rule of the
//     view person_merge_events: the events of the ids one record moved,
//     with the person each was stamped with and the record's survivor.
//
// Once every row of the feeds has been folded in, CurrentPersonID agrees
// with the resolver's own lookup (unionfind.Find) for every stamped event:
// pkg/stream's warehouse test checks this over a generated stream with
// merges, on the embedded broker. The tests of this package check the SQL
// files themselves, written for ClickHouse 24.8 (no ClickHouse server runs
// where this is tested, so the files are never executed here): a small
// tokenizer reads statements, names and their order, columns against the
// JSON fields of the rows, the values of sample records of every topic
// against their columns' types; an evaluator runs the implicit-person
// function against unionfind.ImplicitPersonID and the bill's tier
// arithmetic and delta filter against pkg/billing. They also check
// docker-compose.yml and the Dockerfile that run the whole thing on a real
// cluster, and the Prometheus config, alert rules (promtool, where
// installed) and Grafana dashboard that watch it.
//
// The package is plain Go: it imports only the identity core
// (pkg/unionfind) for the implicit person id, and the feed rows
// (internal/feed).
package warehouse
