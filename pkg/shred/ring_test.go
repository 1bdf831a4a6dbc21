package shred_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/shred"
)

const partitions = 3

type env struct {
	t     *testing.T
	addr  string
	topic string
	log   *zap.Logger
}

// newEnv starts an embedded broker with a compacted identity_keys topic.
func newEnv(t *testing.T) *env {
	t.Helper()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: log})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	e := &env{t: t, addr: b.Addrs()[0], topic: shred.DefaultTopic, log: log}
	cl := e.client()
	defer cl.Close()
	compact := "compact"
	_, err = kadm.NewClient(cl).CreateTopic(context.Background(), partitions, 1, map[string]*string{"cleanup.policy": &compact}, e.topic)
	require.NoError(t, err)
	return e
}

func (e *env) client(opts ...kgo.Opt) *kgo.Client {
	e.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.addr)}, opts...)...)
	require.NoError(e.t, err)
	return cl
}

func (e *env) ring(m *shred.MasterKey) *shred.Ring {
	e.t.Helper()
	r, err := shred.NewRing(shred.RingConfig{Opts: []kgo.Opt{kgo.SeedBrokers(e.addr)}, MasterKey: m, Logger: e.log})
	require.NoError(e.t, err)
	e.t.Cleanup(r.Close)
	return r
}

