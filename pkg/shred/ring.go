package shred

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// DefaultTopic is the default of RingConfig.Topic.
const DefaultTopic = "identity_keys"

// State is what the ring knows of a data key.
type State uint8

const (
	// Unknown: the ring has read no record of the key.
	Unknown State = iota
	// Present: the key's last record holds the key.
	Present
	// Tombstoned: the key's last record is a tombstone — the key is erased.
	Tombstoned
)

func (s State) String() string {
	switch s {
	case Present:
		return "present"
	case Tombstoned:
		return "tombstoned"
	default:
		return "unknown"
	}
}

// RingConfig configures a Ring.
type RingConfig struct {
	// Topic is the compacted topic of data keys. Default DefaultTopic.
	Topic string
	// Opts are the options of the client the ring builds (seed brokers,
	// TLS, SASL, …) when Client is nil. The ring adds what it needs —
	// ConsumeTopics(Topic) from the start, read_committed, control records
	// kept (to know when it has read to the end) — and closes that client
	// on Close. Whoever can write the topic chooses what its client
	// decompresses: bound it (kgo.WithDecompressor; the resolver's applier
	// passes the bounds every replica shares). A record batch the client
	// refuses (kgo.ErrDecompressTooLarge) is skipped and counted
	// (RingStats.Refused).
	Opts []kgo.Opt
	// Client, when set, is used instead of building one; the ring adds
	// Topic to it and does not close it. It must be read_committed
	// (kgo.FetchIsolationLevel(kgo.ReadCommitted())), keep control records
	// (kgo.KeepControlRecords()), start and reset at the start
	// (kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())), not be
	// transactional, and consume nothing else (no group, topics, partitions
	// or regex): the ring polls it. NewRing says what is missing.
	Client *kgo.Client
	// MasterKey, when set, wraps the data keys the ring writes and
	// unwraps wrapped ones it reads. Nil: keys are written raw (see
	// MasterKey for what that protects against).
	MasterKey *MasterKey
	// Logger defaults to zap.NewNop().
	Logger *zap.Logger
}

// RingStats count what the ring has read. A record refused (BadKey,
// BadValue, WrongSize, Unwrap) is skipped: it changes no key.
type RingStats struct {
	Records    int64 // records read, refused ones included (not control records)
	Present    int   // keys present now
	Tombstoned int   // keys tombstoned now
	BadKey     int64 // record keys that are not one a ring writes
	BadValue   int64 // values of an unknown format
	WrongSize  int64 // values of the wrong size for their format
	Unwrap     int64 // wrapped keys that do not unwrap (no or another master key, or altered)
	FetchErrs  int64 // fetch errors (the client retries)
	// Refused are record batches the client refused to decompress (its
	// decompressor's bounds, kgo.ErrDecompressTooLarge): skipped unread,
	// as every ring with the same bounds skips them.
	Refused int64
}

// Ring holds the data keys of identity_keys in memory: it reads the topic
// from its start (read_committed) in a goroutine it owns until Close, and
// writes new keys and tombstones to it. Its methods are safe for
// concurrent use.
//
// Memory: every key ever read stays in the map (a tombstoned one without
// its bytes), about 100 bytes plus the team and distinct_id per key.
type Ring struct {
	cl     *kgo.Client
	adm    *kadm.Client
	owned  bool
	topic  string
	master *MasterKey
	log    *zap.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.RWMutex
	keys    map[string][]kidEntry // genKey → its key ids
	pos     map[int32]int64       // next offset to read, per partition
	stats   RingStats
	changed chan struct{} // closed and replaced whenever something is read
	closed  bool
	warned  map[string]bool // refusal reasons already logged
}

type kidEntry struct {
	kid  uint64
	tomb bool
	key  Key
}

