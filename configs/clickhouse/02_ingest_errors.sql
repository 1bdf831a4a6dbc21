-- Records a Kafka-engine table could not parse. The Kafka tables use
-- kafka_handle_error_mode = 'stream': a record that does not parse does not
-- stop the consumer; it comes through with the virtual columns _error and
-- _raw_message set, the views into storage skip it, and an
-- <topic>_errors_mv copies it here. The resolver's outputs always parse, so
-- a row here means a schema mismatch between the resolver and these files
-- (or a record someone else wrote to the topic).
--
-- How a topic is read, in every file (03-05, 07, 09, 11):
--
--   kafka_<topic>  --<topic>_read_mv-->  <topic>_read (engine Null)
--       <topic>_read  --<topic>_errors_mv-->  ingest_errors   (_error set)
--       <topic>_read  --<topic>_mv-->         storage         (_error empty)
--
-- A Kafka table is consumed from the moment its first materialized view
-- exists, and what it reads before a second view exists reaches only the
-- first: with two views on the Kafka table, one created after the other,
-- either good rows or broken ones read in between would be lost. So each
-- Kafka table has one view, into a Null table (which stores nothing and
-- passes every inserted block on to its own views), created last, once the
-- error view and then the storage views of the Null table exist.

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