// produce writes raw records (as anyone who can write the topic could).
func (e *env) produce(recs ...*kgo.Record) {
	e.t.Helper()
	cl := e.client(kgo.DefaultProduceTopic(e.topic))
	defer cl.Close()
	require.NoError(e.t, cl.ProduceSync(context.Background(), recs...).FirstErr())
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestRingCreateGetAcrossRings(t *testing.T) {
	for _, withMaster := range []bool{false, true} {
		t.Run(map[bool]string{false: "raw keys", true: "master key"}[withMaster], func(t *testing.T) {
			e := newEnv(t)
			var m *shred.MasterKey
			if withMaster {
				var err error
				m, err = shred.ParseMasterKey("5c0f7e1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6")
				require.NoError(t, err)
			}
			a := e.ring(m)
			require.NoError(t, a.CatchUp(ctx(t)), "an empty topic: caught up at once")

			kid, key, err := a.Create(ctx(t), "phc_abc", "user:1", 0)
			require.NoError(t, err)
			assert.NotZero(t, kid)
			got, st := a.Get("phc_abc", "user:1", 0, kid)
			assert.Equal(t, shred.Present, st, "known as soon as Create returns")
			assert.Equal(t, key, got)
			_, st = a.Get("phc_abc", "user:1", 1, kid)
			assert.Equal(t, shred.Unknown, st, "another generation")
			_, st = a.Get("phc_abc", "user", 0, kid)
			assert.Equal(t, shred.Unknown, st)

			// A second ring (another instance, or a rebuild) reads it from
			// the topic: WaitFor sees a key written before the call.
			b := e.ring(m)
			got, st, err = b.WaitFor(ctx(t), "phc_abc", "user:1", 0, kid, 10*time.Second)
			require.NoError(t, err)
			assert.Equal(t, shred.Present, st)
			assert.Equal(t, key, got)

			// Two keys of one generation (two workers at once) are both kept.
			kid2, key2, err := b.Create(ctx(t), "phc_abc", "user:1", 0)
			require.NoError(t, err)
			assert.NotEqual(t, kid, kid2)
			got, st, err = a.WaitFor(ctx(t), "phc_abc", "user:1", 0, kid2, 10*time.Second)
			require.NoError(t, err)
			assert.Equal(t, shred.Present, st)
			assert.Equal(t, key2, got)
			got, _ = a.Get("phc_abc", "user:1", 0, kid)
			assert.Equal(t, key, got)

			// An id that was never written: Unknown once the ring has read
			// to the end, without an error (a forged key id).
			_, st, err = b.WaitFor(ctx(t), "phc_abc", "user:1", 0, 12345, 10*time.Second)
			require.NoError(t, err)
			assert.Equal(t, shred.Unknown, st)
			assert.Equal(t, 2, b.Stats().Present)
			assert.Zero(t, b.Stats().Unwrap)
		})
	}
}

func TestRingTombstone(t *testing.T) {
	e := newEnv(t)
	a := e.ring(nil)
	kid1, _, err := a.Create(ctx(t), "1", "a:b", 4)
	require.NoError(t, err)
	kid2, _, err := e.ring(nil).Create(ctx(t), "1", "a:b", 4) // another instance's key of the same generation
	require.NoError(t, err)
	kid3, key3, err := a.Create(ctx(t), "1", "a:b", 5)
	require.NoError(t, err)
	kidOther, _, err := a.Create(ctx(t), "1", "a", 4)
	require.NoError(t, err)

	// Tombstone catches up first, so it erases the other instance's key too.
	n, err := a.Tombstone(ctx(t), "1", "a:b", 4)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	for _, kid := range []uint64{kid1, kid2} {
		k, st := a.Get("1", "a:b", 4, kid)
		assert.Equal(t, shred.Tombstoned, st)
		assert.Equal(t, shred.Key{}, k)
	}
	got, st := a.Get("1", "a:b", 5, kid3)
	assert.Equal(t, shred.Present, st, "another generation is not erased")
	assert.Equal(t, key3, got)
	_, st = a.Get("1", "a", 4, kidOther)
	assert.Equal(t, shred.Present, st, "another id is not erased")

	// A generation with a tombstone gets no new key.
	_, _, err = a.Create(ctx(t), "1", "a:b", 4)
	require.ErrorIs(t, err, shred.ErrErased)

	// A fresh ring reads the tombstones from the topic.
	b := e.ring(nil)
	require.NoError(t, b.CatchUp(ctx(t)))
	for _, kid := range []uint64{kid1, kid2} {
		_, st := b.Get("1", "a:b", 4, kid)
		assert.Equal(t, shred.Tombstoned, st)
	}
	_, st = b.Get("1", "a:b", 5, kid3)
	assert.Equal(t, shred.Present, st)
	s := b.Stats()
	assert.Equal(t, 2, s.Tombstoned)
	assert.Equal(t, 2, s.Present)
	assert.EqualValues(t, 6, s.Records)

	// Idempotent; a generation without keys has nothing to tombstone.
	n, err = b.Tombstone(ctx(t), "1", "a:b", 4)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	n, err = b.Tombstone(ctx(t), "1", "never", 0)
	require.NoError(t, err)
	assert.Zero(t, n)

	// TombstoneRecords are what a worker writes in its own transaction.
	recs := b.TombstoneRecords("1", "a:b", 5)
	require.Len(t, recs, 1)
	assert.Nil(t, recs[0].Value)
	assert.Equal(t, shred.DefaultTopic, recs[0].Topic)
}

// Records nobody but a ring should write, written by someone else: each is
// counted and skipped, and the ring reads on.
func TestRingSkipsHostileRecords(t *testing.T) {
	e := newEnv(t)
	m1, err := shred.ParseMasterKey("1111111111111111111111111111111111111111111111111111111111111111")
	require.NoError(t, err)
	m2, err := shred.ParseMasterKey("2222222222222222222222222222222222222222222222222222222222222222")
	require.NoError(t, err)

	// Keys wrapped by m1 (written by a ring configured with it).
	w := e.ring(m1)
	kidWrapped, _, err := w.Create(ctx(t), "1", "wrapped", 0)
	require.NoError(t, err)

	raw := make([]byte, 33)
	e.produce(
		&kgo.Record{Key: []byte("t:a:1:1"), Value: raw},                           // bad key: not length-prefixed
		&kgo.Record{Key: nil, Value: raw},                                         // bad key: none
		&kgo.Record{Key: []byte("1:t:1:a:1:0"), Value: raw},                       // bad key: key id 0
		&kgo.Record{Key: make([]byte, 5000), Value: raw},                          // bad key: huge
		&kgo.Record{Key: []byte("1:t:1:a:1:1"), Value: []byte{9, 1, 2}},           // bad value format
		&kgo.Record{Key: []byte("1:t:1:a:1:2"), Value: make([]byte, 32)},          // wrong size (raw, 32)
		&kgo.Record{Key: []byte("1:t:1:a:1:3"), Value: append([]byte{1}, raw...)}, // wrong size (wrapped, 34)
		&kgo.Record{Key: []byte("1:t:1:a:1:4"), Value: make([]byte, 500<<10)},     // wrong size, 500 KiB
	)
	// A good raw key after them.
	good := e.ring(nil)
	kidGood, keyGood, err := good.Create(ctx(t), "1", "good", 0)
	require.NoError(t, err)

	for _, tt := range []struct {
		name   string
		m      *shred.MasterKey
		unwrap int64
	}{
		{"its master key", m1, 0},
		{"another master key", m2, 1},
		{"no master key", nil, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.ring(tt.m)
			require.NoError(t, r.CatchUp(ctx(t)))
			s := r.Stats()
			assert.EqualValues(t, 4, s.BadKey)
			assert.EqualValues(t, 1, s.BadValue)
			assert.EqualValues(t, 3, s.WrongSize)
			assert.Equal(t, tt.unwrap, s.Unwrap)
			assert.EqualValues(t, 10, s.Records)
			got, st := r.Get("1", "good", 0, kidGood)
			assert.Equal(t, shred.Present, st, "read on past the hostile records")
			assert.Equal(t, keyGood, got)
			for kid := uint64(1); kid <= 4; kid++ {
				_, st := r.Get("t", "a", 1, kid)
				assert.Equal(t, shred.Unknown, st)
			}
			_, st = r.Get("1", "wrapped", 0, kidWrapped)
			assert.Equal(t, map[bool]shred.State{true: shred.Unknown, false: shred.Present}[tt.unwrap == 1], st)
		})
	}
}

