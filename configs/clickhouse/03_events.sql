-- events: every person-stamped event from the topic events_person
-- (docs/SEMANTICS.md §6; pkg/event AppendStamped writes it).
--
-- person_id, person_created_at and person_properties are the person as
-- stamped when the event was processed. A later merge can move the event's
-- distinct_id to another person; the event row is never rewritten. Query
-- resolver.events_with_current_person (06) for the person each event
-- belongs to now.
--
-- The stamped event also carries the input's other top-level members
-- (token, team_id, ip, ...): they are not columns and are skipped
-- (input_format_skip_unknown_fields). properties and person_properties are
-- JSON objects kept as their JSON text (input_format_json_read_objects_as_strings).
-- Times are RFC 3339 with milliseconds, UTC (date_time_input_format =
-- 'best_effort' reads the "T" and "Z").

-- Storage, deduplicated as PostHog's events table is. The resolver writes
-- every event once (its transactions), but the Kafka engine is
-- at-least-once: a ClickHouse crash between an insert and its offset commit
-- re-reads a block. ReplacingMergeTree(_timestamp) keeps one row per
-- sorting key (team, day, event, uuid) once parts merge: of a copy read
-- twice, one (the copies are equal); of a uuid a client sent twice, in two
-- records, the one captured last (_timestamp is the Kafka record
-- timestamp, which a stamped event keeps from its input record,
-- docs/SEMANTICS.md §6). Until parts merge, read with FINAL (or
-- LIMIT 1 BY team, uuid) where a count must be exact. Billing counts
-- records, not uuids (docs/SEMANTICS.md §7): a uuid sent twice is billed
-- twice and stored once, as in PostHog.
CREATE TABLE IF NOT EXISTS resolver.events
(
    uuid              UUID,
    event             String,
    distinct_id       String,
    team              String,
    timestamp         DateTime64(3, 'UTC'),
    properties        String,
    person_id         UUID,
    person_created_at DateTime64(3, 'UTC'),
    person_properties String,
    person_mode       LowCardinality(String),
    billing_class     LowCardinality(String),
    -- provenance: the Kafka partition and offset the row was read from,
    -- and the record's Kafka timestamp (the version that deduplicates)
    _partition        UInt64,
    _offset           UInt64,
    _timestamp        DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(_timestamp)
PARTITION BY toYYYYMM(timestamp)
ORDER BY (team, toDate(timestamp), event, uuid);

-- The consumer: one Kafka-engine table per topic; reading it consumes.
CREATE TABLE IF NOT EXISTS resolver.kafka_events_person
(
    uuid              UUID,
    event             String,
    distinct_id       String,
    team              String,
    timestamp         DateTime64(3, 'UTC'),
    properties        String,
    person_id         UUID,
    person_created_at DateTime64(3, 'UTC'),
    person_properties String,
    person_mode       String,
    billing_class     String
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = 'kafka:9092',
    kafka_topic_list = 'events_person',
    kafka_group_name = 'clickhouse_events_person',
    kafka_format = 'JSONEachRow',
    kafka_num_consumers = 1,
    kafka_handle_error_mode = 'stream',
    input_format_skip_unknown_fields = 1,
    input_format_json_read_objects_as_strings = 1,
    date_time_input_format = 'best_effort';

-- Every record the consumer reads passes through resolver.events_person_read
-- (engine Null) to the views below it; the one view of the Kafka table is
-- created last (02_ingest_errors.sql says why).
CREATE TABLE IF NOT EXISTS resolver.events_person_read
(
    uuid              UUID,
    event             String,
    distinct_id       String,
    team              String,
    timestamp         DateTime64(3, 'UTC'),
    properties        String,
    person_id         UUID,
    person_created_at DateTime64(3, 'UTC'),
    person_properties String,
    person_mode       String,
    billing_class     String,
    _topic            LowCardinality(String),
    _partition        UInt64,
    _offset           UInt64,
    _timestamp        DateTime64(3, 'UTC'),
    _raw_message      String,
    _error            String
)
ENGINE = Null;

-- Copies records that did not parse into resolver.ingest_errors.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.events_person_errors_mv TO resolver.ingest_errors AS
SELECT
    _topic,
    _partition,
    _offset,
    _raw_message,
    _error
FROM resolver.events_person_read
WHERE length(_error) > 0;

-- Copies parsed records into storage.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.events_person_mv TO resolver.events AS
SELECT
    uuid,
    event,
    distinct_id,
    team,
    timestamp,
    properties,
    person_id,
    person_created_at,
    person_properties,
    person_mode,
    billing_class,
    _partition,
    _offset,
    _timestamp
FROM resolver.events_person_read
WHERE length(_error) = 0;

-- The consumer's one view, last: from here on the topic is read.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.events_person_read_mv TO resolver.events_person_read AS
SELECT
    uuid,
    event,
    distinct_id,
    team,
    timestamp,
    properties,
    person_id,
    person_created_at,
    person_properties,
    person_mode,
    billing_class,
    _topic,
    _partition,
    _offset,
    coalesce(_timestamp_ms, toDateTime64(0, 3, 'UTC')) AS _timestamp,
    _raw_message,
    _error
FROM resolver.kafka_events_person;
