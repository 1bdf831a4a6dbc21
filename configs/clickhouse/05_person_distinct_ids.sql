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

-- person_distinct_id_overrides: the rows of person_distinct_ids with
-- version > 0, as PostHog keeps them (its person_distinct_id_overrides).
-- A distinct_id's first row (version 0) names its implicit person, the one
-- its events were stamped with until then; only a later row overrides the
-- stamped person_id. So this table is all that
-- 06_events_with_current_person.sql joins, and it stays as small as the
-- number of ids that ever changed person, where person_distinct_ids grows
-- with every id seen. Same columns and folding as person_distinct_ids.
CREATE TABLE IF NOT EXISTS resolver.person_distinct_id_overrides
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

-- Every record the consumer reads passes through resolver.person_distinct_ids_read
-- (engine Null) to the views below it; the one view of the Kafka table is
-- created last (02_ingest_errors.sql says why).
CREATE TABLE IF NOT EXISTS resolver.person_distinct_ids_read
(
    team         String,
    distinct_id  String,
    person_id    UUID,
    version      UInt64,
    is_deleted   UInt8,
    _topic       LowCardinality(String),
    _partition   UInt64,
    _offset      UInt64,
    _timestamp   DateTime64(3, 'UTC'),
    _raw_message String,
    _error       String
)
ENGINE = Null;

-- Copies records that did not parse into resolver.ingest_errors.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_distinct_ids_errors_mv TO resolver.ingest_errors AS
SELECT
    _topic,
    _partition,
    _offset,
    _raw_message,
    _error
FROM resolver.person_distinct_ids_read
WHERE length(_error) > 0;

-- Copies parsed records into storage.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_distinct_ids_mv TO resolver.person_distinct_ids AS
SELECT
    team,
    distinct_id,
    person_id,
    version,
    is_deleted,
    _partition,
    _offset
FROM resolver.person_distinct_ids_read
WHERE length(_error) = 0;

-- Copies the overrides (version > 0) into person_distinct_id_overrides.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_distinct_id_overrides_mv TO resolver.person_distinct_id_overrides AS
SELECT
    team,
    distinct_id,
    person_id,
    version,
    is_deleted,
    _partition,
    _offset
FROM resolver.person_distinct_ids_read
WHERE length(_error) = 0 AND version > 0;

-- The consumer's one view, last: from here on the topic is read.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_distinct_ids_read_mv TO resolver.person_distinct_ids_read AS
SELECT
    team,
    distinct_id,
    person_id,
    version,
    is_deleted,
    _topic,
    _partition,
    _offset,
    coalesce(_timestamp_ms, toDateTime64(0, 3, 'UTC')) AS _timestamp,
    _raw_message,
    _error
FROM resolver.kafka_person_distinct_ids;