// Keys are read read_committed: a key written in an aborted transaction
// does not exist, one in a committed transaction does, and catching up
// passes the transactions' markers (a topic that ends in one).
func TestRingReadsCommittedOnly(t *testing.T) {
	e := newEnv(t)
	r := e.ring(nil)
	key, err := shred.NewKey()
	require.NoError(t, err)
	txn := e.client(kgo.TransactionalID("shred-test"), kgo.DefaultProduceTopic(e.topic))
	defer txn.Close()
	write := func(kid string, commit kgo.TransactionEndTry) {
		require.NoError(t, txn.BeginTransaction())
		require.NoError(t, txn.ProduceSync(ctx(t), &kgo.Record{Key: []byte("1:t:1:a:0:" + kid), Value: append([]byte{0}, key[:]...)}).FirstErr())
		require.NoError(t, txn.EndTransaction(ctx(t), commit))
	}
	write("1", kgo.TryAbort)
	write("2", kgo.TryCommit)

	require.NoError(t, r.CatchUp(ctx(t)))
	_, st := r.Get("t", "a", 0, 1)
	assert.Equal(t, shred.Unknown, st, "aborted")
	got, st := r.Get("t", "a", 0, 2)
	assert.Equal(t, shred.Present, st, "committed")
	assert.Equal(t, key, got)

	// A tombstone in a committed transaction (how a worker erases keys).
	require.NoError(t, txn.BeginTransaction())
	require.NoError(t, txn.ProduceSync(ctx(t), r.TombstoneRecords("t", "a", 0)...).FirstErr())
	require.NoError(t, txn.EndTransaction(ctx(t), kgo.TryCommit))
	require.NoError(t, r.CatchUp(ctx(t)))
	_, st = r.Get("t", "a", 0, 2)
	assert.Equal(t, shred.Tombstoned, st)
}

// While a transaction before the end is open, the ring cannot read to the
// end: WaitFor of an unknown key says so with an error (the caller must
// not take the key as erased), within its timeout.
func TestRingWaitForTimesOut(t *testing.T) {
	e := newEnv(t)
	r := e.ring(nil)
	txn := e.client(kgo.TransactionalID("shred-open"), kgo.DefaultProduceTopic(e.topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	defer txn.Close()
	require.NoError(t, txn.BeginTransaction())
	for p := int32(0); p < partitions; p++ {
		require.NoError(t, txn.ProduceSync(ctx(t), &kgo.Record{Partition: p, Key: []byte("1:t:1:a:0:7"), Value: nil}).FirstErr())
	}
	start := time.Now()
	_, st, err := r.WaitFor(ctx(t), "t", "a", 0, 8, 500*time.Millisecond)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, shred.Unknown, st)
	assert.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, txn.EndTransaction(ctx(t), kgo.TryAbort))
	_, st, err = r.WaitFor(ctx(t), "t", "a", 0, 8, 10*time.Second)
	require.NoError(t, err, "the transaction ended: the ring reads to the end")
	assert.Equal(t, shred.Unknown, st)
}