// NewRing starts a ring reading cfg.Topic. It does not wait for the ring to
// read anything: CatchUp does.
func NewRing(cfg RingConfig) (*Ring, error) {
	topic := cfg.Topic
	if topic == "" {
		topic = DefaultTopic
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	cl, owned := cfg.Client, false
	if cl == nil {
		opts := append(append([]kgo.Opt(nil), cfg.Opts...),
			kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
			kgo.KeepControlRecords(),
			// franz-go v1.22.3's Close reads each source's fetch session id
			// without a lock while a fetch still in flight may write it
			// (bumpEpoch): a data race under -race (TestRebuild, CI). The
			// ring reads one small topic, so incremental fetch sessions
			// save nothing worth that.
			kgo.DisableFetchSessions(),
		)
		var err error
		if cl, err = kgo.NewClient(opts...); err != nil {
			return nil, fmt.Errorf("shred: ring client: %w", err)
		}
		if err := checkOwnClient(cl); err != nil { // cfg.Opts asked for a group or a transactional id
			cl.Close()
			return nil, err
		}
		owned = true
	} else {
		if err := checkClient(cl); err != nil {
			return nil, err
		}
		cl.AddConsumeTopics(topic)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Ring{
		cl: cl, adm: kadm.NewClient(cl), owned: owned, topic: topic, master: cfg.MasterKey,
		log: log.Named("shred"), cancel: cancel, done: make(chan struct{}),
		keys: map[string][]kidEntry{}, pos: map[int32]int64{}, changed: make(chan struct{}), warned: map[string]bool{},
	}
	go r.read(ctx)
	return r, nil
}

// skipRefused moves the ring past record batches its client refused to
// decompress: it reads on after each, and counts it. Called with r.mu held.
func (r *Ring) skipRefused(refused []*kgo.ErrDecompressTooLarge) {
	if len(refused) == 0 {
		return
	}
	skip := map[int32]kgo.EpochOffset{}
	for _, b := range refused {
		r.stats.Refused++
		r.log.Warn("identity_keys record batch refused unread (it decompresses past the client's bounds, or not at all): skipped",
			zap.String("topic", b.Topic), zap.Int32("partition", b.Partition), zap.Int64("first_offset", b.Offset), zap.Int64("last_offset", b.NextOffset-1))
		r.pos[b.Partition] = b.NextOffset
		skip[b.Partition] = kgo.EpochOffset{Epoch: b.Epoch, Offset: b.NextOffset}
	}
	r.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{r.topic: skip})
}

// checkOwnClient refuses a client built from options that do not go with
// the ring's.
func checkOwnClient(cl *kgo.Client) error {
	var problems []string
	if v, _ := cl.OptValue(kgo.TransactionalID).(string); v != "" {
		problems = append(problems, "transactional")
	}
	if v, _ := cl.OptValue(kgo.ConsumerGroup).(string); v != "" {
		problems = append(problems, "in a consumer group")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: options %v", ErrRingClient, problems)
	}
	return nil
}

// checkClient refuses a client the ring cannot read and write with.
func checkClient(cl *kgo.Client) error {
	var problems []string
	if v, _ := cl.OptValue(kgo.FetchIsolationLevel).(int8); v != 1 {
		problems = append(problems, "not read_committed (kgo.FetchIsolationLevel(kgo.ReadCommitted()))")
	}
	if v, _ := cl.OptValue(kgo.KeepControlRecords).(bool); !v {
		problems = append(problems, "does not keep control records (kgo.KeepControlRecords())")
	}
	if v, _ := cl.OptValue(kgo.TransactionalID).(string); v != "" {
		problems = append(problems, "transactional")
	}
	if v, _ := cl.OptValue(kgo.ConsumerGroup).(string); v != "" {
		problems = append(problems, "in a consumer group")
	}
	if v, _ := cl.OptValue(kgo.ConsumeTopics).([]string); len(v) > 0 {
		problems = append(problems, "already consumes topics")
	}
	if v, _ := cl.OptValue(kgo.ConsumePartitions).(map[string]map[int32]kgo.Offset); len(v) > 0 {
		problems = append(problems, "already consumes partitions")
	}
	if v, _ := cl.OptValue(kgo.ConsumeRegex).(bool); v {
		problems = append(problems, "consumes by regex")
	}
	for _, opt := range []any{kgo.ConsumeStartOffset, kgo.ConsumeResetOffset} {
		if v, ok := cl.OptValue(opt).(kgo.Offset); !ok || v.EpochOffset().Offset != -2 {
			problems = append(problems, "does not start and reset at the start (kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))")
			break
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %v", ErrRingClient, problems)
	}
	return nil
}

// Close stops reading and waits for the reader; it closes the client if
// the ring built it. Methods called after Close return ErrClosed (Get
// still answers from what was read).
func (r *Ring) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	<-r.done
	if r.owned {
		r.cl.Close()
	}
}

// read polls the topic until ctx ends.
func (r *Ring) read(ctx context.Context) {
	defer close(r.done)
	for {
		fs := r.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return
		}
		r.mu.Lock()
		var refused []*kgo.ErrDecompressTooLarge
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			if b, ok := errors.AsType[*kgo.ErrDecompressTooLarge](err); ok {
				refused = append(refused, b) // after the poll's records, which come before it
				return
			}
			r.stats.FetchErrs++
			if n := r.stats.FetchErrs; n&(n-1) == 0 { // the 1st, 2nd, 4th, …: a missing topic repeats
				r.log.Warn("identity_keys fetch error (retried)", zap.String("topic", topic), zap.Int32("partition", p),
					zap.Int64("errors_so_far", n), zap.Error(err))
			}
		})
		fs.EachRecord(r.apply)
		r.skipRefused(refused)
		close(r.changed)
		r.changed = make(chan struct{})
		r.mu.Unlock()
	}
}

