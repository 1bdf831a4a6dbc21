-- Records a Kafka-engine table could not parse. The Kafka tables use
-- kafka_handle_error_mode = 'stream': a record that does not parse does not
-- stop the consumer; it comes through with the virtual columns _error and
-- _raw_message set, the materialized views of 03-05 and 07 skip it, and an
-- <topic>_errors_mv copies it here. The resolver's outputs always parse, so
-- a row here means a schema mismatch between the resolver and these files.

CREATE TABLE IF NOT EXISTS resolver.ingest_errors
(
    _topic       LowCardinality(String),
    _partition   UInt64,
    _offset      UInt64,
    _raw_message String,
    _error       String,
    _inserted_at DateTime DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(_inserted_at)
ORDER BY (_topic, _partition, _offset);
