-- person_merges: the lineage of persons, from the topic person_merges
-- (docs/SEMANTICS.md §8; stream.MergeRow, written by feed.FromMerge). One
-- row per lineage record: a merge that moved distinct_ids (rule identify,
-- alias or merge_dangerously), a split, a deletion, or a refused merge,
-- split or deletion (refused = the warning type, nothing moved). A record
-- that moved more than 200 ids comes as several rows, part 1 … parts, each
-- with its share of distinct_ids_moved and the same log coordinates.
--
-- (team, log_partition, log_offset, part) names a row: the identity_log
-- record of the op that made it, and the part. The Kafka engine is
-- at-least-once (a ClickHouse crash between insert and offset commit
-- re-reads a block), so a row may be stored twice. ReplacingMergeTree
-- ordered by that key keeps one copy once parts merge; until then read
-- with FINAL, or LIMIT 1 BY team, log_partition, log_offset, part, or
-- SELECT DISTINCT of columns other than _partition and _offset.
--
-- survivor_person_id and absorbed_person_id are String, not UUID: the
-- resolver writes "" where there is no person (the survivor of a deletion;
-- both persons of a refusal of an illegal id), and on 24.8 JSONEachRow
-- cannot read "" into a UUID or Nullable(UUID) column (such a record
-- would go to ingest_errors). Converting in the materialized view
-- (toUUIDOrNull) would turn a malformed id into NULL without a trace. The
-- table is small (one row per merge), so the text costs little; compare
-- with toString(uuid), or nullIf(survivor_person_id, '') for a NULL.
-- event_uuid is String too: for a delete or split command it is the
-- command's request_id, any printable text.
--
-- Which events did a merge move? resolver.person_merge_events
-- (08_person_merge_events.sql).

CREATE TABLE IF NOT EXISTS resolver.person_merges
(
    team               String,
    survivor_person_id String,
    absorbed_person_id String,
    distinct_ids_moved Array(String),
    rule               LowCardinality(String),
    refused            LowCardinality(String),
    other_distinct_id  String,
    distinct_id        String,
    event_uuid         String,
    event_timestamp    DateTime64(3, 'UTC'),
    source_topic       LowCardinality(String),
    source_partition   Int32,
    source_offset      Int64,
    log_partition      Int32,
    log_offset         Int64,
    log_timestamp      DateTime64(3, 'UTC'),
    part               UInt32,
    parts              UInt32,
    -- provenance: the Kafka partition and offset the row was read from
    _partition         UInt64,
    _offset            UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(log_timestamp)
ORDER BY (team, log_partition, log_offset, part);

-- The consumer. Arrays of strings are read as Array(String).
CREATE TABLE IF NOT EXISTS resolver.kafka_person_merges
(
    team               String,
    survivor_person_id String,
    absorbed_person_id String,
    distinct_ids_moved Array(String),
    rule               String,
    refused            String,
    other_distinct_id  String,
    distinct_id        String,
    event_uuid         String,
    event_timestamp    DateTime64(3, 'UTC'),
    source_topic       String,
    source_partition   Int32,
    source_offset      Int64,
    log_partition      Int32,
    log_offset         Int64,
    log_timestamp      DateTime64(3, 'UTC'),
    part               UInt32,
    parts              UInt32
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = 'kafka:9092',
    kafka_topic_list = 'person_merges',
    kafka_group_name = 'clickhouse_person_merges',
    kafka_format = 'JSONEachRow',
    kafka_num_consumers = 1,
    kafka_handle_error_mode = 'stream',
    input_format_skip_unknown_fields = 1,
    date_time_input_format = 'best_effort';

-- Every record the consumer reads passes through resolver.person_merges_read
-- (engine Null) to the views below it; the one view of the Kafka table is
-- created last (02_ingest_errors.sql says why).
CREATE TABLE IF NOT EXISTS resolver.person_merges_read
(
    team               String,
    survivor_person_id String,
    absorbed_person_id String,
    distinct_ids_moved Array(String),
    rule               String,
    refused            String,
    other_distinct_id  String,
    distinct_id        String,
    event_uuid         String,
    event_timestamp    DateTime64(3, 'UTC'),
    source_topic       String,
    source_partition   Int32,
    source_offset      Int64,
    log_partition      Int32,
    log_offset         Int64,
    log_timestamp      DateTime64(3, 'UTC'),
    part               UInt32,
    parts              UInt32,
    _topic             LowCardinality(String),
    _partition         UInt64,
    _offset            UInt64,
    _timestamp         DateTime64(3, 'UTC'),
    _raw_message       String,
    _error             String
)
ENGINE = Null;

-- Copies records that did not parse into resolver.ingest_errors.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_merges_errors_mv TO resolver.ingest_errors AS
SELECT
    _topic,
    _partition,
    _offset,
    _raw_message,
    _error
FROM resolver.person_merges_read
WHERE length(_error) > 0;

-- Copies parsed records into storage.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_merges_mv TO resolver.person_merges AS
SELECT
    team,
    survivor_person_id,
    absorbed_person_id,
    distinct_ids_moved,
    rule,
    refused,
    other_distinct_id,
    distinct_id,
    event_uuid,
    event_timestamp,
    source_topic,
    source_partition,
    source_offset,
    log_partition,
    log_offset,
    log_timestamp,
    part,
    parts,
    _partition,
    _offset
FROM resolver.person_merges_read
WHERE length(_error) = 0;

-- The consumer's one view, last: from here on the topic is read.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.person_merges_read_mv TO resolver.person_merges_read AS
SELECT
    team,
    survivor_person_id,
    absorbed_person_id,
    distinct_ids_moved,
    rule,
    refused,
    other_distinct_id,
    distinct_id,
    event_uuid,
    event_timestamp,
    source_topic,
    source_partition,
    source_offset,
    log_partition,
    log_offset,
    log_timestamp,
    part,
    parts,
    _topic,
    _partition,
    _offset,
    coalesce(_timestamp_ms, toDateTime64(0, 3, 'UTC')) AS _timestamp,
    _raw_message,
    _error
FROM resolver.kafka_person_merges;
