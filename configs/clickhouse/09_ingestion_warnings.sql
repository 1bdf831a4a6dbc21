-- ingestion_warnings: the warnings of docs/SEMANTICS.md §1-§5 and §8 (a
-- timestamp in the future, a refused merge, ...), from the topic
-- ingestion_warnings (docs/SEMANTICS.md §6; stream.WarningRow, written by
-- feed.FromWarning). One row per warning; event_uuid and distinct_id name
-- the event that raised it, details says more (text, bounded by the
-- resolver).
--
-- A warning has no key of its own: two warnings of one event and type
-- with the same details are two rows. What names a row is where it was
-- read, (_partition, _offset), so the sorting key ends with them:
-- ReplacingMergeTree keeps one copy of a record the Kafka engine read
-- twice (at-least-once) once parts merge, and never folds two records.
--
--   SELECT type, count() FROM resolver.ingestion_warnings FINAL
--   WHERE team = '2' AND timestamp >= now() - INTERVAL 1 DAY GROUP BY type;

CREATE TABLE IF NOT EXISTS resolver.ingestion_warnings
(
    team        String,
    type        LowCardinality(String),
    event_uuid  String,
    distinct_id String,
    details     String,
    timestamp   DateTime64(3, 'UTC'),
    -- provenance: the Kafka partition and offset the row was read from
    _partition  UInt64,
    _offset     UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team, type, timestamp, _partition, _offset);

-- The consumer. event_uuid is String: a warning about an event without a
-- valid uuid carries what there is.
CREATE TABLE IF NOT EXISTS resolver.kafka_ingestion_warnings
(
    team        String,
    type        String,
    event_uuid  String,
    distinct_id String,
    details     String,
    timestamp   DateTime64(3, 'UTC')
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = 'kafka:9092',
    kafka_topic_list = 'ingestion_warnings',
    kafka_group_name = 'clickhouse_ingestion_warnings',
    kafka_format = 'JSONEachRow',
    kafka_num_consumers = 1,
    kafka_handle_error_mode = 'stream',
    input_format_skip_unknown_fields = 1,
    date_time_input_format = 'best_effort';

-- Every record the consumer reads passes through resolver.ingestion_warnings_read
-- (engine Null) to the views below it; the one view of the Kafka table is
-- created last (02_ingest_errors.sql says why).
CREATE TABLE IF NOT EXISTS resolver.ingestion_warnings_read
(
    team         String,
    type         String,
    event_uuid   String,
    distinct_id  String,
    details      String,
    timestamp    DateTime64(3, 'UTC'),
    _topic       LowCardinality(String),
    _partition   UInt64,
    _offset      UInt64,
    _timestamp   DateTime64(3, 'UTC'),
    _raw_message String,
    _error       String
)
ENGINE = Null;

-- Copies records that did not parse into resolver.ingest_errors.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.ingestion_warnings_errors_mv TO resolver.ingest_errors AS
SELECT
    _topic,
    _partition,
    _offset,
    _raw_message,
    _error
FROM resolver.ingestion_warnings_read
WHERE length(_error) > 0;

-- Copies parsed records into storage.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.ingestion_warnings_mv TO resolver.ingestion_warnings AS
SELECT
    team,
    type,
    event_uuid,
    distinct_id,
    details,
    timestamp,
    _partition,
    _offset
FROM resolver.ingestion_warnings_read
WHERE length(_error) = 0;

-- The consumer's one view, last: from here on the topic is read.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.ingestion_warnings_read_mv TO resolver.ingestion_warnings_read AS
SELECT
    team,
    type,
    event_uuid,
    distinct_id,
    details,
    timestamp,
    _topic,
    _partition,
    _offset,
    coalesce(_timestamp_ms, toDateTime64(0, 3, 'UTC')) AS _timestamp,
    _raw_message,
    _error
FROM resolver.kafka_ingestion_warnings;
