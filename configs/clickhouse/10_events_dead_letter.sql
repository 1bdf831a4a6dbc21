-- events_dead_letter: the input records the resolver could not stamp, from
-- the topic events_dead_letter (docs/SEMANTICS.md §6): each carries the
-- original key and bytes, and headers saying why and where from:
--
--   error             the reason (invalid_json, unknown_team, output_too_large, ...)
--   error_detail      for people, at most 256 bytes
--   source_topic      where the record was read: events_raw or identity_commands
--   source_partition  decimal
--   source_offset     decimal
--   source_offset_last decimal, only on a refused record batch (reason
--                     batch_refused, no key or value): the batch's last
--                     offset, source_offset its first; 0 on any other row
--   truncated         "true" on a dead letter cut to fit output.max_record_bytes
--
-- The value is the input as it came, which need not be JSON (that may be
-- why it is here), so the consumer reads it whole (format RawBLOB: one
-- String column, any bytes, nothing to fail) and the headers through the
-- Kafka engine's virtual columns _headers.name and _headers.value. A
-- header that is absent reads as '' (and a number as 0: toInt*OrZero, so
-- that a record someone else wrote cannot stop the view). RawBLOB cannot
-- fail to parse, so this topic has no error view, and its one view reads
-- the Kafka table directly. The Kafka engine may skip a record with an
-- empty value (an empty input record, dead-lettered invalid_json): count
-- resolver_events_dead_lettered_total against this table to see.
--
-- (source_topic, source_partition, source_offset) names the input record,
-- which the resolver dead-letters at most once (docs/SEMANTICS.md §6,
-- "Nothing is lost, ever"), so ReplacingMergeTree ordered by the reason and
-- those keeps one copy of a record the Kafka engine read twice. timestamp
-- is the record's Kafka timestamp, which a dead letter keeps from its
-- input record (the capture time).
--
--   SELECT reason, count() FROM resolver.events_dead_letter FINAL
--   WHERE timestamp >= now() - INTERVAL 1 DAY GROUP BY reason;
--
-- Once the cause is fixed (a team added to identity.teams, say), key and
-- value are what to produce to events_raw again.

CREATE TABLE IF NOT EXISTS resolver.events_dead_letter
(
    reason           LowCardinality(String),
    error_detail     String,
    source_topic     LowCardinality(String),
    source_partition Int32,
    source_offset    Int64,
    source_offset_last Int64,
    truncated        UInt8,
    key              String,
    value            String,
    timestamp        DateTime64(3, 'UTC'),
    -- provenance: the Kafka partition and offset the row was read from
    _partition       UInt64,
    _offset          UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (reason, source_topic, source_partition, source_offset);

-- A table created before source_offset_last (2026-12-08) lacks the column,
-- and its view leaves it out: run
--   ALTER TABLE resolver.events_dead_letter ADD COLUMN IF NOT EXISTS source_offset_last Int64 AFTER source_offset;
-- then drop resolver.events_dead_letter_mv and create it again (below).

-- The consumer: the value as it is.
CREATE TABLE IF NOT EXISTS resolver.kafka_events_dead_letter
(
    value String
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = 'kafka:9092',
    kafka_topic_list = 'events_dead_letter',
    kafka_group_name = 'clickhouse_events_dead_letter',
    kafka_format = 'RawBLOB',
    kafka_num_consumers = 1;

-- Copies every record into storage, its headers as columns.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.events_dead_letter_mv TO resolver.events_dead_letter AS
SELECT
    _headers.value[indexOf(_headers.name, 'error')] AS reason,
    _headers.value[indexOf(_headers.name, 'error_detail')] AS error_detail,
    _headers.value[indexOf(_headers.name, 'source_topic')] AS source_topic,
    toInt32OrZero(_headers.value[indexOf(_headers.name, 'source_partition')]) AS source_partition,
    toInt64OrZero(_headers.value[indexOf(_headers.name, 'source_offset')]) AS source_offset,
    toInt64OrZero(_headers.value[indexOf(_headers.name, 'source_offset_last')]) AS source_offset_last,
    _headers.value[indexOf(_headers.name, 'truncated')] = 'true' AS truncated,
    _key AS key,
    value,
    coalesce(_timestamp_ms, toDateTime64(0, 3, 'UTC')) AS timestamp,
    _partition,
    _offset
FROM resolver.kafka_events_dead_letter;
