package stream

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/resolver-dev/resolver/pkg/billing"
)

// TestWithDefaultsIsDefaultConfig: a zero Config gets exactly
// DefaultConfig's values, and the transactional id derived from the group.
func TestWithDefaultsIsDefaultConfig(t *testing.T) {
	want := DefaultConfig()
	want.TransactionalID = "resolver-txn"
	assert.Equal(t, want, Config{}.WithDefaults())
	assert.Equal(t, billing.DefaultExcludedEvents(), want.ExcludedEvents)
	assert.Equal(t, DefaultLagInterval(want.ReadyMaxLag), want.LagInterval)
}

// TestWithDefaultsKeepsSetFields: a field that is set is kept; the lag
// interval follows the configured readiness.max_lag, not the default one.
func TestWithDefaultsKeepsSetFields(t *testing.T) {
	c := Config{
		Kafka:              Kafka{ClientID: "c", SessionTimeout: 6 * time.Second, Compression: "zstd", GroupProtocol: GroupProtocolClassic},
		Topics:             Topics{Raw: "in"},
		Group:              "g",
		TopicPartitions:    3,
		ReplicationFactor:  2,
		Workers:            4,
		ExcludedEvents:     []string{},
		OutboxTrimInterval: time.Second,
		ReadyMaxLag:        time.Second,
	}.WithDefaults()
	assert.Equal(t, "c", c.Kafka.ClientID)
	assert.Equal(t, 6*time.Second, c.Kafka.SessionTimeout)
	assert.Equal(t, "zstd", c.Kafka.Compression)
	assert.Equal(t, GroupProtocolClassic, c.Kafka.GroupProtocol)
	assert.Equal(t, "in", c.Topics.Raw)
	assert.Equal(t, DefaultTopics().Person, c.Topics.Person)
	assert.Equal(t, "g-txn", c.TransactionalID)
	assert.Equal(t, int32(3), c.TopicPartitions)
	assert.Equal(t, int16(2), c.ReplicationFactor)
	assert.Equal(t, 4, c.Workers)
	assert.Equal(t, []string{}, c.ExcludedEvents, "an empty list excludes nothing; only nil is the default list")
	assert.Equal(t, time.Second, c.OutboxTrimInterval)
	assert.Equal(t, 250*time.Millisecond, c.LagInterval)
}
