// Package broker is the resolver's embedded Kafka broker: franz-go's kfake
// cluster (the real Kafka wire protocol, in process), listening on a
// loopback port, with its records, offsets and transactions kept in a
// directory across restarts when given one. `resolver run` starts it when
// kafka.brokers is empty, `resolver broker` runs it alone, and tests start
// one per test (several nodes when a test needs an address per path).
//
// It sets what the broker, not the client, decides for KIP-848 consumer
// groups: their session timeout and heartbeat interval (Config.SessionTimeout).
package broker
