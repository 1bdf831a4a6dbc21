-- billing_usage and the monthly bill (docs/SEMANTICS.md §7): the topic
-- billing_usage carries deltas, {team, month, class, count} (billing.Delta:
-- count more events of class for team in month, the month of the input
-- records' Kafka timestamps), one per team, month and class of each batch
-- the resolver commits. A month's count is the sum of its deltas; its cost
-- is a function of that total only, by graduated tiers.
--
-- A delta has no key of its own: two batches may add the same count to
-- the same month. What names a delta is where it was read, so the sorting
-- key ends with (_partition, _offset): ReplacingMergeTree keeps one copy of
-- a record the Kafka engine read twice, and the bill reads FINAL, so such a
-- copy is never counted twice.
--
-- billing_usage can be written by anyone with access to the topic; the
-- resolver refuses a delta that is out of bounds (billing.Delta.Validate).
-- Such rows are stored here as read, and the bill leaves them out by the
-- same rules: a team of 1 to 200 bytes of valid UTF-8 without control
-- characters and not only white space, a month YYYY-MM from 1970-01, a
-- class excluded, anonymous or identified, a count of 1 to 10^9
-- (internal/warehouse evaluates the filter against Delta.Validate). The
-- resolver also refuses a delta that would carry a total past 2^63 - 1;
-- the bill does not (such a total would need 9.2e9 deltas of 10^9). And a
-- forged team of raw bytes that are not UTF-8: the resolver's JSON decoder
-- reads them as U+FFFD and bills the delta, ClickHouse keeps the bytes
-- and the bill leaves it out.

CREATE TABLE IF NOT EXISTS resolver.billing_usage
(
    team       String,
    month      String,
    class      LowCardinality(String),
    count      Int64,
    -- provenance: the Kafka partition and offset the row was read from
    _partition UInt64,
    _offset    UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY (team, month, class, _partition, _offset);

CREATE TABLE IF NOT EXISTS resolver.kafka_billing_usage
(
    team  String,
    month String,
    class String,
    count Int64
)
ENGINE = Kafka()
SETTINGS
    kafka_broker_list = 'kafka:9092',
    kafka_topic_list = 'billing_usage',
    kafka_group_name = 'clickhouse_billing_usage',
    kafka_format = 'JSONEachRow',
    kafka_num_consumers = 1,
    kafka_handle_error_mode = 'stream',
    input_format_skip_unknown_fields = 1;

-- Every record the consumer reads passes through resolver.billing_usage_read
-- (engine Null) to the views below it; the one view of the Kafka table is
-- created last (02_ingest_errors.sql says why).
CREATE TABLE IF NOT EXISTS resolver.billing_usage_read
(
    team         String,
    month        String,
    class        String,
    count        Int64,
    _topic       LowCardinality(String),
    _partition   UInt64,
    _offset      UInt64,
    _timestamp   DateTime64(3, 'UTC'),
    _raw_message String,
    _error       String
)
ENGINE = Null;

-- Copies records that did not parse into resolver.ingest_errors.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.billing_usage_errors_mv TO resolver.ingest_errors AS
SELECT
    _topic,
    _partition,
    _offset,
    _raw_message,
    _error
FROM resolver.billing_usage_read
WHERE length(_error) > 0;

-- Copies parsed records into storage.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.billing_usage_mv TO resolver.billing_usage AS
SELECT
    team,
    month,
    class,
    count,
    _partition,
    _offset
FROM resolver.billing_usage_read
WHERE length(_error) = 0;

-- The consumer's one view, last: from here on the topic is read.
CREATE MATERIALIZED VIEW IF NOT EXISTS resolver.billing_usage_read_mv TO resolver.billing_usage_read AS
SELECT
    team,
    month,
    class,
    count,
    _topic,
    _partition,
    _offset,
    coalesce(_timestamp_ms, toDateTime64(0, 3, 'UTC')) AS _timestamp,
    _raw_message,
    _error
FROM resolver.kafka_billing_usage;

-- billing_tiers: the default tiers of docs/SEMANTICS.md §7 (billing.DefaultPricing),
-- one row per class and tier: the tier covers the month's events numbered
-- from_events + 1 to up_to, each at unit_price_nanos (nano-dollars, 10^-9
-- USD, as billing.Money counts them). The open-ended last tier has up_to
-- 2^63 - 1. Excluded events have no tiers: they cost nothing. With your
-- own billing.tiers, change these rows (internal/warehouse checks them
-- against the defaults).
CREATE VIEW IF NOT EXISTS resolver.billing_tiers AS
SELECT
    class,
    tier,
    from_events,
    up_to,
    unit_price_nanos
FROM values('class String, tier UInt8, from_events Int64, up_to Int64, unit_price_nanos Int64',
    ('identified', 1, 0, 1000000, 0),
    ('identified', 2, 1000000, 2000000, 248000),
    ('identified', 3, 2000000, 15000000, 104000),
    ('identified', 4, 15000000, 50000000, 65500),
    ('identified', 5, 50000000, 100000000, 36400),
    ('identified', 6, 100000000, 250000000, 18700),
    ('identified', 7, 250000000, 9223372036854775807, 10000),
    ('anonymous', 1, 0, 1000000, 0),
    ('anonymous', 2, 1000000, 2000000, 50000),
    ('anonymous', 3, 2000000, 15000000, 34300),
    ('anonymous', 4, 15000000, 50000000, 29500),
    ('anonymous', 5, 50000000, 100000000, 21800),
    ('anonymous', 6, 100000000, 250000000, 15000),
    ('anonymous', 7, 250000000, 9223372036854775807, 9000));

-- billing_monthly: the bill. One row per team, month and class: the
-- month's events (the sum of its valid deltas, each read once) and their
-- cost, exact, in nano-dollars and in USD (Decimal, 9 decimals), each tier
-- priced at its own rate. The same numbers as `resolver billing`.
--
--   SELECT month, class, events, cost_usd FROM resolver.billing_monthly
--   WHERE team = '2' ORDER BY month, class;
--
--   SELECT team, sum(cost_usd) AS total_usd FROM resolver.billing_monthly
--   WHERE month = '2026-11' GROUP BY team ORDER BY total_usd DESC;
CREATE VIEW IF NOT EXISTS resolver.billing_monthly AS
SELECT
    u.team AS team,
    u.month AS month,
    u.class AS class,
    u.events AS events,
    sum(greatest(toInt64(0), least(u.events, t.up_to) - t.from_events) * t.unit_price_nanos) AS cost_nanos,
    toDecimal128(cost_nanos, 9) / 1000000000 AS cost_usd
FROM
(
    SELECT
        team,
        month,
        class,
        sum(count) AS events
    FROM resolver.billing_usage FINAL
    WHERE count >= 1 AND count <= 1000000000
      AND class IN ('excluded', 'anonymous', 'identified')
      AND match(month, '^[0-9]{4}-(0[1-9]|1[0-2])$') AND month >= '1970-01'
      AND length(team) >= 1 AND length(team) <= 200
      AND isValidUTF8(team)
      AND NOT match(team, '[\\x00-\\x1f\\x7f\\x{80}-\\x{9f}]')
      AND NOT match(team, '^[\\pZ\\s]*$')
    GROUP BY team, month, class
) AS u
LEFT JOIN resolver.billing_tiers AS t ON u.class = t.class
GROUP BY u.team, u.month, u.class, u.events
ORDER BY team, month, class;