// apply reads one record; r.mu is held.
func (r *Ring) apply(rec *kgo.Record) {
	if next := rec.Offset + 1; next > r.pos[rec.Partition] {
		r.pos[rec.Partition] = next
	}
	if rec.Attrs.IsControl() || rec.Topic != r.topic {
		return
	}
	r.stats.Records++
	name, genLen, ok := parseRecordKey(rec.Key)
	if !ok {
		r.stats.BadKey++
		r.refused(rec, "bad key", "record key is not team:distinct_id:generation:key_id as a ring writes it")
		return
	}
	if len(rec.Value) == 0 {
		r.set(string(rec.Key[:genLen]), kidEntry{kid: name.kid, tomb: true})
		return
	}
	key, err := decodeValue(r.master, rec.Key, rec.Value)
	kind := "unwrap"
	switch {
	case errors.Is(err, errWrongSize):
		r.stats.WrongSize++
		kind = "wrong size"
	case errors.Is(err, errBadValue):
		r.stats.BadValue++
		kind = "bad value"
	case err != nil:
		r.stats.Unwrap++
	default:
		r.set(string(rec.Key[:genLen]), kidEntry{kid: name.kid, key: key})
		return
	}
	r.refused(rec, kind, err.Error())
}

// set records the last state of a key id; r.mu is held.
func (r *Ring) set(gk string, e kidEntry) {
	es := r.keys[gk]
	for i := range es {
		if es[i].kid == e.kid {
			r.count(es[i], -1)
			es[i] = e
			r.count(e, 1)
			return
		}
	}
	r.keys[gk] = append(es, e)
	r.count(e, 1)
}

func (r *Ring) count(e kidEntry, d int) {
	if e.tomb {
		r.stats.Tombstoned += d
	} else {
		r.stats.Present += d
	}
}

// refused logs the first refusal of each kind (they are counted in
// Stats); the log names the record's position, never its key or value.
func (r *Ring) refused(rec *kgo.Record, kind, why string) {
	if r.warned[kind] {
		return
	}
	r.warned[kind] = true
	r.log.Warn("identity_keys record skipped (further ones of this reason are only counted)",
		zap.String("reason", why), zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset))
}

// Get is what the ring has read of key id kid of (team, did, gen): the
// key and Present, or Tombstoned, or Unknown. It does not wait; see
// WaitFor.
func (r *Ring) Get(team, did string, gen uint32, kid uint64) (Key, State) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.getLocked(team, did, gen, kid)
}