func TestRingRefusals(t *testing.T) {
	e := newEnv(t)
	r := e.ring(nil)
	_, _, err := r.Create(ctx(t), "", "a", 0)
	require.ErrorIs(t, err, shred.ErrInvalidID)
	_, _, err = r.Create(ctx(t), "1", string(make([]byte, 801)), 0)
	require.ErrorIs(t, err, shred.ErrInvalidID)
	_, err = r.Tombstone(ctx(t), "1", "", 0)
	require.ErrorIs(t, err, shred.ErrInvalidID)

	// A topic that does not exist: catching up fails, it does not answer
	// "unknown".
	missing, err := shred.NewRing(shred.RingConfig{Topic: "no_such_topic", Opts: []kgo.Opt{kgo.SeedBrokers(e.addr)}, Logger: e.log})
	require.NoError(t, err)
	defer missing.Close()
	_, _, err = missing.WaitFor(ctx(t), "1", "a", 0, 1, 2*time.Second)
	require.Error(t, err)

	_, err = shred.NewRing(shred.RingConfig{Opts: []kgo.Opt{kgo.SeedBrokers(e.addr), kgo.TransactionalID("x")}})
	require.ErrorIs(t, err, shred.ErrRingClient)

	r.Close()
	r.Close() // twice is fine
	_, _, err = r.Create(ctx(t), "1", "a", 0)
	require.ErrorIs(t, err, shred.ErrClosed)
	require.ErrorIs(t, r.CatchUp(ctx(t)), shred.ErrClosed)
	_, st := r.Get("1", "a", 0, 1)
	assert.Equal(t, shred.Unknown, st)
}

