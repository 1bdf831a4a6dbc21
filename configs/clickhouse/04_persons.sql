-- persons: person rows from the topic persons (docs/SEMANTICS.md §6;
-- stream.PersonRow). Every change to a person is a new row with a higher
-- version; ReplacingMergeTree(version) keeps, per (team, id), the row with
-- the highest version once parts merge. Until then several versions may be
-- stored: read with FINAL, or argMax(column, version) GROUP BY team, id.
--
-- A person absorbed by a merge is written once more with is_deleted = 1 and
-- its version + 100; that row wins, so a deleted person stays visible as
-- deleted (filter is_deleted = 0 for live persons).

CREATE TABLE IF NOT EXISTS resolver.persons
(
    team          String,
    id            UUID,
    created_at    DateTime64(3, 'UTC'),
    properties    String,
    is_identified UInt8,
    is_deleted    UInt8,
    version       UInt64,
    -- provenance: the Kafka partition and offset the row was read from
    _partition    UInt64,
    _offset       UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (team, id);

-- The consumer. Booleans arrive as JSON true/false and are read as 1/0
-- (input_format_json_read_bools_as_numbers).
CREATE TABLE IF NOT EXISTS resolver.kafka_persons
(
    team          String,
    id            UUID,
    created_at    DateTime64(3, 'UTC'),
    properties    String,
    is_identified UInt8,
    is_deleted    UInt8,
    version       UInt64
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = 'kafka:9092',
    kafka_topic_list = 'persons',
    kafka_group_name = 'clickhouse_persons',
    kafka_format = 'JSONEachRow',
    kafka_num_consumers = 1,
    kafka_handle_error_mode = 'stream',
    input_format_skip_unknown_fields = 1,
    input_format_json_read_objects_as_strings = 1,
    input_format_json_read_bools_as_numbers = 1,
    date_time_input_format = 'best_effort';

-- Every record the consumer reads passes through resolver.persons_read
-- (engine Null) to the views below it; the one view of the Kafka table is
-- created last (02_ingest_errors.sql says why).
CREATE TABLE IF NOT EXISTS resolver.persons_read
(
    team          String,
    id            UUID,
    created_at    DateTime64(3, 'UTC'),
    properties    String,
    is_identified UInt8,
    is_deleted    UInt8,
    version       UInt64,
    _topic        LowCardinality(String),
    _partition    UInt64,
    _offset       UInt64,
    _timestamp    DateTime64(3, 'UTC'),
    _raw_message  String,
    _error        String
)
ENGINE = Null;

-- Copies records that did not parse into resolver.ingest_errors.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.persons_errors_mv TO resolver.ingest_errors AS
SELECT
    _topic,
    _partition,
    _offset,
    _raw_message,
    _error
FROM resolver.persons_read
WHERE length(_error) > 0;

-- Copies parsed records into storage.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.persons_mv TO resolver.persons AS
SELECT
    team,
    id,
    created_at,
    properties,
    is_identified,
    is_deleted,
    version,
    _partition,
    _offset
FROM resolver.persons_read
WHERE length(_error) = 0;

-- The consumer's one view, last: from here on the topic is read.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.persons_read_mv TO resolver.persons_read AS
SELECT
    team,
    id,
    created_at,
    properties,
    is_identified,
    is_deleted,
    version,
    _topic,
    _partition,
    _offset,
    coalesce(_timestamp_ms, toDateTime64(0, 3, 'UTC')) AS _timestamp,
    _raw_message,
    _error
FROM resolver.kafka_persons;