// WaitFor is Get, waiting when the key is Unknown until the ring has read
// past the end offsets the topic had when WaitFor was called (so any key
// whose record was acknowledged before the call is seen), or until
// timeout or ctx ends. Unknown with a nil error means the ring has read
// that far and no record of the key exists: a forged key id, or one whose
// records compaction removed. An error (the deadline, the broker) means
// the ring could not tell: the caller must not treat the key as erased.
func (r *Ring) WaitFor(ctx context.Context, team, did string, gen uint32, kid uint64, timeout time.Duration) (Key, State, error) {
	if k, st := r.Get(team, did, gen, kid); st != Unknown {
		return k, st, nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := r.catchUp(ctx, func() bool {
		_, st := r.getLocked(team, did, gen, kid)
		return st != Unknown
	})
	k, st := r.Get(team, did, gen, kid)
	if err != nil && st == Unknown {
		return Key{}, Unknown, fmt.Errorf("shred: wait for data key %d of a distinct_id of team %s, generation %d: %w", kid, quoteShort(team), gen, err)
	}
	return k, st, nil
}

// getLocked is Get; r.mu is held.
func (r *Ring) getLocked(team, did string, gen uint32, kid uint64) (Key, State) {
	var a [256]byte
	gk := appendGenKey(a[:0], team, did, gen)
	for _, e := range r.keys[string(gk)] {
		if e.kid == kid {
			if e.tomb {
				return Key{}, Tombstoned
			}
			return e.key, Present
		}
	}
	return Key{}, Unknown
}

// CatchUp waits until the ring has read past the end offsets the topic had
// when it was called: every record acknowledged before the call (and every
// transaction committed before it) has then been read.
func (r *Ring) CatchUp(ctx context.Context) error {
	if err := r.catchUp(ctx, nil); err != nil {
		return fmt.Errorf("shred: catch up with %s: %w", r.topic, err)
	}
	return nil
}

// catchUp waits until the ring has read past the topic's end offsets as of
// now, or until done (checked with r.mu held) holds.
func (r *Ring) catchUp(ctx context.Context, done func() bool) error {
	r.mu.RLock()
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	ends, err := r.adm.ListEndOffsets(ctx, r.topic)
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	starts, err := r.adm.ListStartOffsets(ctx, r.topic)
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	if err := starts.Error(); err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	target := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); !ok || o.Offset > s.Offset {
			target[o.Partition] = o.Offset
		} // else empty: nothing to read
	})
	for {
		r.mu.RLock()
		reached := true
		for p, end := range target {
			if r.pos[p] < end {
				reached = false
				break
			}
		}
		if !reached && done != nil {
			reached = done()
		}
		changed, closed := r.changed, r.closed
		r.mu.RUnlock()
		switch {
		case reached:
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-r.done:
			return ErrClosed
		}
	}
}

// Create makes a new data key for (team, did, gen) under a fresh random
// key id, writes it to the topic and waits for the broker's
// acknowledgement: an op sealed with it may be logged once Create returns.
// Two callers may create keys for one generation at once; both are kept,
// under their own key ids.
//
// It refuses, with ErrErased, a generation of which the ring has read a
// tombstone (values sealed under it would be erased on arrival), and with
// ErrInvalidID a team or distinct_id out of bounds. The key is known to
// Get as soon as Create returns.
func (r *Ring) Create(ctx context.Context, team, did string, gen uint32) (uint64, Key, error) {
	out, err := r.CreateMany(ctx, []Gen{{Team: team, DistinctID: did, Gen: gen}})
	if err != nil {
		return 0, Key{}, err
	}
	if out[0].Err != nil {
		return 0, Key{}, out[0].Err
	}
	return out[0].KeyID, out[0].Key, nil
}

// Gen names a generation of a distinct_id's values: the scope of data keys.
type Gen struct {
	Team, DistinctID string
	Gen              uint32
}

// Created is one key of CreateMany: its id and bytes, or why none was made
// (ErrErased, ErrInvalidID).
type Created struct {
	KeyID uint64
	Key   Key
	Err   error
}

