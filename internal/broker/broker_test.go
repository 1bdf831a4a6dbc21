package broker

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestConsumerGroupConfigs(t *testing.T) {
	assert.Equal(t, map[string]string{"group.consumer.session.timeout.ms": "10000", "group.consumer.heartbeat.interval.ms": "1000"}, consumerGroupConfigs(0))
	assert.Equal(t, map[string]string{"group.consumer.session.timeout.ms": "6000", "group.consumer.heartbeat.interval.ms": "600"}, consumerGroupConfigs(6*time.Second))
	assert.Equal(t, map[string]string{"group.consumer.session.timeout.ms": "500", "group.consumer.heartbeat.interval.ms": "100"}, consumerGroupConfigs(500*time.Millisecond))
}

// A taken port is refused up front, with the address and the key that
// set it, rather than with kfake's terse error; a bad address names the
// key too.
func TestStartRefusesTakenPortAndBadAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	_, err = Start(Config{Listen: l.Addr().String()})
	require.Error(t, err)
	assert.Contains(t, err.Error(), l.Addr().String())
	assert.Contains(t, err.Error(), "kafka.embedded.listen")

	for _, bad := range []string{"127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000"} {
		_, err := Start(Config{Listen: bad})
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), "kafka.embedded.listen", bad)
	}
}

// Nodes brokers, each on the listener ListenNode makes for it, all
// advertised; a client of any one of them reaches the cluster.
func TestStartNodesOnTheirListeners(t *testing.T) {
	var made []string
	b, err := Start(Config{Nodes: 3, ListenNode: func(i int) (net.Listener, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			made = append(made, l.Addr().String())
		}
		return l, err
	}})
	require.NoError(t, err)
	defer b.Close()
	require.Len(t, made, 3)
	assert.ElementsMatch(t, made, b.Addrs())
	assert.Len(t, b.Kfake().ListenAddrs(), 3)

	cl, err := kgo.NewClient(kgo.SeedBrokers(made[2]))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.Ping(t.Context()))
}

// TestStartBadListen: the embedded broker refuses a bad
// kafka.embedded.listen with the reason cmd/resolver's check gives
// (internal/hostport), before it binds anything.
func TestStartBadListen(t *testing.T) {
	_, err := Start(Config{Listen: "127.0.0.1:99999"})
	var le *ListenError
	require.True(t, errors.As(err, &le), "%v", err)
	assert.EqualError(t, err, `broker: kafka.embedded.listen: "127.0.0.1:99999": port "99999" is not a port number`)
}
