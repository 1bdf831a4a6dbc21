package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// TestRunRefusesTruncatedLog: `resolver run` over a replica that
// identity_log has left behind (retention deleted records it had yet to
// apply) exits 1 with an error naming the partition, the replica's next
// offset to apply, the log start offset and what to do, instead of
// silently skipping to the log start; `resolver rebuild`, which would
// replay into an empty replica, refuses before deleting anything; the
// replica is left as it was.
func TestRunRefusesTruncatedLog(t *testing.T) {
	dir := t.TempDir()
	makeState(t, dir) // identity_log partition 0 applied up to offset 2
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	defer b.Close()
	addr := b.Addrs()[0]

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics := stream.DefaultTopics()
	require.NoError(t, stream.EnsureTopics(ctx, adm, topics.All(), 8, -1, time.Second, zap.NewNop(), topics.TopicOptions()...))
	var recs []*kgo.Record
	for range 6 {
		recs = append(recs, &kgo.Record{Topic: topics.IdentityLog, Partition: 0, Value: []byte("op")})
	}
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
	del := kadm.Offsets{}
	del.AddOffset(topics.IdentityLog, 0, 5, -1)
	dr, err := adm.DeleteRecords(ctx, del)
	require.NoError(t, err)
	require.NoError(t, dr.Error())

	code, _, errOut := runCLI(t, "--state-dir", dir, "run", "--brokers", addr, "--admin-addr", "")
	assert.Equal(t, 1, code, errOut)
	for _, s := range []string{
		"resolver: pipeline over the replica in " + filepath.Join(dir, "identity") + ": stream: identity_log was truncated past what this replica has applied",
		"partition 0 of identity_log starts at offset 5, but the replica's next offset to apply is 2 (offsets 2 to 4 were deleted",
		"restore a snapshot of an instance that has applied past these offsets",
		"resolver restore --from FILE into a fresh state.dir",
	} {
		assert.Contains(t, errOut, s)
	}

	// rebuild would start from an empty replica: refused before it deletes
	// the one there is.
	code, _, errOut = runCLI(t, "--state-dir", dir, "rebuild", "--brokers", addr)
	assert.Equal(t, 1, code, errOut)
	assert.Contains(t, errOut, "resolver: rebuild: stream: identity_log was truncated")
	assert.Contains(t, errOut, "partition 0 of identity_log starts at offset 5, but the replica's next offset to apply is 0")
	assert.Contains(t, errOut, "nothing was deleted")

	st, err := state.Open(filepath.Join(dir, "identity"), state.Options{})
	require.NoError(t, err)
	defer st.Close()
	applied, err := st.AppliedOffsets()
	require.NoError(t, err)
	assert.Equal(t, map[int32]int64{0: 2}, applied, "the refused replica was written to")
}