// A client the caller passes is checked, used, and not closed by the ring.
func TestRingWithClient(t *testing.T) {
	e := newEnv(t)
	plain := e.client()
	defer plain.Close()
	_, err := shred.NewRing(shred.RingConfig{Client: plain})
	require.ErrorIs(t, err, shred.ErrRingClient)
	assert.Contains(t, err.Error(), "read_committed")
	assert.Contains(t, err.Error(), "control records")

	txn := e.client(kgo.TransactionalID("x"), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	defer txn.Close()
	_, err = shred.NewRing(shred.RingConfig{Client: txn})
	require.ErrorIs(t, err, shred.ErrRingClient)
	assert.Contains(t, err.Error(), "transactional")

	latest := e.client(kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()))
	defer latest.Close()
	_, err = shred.NewRing(shred.RingConfig{Client: latest})
	require.ErrorIs(t, err, shred.ErrRingClient)
	assert.Contains(t, err.Error(), "start")

	cl := e.client(kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	r, err := shred.NewRing(shred.RingConfig{Client: cl, Logger: e.log})
	require.NoError(t, err)
	kid, key, err := r.Create(ctx(t), "1", "a", 0)
	require.NoError(t, err)
	r.Close()
	require.NoError(t, cl.Ping(ctx(t)), "the caller's client stays open")

	other := e.ring(nil)
	got, st, err := other.WaitFor(ctx(t), "1", "a", 0, kid, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, shred.Present, st)
	assert.Equal(t, key, got)
}

// The ring's answers and a sealed op's life, end to end: a worker creates
// a key and seals, an applier on another instance waits for the key and
// opens; after the delete the key is tombstoned and the applier erases.
func TestRingSealOpenErase(t *testing.T) {
	e := newEnv(t)
	worker, applier := e.ring(nil), e.ring(nil)
	op := testOp()
	kid, key, err := worker.Create(ctx(t), op.Team, op.DistinctID, op.Gen)
	require.NoError(t, err)
	require.NoError(t, shred.Seal(&op, kid, key))
	later := cloneOp(op)

	k, st, err := applier.WaitFor(ctx(t), op.Team, op.DistinctID, op.Gen, op.KeyID, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, shred.Present, st)
	require.NoError(t, shred.Open(&op, k))
	assert.Equal(t, testOp().Set, op.Set)

	_, err = worker.Tombstone(ctx(t), op.Team, op.DistinctID, op.Gen)
	require.NoError(t, err)
	require.NoError(t, applier.CatchUp(ctx(t)))
	_, st, err = applier.WaitFor(ctx(t), later.Team, later.DistinctID, later.Gen, later.KeyID, 10*time.Second)
	require.NoError(t, err)
	require.Equal(t, shred.Tombstoned, st)
	shred.Erase(&later)
	assert.True(t, later.ValuesErased)
	assert.Nil(t, later.Set)
	assert.Equal(t, []string{"old"}, later.Unset, "the rest of the op stays")
	assert.NoError(t, later.Validate())
}

func TestRingCurrent(t *testing.T) {
	r := newEnv(t).ring(nil)
	_, _, ok, erased := r.Current("1", "a", 0)
	require.False(t, ok)
	require.False(t, erased)
	ctx := ctx(t)
	k1, key1, err := r.Create(ctx, "1", "a", 0)
	require.NoError(t, err)
	k2, key2, err := r.Create(ctx, "1", "a", 0)
	require.NoError(t, err)
	kid, key, ok, _ := r.Current("1", "a", 0)
	require.True(t, ok)
	if k1 < k2 {
		require.Equal(t, k1, kid)
		require.Equal(t, key1, key)
	} else {
		require.Equal(t, k2, kid)
		require.Equal(t, key2, key)
	}
	_, _, ok, _ = r.Current("1", "a", 1)
	require.False(t, ok, "another generation")
	_, err = r.Tombstone(ctx, "1", "a", 0)
	require.NoError(t, err)
	_, _, ok, erased = r.Current("1", "a", 0)
	require.False(t, ok)
	require.True(t, erased)
}

func TestRingCreateMany(t *testing.T) {
	r := newEnv(t).ring(nil)
	c := ctx(t)
	_, err := r.Tombstone(c, "1", "gone", 0) // nothing to tombstone yet
	require.NoError(t, err)
	_, _, err = r.Create(c, "1", "gone", 0)
	require.NoError(t, err)
	_, err = r.Tombstone(c, "1", "gone", 0)
	require.NoError(t, err)
	out, err := r.CreateMany(c, []shred.Gen{
		{Team: "1", DistinctID: "a", Gen: 0},
		{Team: "1", DistinctID: "gone", Gen: 0},
		{Team: "", DistinctID: "b", Gen: 0},
		{Team: "1", DistinctID: "b", Gen: 2},
	})
	require.NoError(t, err)
	require.Len(t, out, 4)
	require.NoError(t, out[0].Err)
	require.ErrorIs(t, out[1].Err, shred.ErrErased)
	require.ErrorIs(t, out[2].Err, shred.ErrInvalidID)
	require.NoError(t, out[3].Err)
	for _, i := range []int{0, 3} {
		g := []shred.Gen{{Team: "1", DistinctID: "a"}, {}, {}, {Team: "1", DistinctID: "b", Gen: 2}}[i]
		key, st := r.Get(g.Team, g.DistinctID, g.Gen, out[i].KeyID)
		require.Equal(t, shred.Present, st)
		require.Equal(t, out[i].Key, key)
	}
}

// refuseZstd refuses every zstd record batch, as the resolver's bounded
// decompressor refuses one past its bounds (kgo then reports the batch's
// offsets with kgo.ErrDecompressTooLarge).
type refuseZstd struct{ kgo.Decompressor }

func (d refuseZstd) Decompress(src []byte, c kgo.CompressionCodecType) ([]byte, error) {
	if c == kgo.CodecZstd {
		return nil, kgo.ErrMaxDecompress
	}
	return d.Decompressor.Decompress(src, c)
}

// TestRingSkipsRefusedBatches: a record batch of identity_keys that the
// client refuses to decompress (a few KiB of zstd holding MiB of zeros,
// written by whoever can write the topic) is skipped and counted, and the
// ring reads on: the keys after it are there, and CatchUp returns. Before,
// kgo stopped the partition at the batch, and CatchUp (which every
// deletion's feed rows wait on) never returned.
func TestRingSkipsRefusedBatches(t *testing.T) {
	e := newEnv(t)
	cl := e.client(kgo.DefaultProduceTopic(e.topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerBatchMaxBytes(16<<20))
	for p := range int32(partitions) {
		require.NoError(t, cl.ProduceSync(ctx(t), &kgo.Record{Partition: p, Key: []byte("1:t:1:a:1:1"), Value: make([]byte, 4<<20)}).FirstErr())
	}
	cl.Close()
	kid, key, err := e.ring(nil).Create(ctx(t), "1", "after", 0)
	require.NoError(t, err)

	r, err := shred.NewRing(shred.RingConfig{Opts: []kgo.Opt{kgo.SeedBrokers(e.addr), kgo.WithDecompressor(refuseZstd{kgo.DefaultDecompressor()})}, Logger: e.log})
	require.NoError(t, err)
	defer r.Close()
	require.NoError(t, r.CatchUp(ctx(t)))
	assert.EqualValues(t, partitions, r.Stats().Refused)
	got, st := r.Get("1", "after", 0, kid)
	assert.Equal(t, shred.Present, st, "read on past the refused batches")
	assert.Equal(t, key, got)
}
