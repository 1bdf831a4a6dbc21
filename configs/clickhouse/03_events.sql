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

-- Storage. MergeTree, not Replacing: every event is written once by the
-- resolver's transactions; the Kafka engine itself is at-least-once (a
-- ClickHouse crash between insert and offset commit re-reads a block), and
-- (uuid) is then the key to deduplicate on.
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
    -- provenance: the Kafka partition and offset the row was read from
    _partition        UInt64,
    _offset           UInt64
)
ENGINE = MergeTree
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
    _offset
FROM resolver.kafka_events_person
WHERE length(_error) = 0;

-- Copies records that did not parse into resolver.ingest_errors.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.events_person_errors_mv TO resolver.ingest_errors AS
SELECT
    _topic,
    _partition,
    _offset,
    _raw_message,
    _error
FROM resolver.kafka_events_person
WHERE length(_error) > 0;
