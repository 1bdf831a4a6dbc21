-- person_distinct_ids: which person each distinct_id belongs to, from the
-- topic person_distinct_ids (docs/SEMANTICS.md §6; stream.DistinctIDRow).
-- ReplacingMergeTree(version) keeps, per (team, distinct_id), the row with
-- the highest version once parts merge; read with FINAL or argMax.
--
-- A distinct_id's version counts the changes of its person: a row with
-- version > 0 is an override of the person_id stamped on that id's earlier
-- events (06_events_with_current_person.sql applies it). is_deleted = 1:
-- the person was deleted and the id belongs to its implicit person again.

CREATE TABLE IF NOT EXISTS resolver.person_distinct_ids
(
    team        String,
    distinct_id String,
    person_id   UUID,
    version     UInt64,
    is_deleted  UInt8,
    -- provenance: the Kafka partition and offset the row was read from
    _partition  UInt64,
    _offset     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (team, distinct_id);

CREATE TABLE IF NOT EXISTS resolver.kafka_person_distinct_ids
(
    team        String,
    distinct_id String,
    person_id   UUID,
    version     UInt64,
    is_deleted  UInt8
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = 'kafka:9092',
    kafka_topic_list = 'person_distinct_ids',
    kafka_group_name = 'clickhouse_person_distinct_ids',
    kafka_format = 'JSONEachRow',
    kafka_num_consumers = 1,
    kafka_handle_error_mode = 'stream',
    input_format_skip_unknown_fields = 1,
    input_format_json_read_bools_as_numbers = 1;

CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_distinct_ids_mv TO resolver.person_distinct_ids AS
SELECT
    team,
    distinct_id,
    person_id,
    version,
    is_deleted,
    _partition,
    _offset
FROM resolver.kafka_person_distinct_ids
WHERE length(_error) = 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_distinct_ids_errors_mv TO resolver.ingest_errors AS
SELECT
    _topic,
    _partition,
    _offset,
    _raw_message,
    _error
FROM resolver.kafka_person_distinct_ids
WHERE length(_error) > 0;