// CreateMany is Create for many generations at once: one write of all
// their key records, acknowledged together (a batch of new ids costs one
// produce request, not one each). Per-generation refusals are in the
// results; the error is the write's (or ErrClosed), when no key was made.
func (r *Ring) CreateMany(ctx context.Context, gens []Gen) ([]Created, error) {
	out := make([]Created, len(gens))
	recs := make([]*kgo.Record, 0, len(gens))
	at := make([]int, 0, len(gens)) // index of each record's generation
	r.mu.RLock()
	closed := r.closed
	for i, g := range gens {
		if !validID(g.Team, g.DistinctID) {
			out[i].Err = fmt.Errorf("%w: team of %d bytes, distinct_id of %d bytes", ErrInvalidID, len(g.Team), len(g.DistinctID))
			continue
		}
		es := r.keys[string(appendGenKey(nil, g.Team, g.DistinctID, g.Gen))]
		erased := false
		for _, e := range es {
			erased = erased || e.tomb
		}
		if erased {
			out[i].Err = fmt.Errorf("%w: team %s, generation %d of a distinct_id", ErrErased, quoteShort(g.Team), g.Gen)
			continue
		}
		var kid uint64
		for kid == 0 {
			kid = randomKeyID()
			for _, e := range es {
				if e.kid == kid {
					kid = 0
				}
			}
		}
		key, err := NewKey()
		if err != nil {
			r.mu.RUnlock()
			return nil, err
		}
		out[i].KeyID, out[i].Key = kid, key
		rk := appendRecordKey(nil, g.Team, g.DistinctID, g.Gen, kid)
		recs = append(recs, &kgo.Record{Topic: r.topic, Key: rk, Value: encodeValue(r.master, rk, key)})
		at = append(at, i)
	}
	r.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if len(recs) == 0 {
		return out, nil
	}
	if err := r.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return nil, fmt.Errorf("shred: write data keys to %s: %w", r.topic, err)
	}
	r.mu.Lock()
	for _, i := range at {
		g := gens[i]
		if _, st := r.getLocked(g.Team, g.DistinctID, g.Gen, out[i].KeyID); st == Unknown {
			// The reader may have read it, or a later tombstone of it, already:
			// then what it read stands.
			r.set(string(appendGenKey(nil, g.Team, g.DistinctID, g.Gen)), kidEntry{kid: out[i].KeyID, key: out[i].Key})
		}
	}
	r.mu.Unlock()
	return out, nil
}

// randomKeyID is a random key id, never 0 (which means "not sealed").
func randomKeyID() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail (Go 1.24+)
		if id := binary.BigEndian.Uint64(b[:]); id != 0 {
			return id
		}
	}
}

// TombstoneRecords are the tombstones (null values) of every key id of
// (team, did, gen) the ring knows, for a caller that writes them itself —
// in the transaction that commits a delete command. Call CatchUp first so
// that the ring knows every key written before.
func (r *Ring) TombstoneRecords(team, did string, gen uint32) []*kgo.Record {
	var a [256]byte
	gk := appendGenKey(a[:0], team, did, gen)
	r.mu.RLock()
	defer r.mu.RUnlock()
	es := r.keys[string(gk)]
	recs := make([]*kgo.Record, 0, len(es))
	for _, e := range es {
		recs = append(recs, &kgo.Record{Topic: r.topic, Key: appendRecordKey(nil, team, did, gen, e.kid)})
	}
	return recs
}

// Tombstone erases every key of (team, did, gen): it catches up (so keys
// written before the call are known), writes a tombstone for each key id,
// waits for their acknowledgement, and returns how many it wrote. Get
// answers Tombstoned for them once it returns. Tombstoning is idempotent.
func (r *Ring) Tombstone(ctx context.Context, team, did string, gen uint32) (int, error) {
	if !validID(team, did) {
		return 0, fmt.Errorf("%w: team of %d bytes, distinct_id of %d bytes", ErrInvalidID, len(team), len(did))
	}
	if err := r.CatchUp(ctx); err != nil {
		return 0, err
	}
	recs := r.TombstoneRecords(team, did, gen)
	if len(recs) == 0 {
		return 0, nil
	}
	if err := r.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return 0, fmt.Errorf("shred: write tombstones to %s: %w", r.topic, err)
	}
	gk := string(appendGenKey(nil, team, did, gen))
	r.mu.Lock()
	for _, rec := range recs {
		name, _, _ := parseRecordKey(rec.Key)
		r.set(gk, kidEntry{kid: name.kid, tomb: true})
	}
	r.mu.Unlock()
	return len(recs), nil
}

// Stats are the ring's counts so far.
func (r *Ring) Stats() RingStats {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.stats
}

// Current is a present key of (team, did, gen) to seal new values with:
// the one with the lowest key id, so that every caller of one ring picks
// the same. ok is false when the ring knows none, or the generation is
// erased (then erased is true, and values for it must be dropped, not
// sealed: they would be erased on arrival).
func (r *Ring) Current(team, did string, gen uint32) (kid uint64, key Key, ok, erased bool) {
	var a [256]byte
	gk := appendGenKey(a[:0], team, did, gen)
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, e := range r.keys[string(gk)] {
		switch {
		case e.tomb:
			erased = true
		case !ok || e.kid < kid:
			kid, key, ok = e.kid, e.key, true
		}
	}
	if erased {
		return 0, Key{}, false, true
	}
	return kid, key, ok, false
}
