package bench

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/gen"
)

// IsIdentity reports whether a generated record of this kind is an identity
// event: an $identify (a login, or a refused shared-device login) or a
// $create_alias.
func IsIdentity(kind string) bool {
	return kind == gen.KindIdentify || kind == gen.KindSharedDevice || kind == gen.KindAlias
}

// IdentityShareOf returns the share of identity events among the first n
// records of cfg's stream (all of them if it has fewer).
func IdentityShareOf(cfg gen.Config, n int) float64 {
	g := gen.New(cfg)
	ident, total := 0, 0
	for total < n {
		r, ok := g.Next()
		if !ok {
			break
		}
		total++
		if IsIdentity(r.Kind) {
			ident++
		}
	}
	if total == 0 {
		return 0
	}
	return float64(ident) / float64(total)
}

// calibrationUsers is the size of the sample GenConfigFor measures: the
// share is a per-session statistic, so a few thousand people settle it.
// A variable for tests under the race detector, which slows the generator.
var calibrationUsers = 2000

// GenConfigFor returns base changed so that about share of its records are
// identity events, and the share measured on a sample of that config. It
// moves IdentifyShare (the share of sessions that log in); when logging in every session is not enough, it shortens sessions
// (EventsPerSession) until it is; when even no logins give too many (people
// on a second device always log in), it turns off cross-device use and
// shared-device logins too. Shares in (0, 0.5] are accepted.
//
// It moves IdentifyShare by regula falsi (the share is close to linear in
// it) until the sample is within 1% of share, in at most 6 steps.
func GenConfigFor(base gen.Config, share float64) (gen.Config, float64, error) {
	if share <= 0 || share > 0.5 {
		return base, 0, fmt.Errorf("bench: identity share %v must be in (0, 0.5]: %w", share, ErrInvalidConfig)
	}
	if err := base.Validate(); err != nil {
		return base, 0, fmt.Errorf("bench: %w", err)
	}
	eps := base.EventsPerSession
	if eps == 0 {
		eps = gen.DefaultEventsPerSession
	}
	measure := func(c gen.Config, p float64) float64 {
		c.IdentifyShare = p
		if p <= 0 {
			c.IdentifyShare = gen.None
		}
		c.Users = calibrationUsers
		c.Concurrency = 0
		return IdentityShareOf(c, 1<<30)
	}
	c := base
	c.EventsPerSession = eps
	// Longest sessions that still reach the share when every one logs in.
	for measure(c, 1) < share {
		if c.EventsPerSession <= 2 {
			return base, 0, fmt.Errorf("bench: identity share %v: not reachable even with 2-record sessions that all log in: %w", share, ErrInvalidConfig)
		}
		c.EventsPerSession = max(2, c.EventsPerSession*3/4)
	}
	if measure(c, 0) > share {
		c.CrossDeviceShare, c.SharedDeviceRate = gen.None, gen.None
		if got := measure(c, 0); got > share {
			return base, 0, fmt.Errorf("bench: identity share %v: the stream has %.4f without any logins: %w", share, got, ErrInvalidConfig)
		}
	}
	// The share is close to linear in IdentifyShare: regula falsi on the
	// bracket [0, 1] gets within a percent in a few steps.
	lo, hi := 0.0, 1.0
	flo, fhi := measure(c, lo)-share, measure(c, hi)-share
	p, fp := hi, fhi
	for range 6 {
		if fhi == flo {
			break
		}
		p = lo - flo*(hi-lo)/(fhi-flo)
		fp = measure(c, p) - share
		if math.Abs(fp) <= share/100 {
			break
		}
		if fp < 0 {
			lo, flo = p, fp
		} else {
			hi, fhi = p, fp
		}
	}
	c.IdentifyShare = p
	if p <= 0 {
		c.IdentifyShare = gen.None
	}
	return c, fp + share, nil
}

// plan is the generated input of every turn: the stream of cfg, whose first
// warmup records warm the processors up, the next events are the
// throughput window's, and the last probes measure latency.
type plan struct {
	cfg                    gen.Config
	tail                   *preloadSet // nil: no tail events
	tailShare              float64
	warmup, events, probes int
	identity, total        int // identity events among the window's records
	byKind                 map[string]int
	probeRecs              []gen.Record
}

// newPlan chooses the number of people so that cfg's stream has enough
// records, and counts the window's identity events.
//
// With tail, about tailShare of the records (at positions a hash of the
// position picks) are tail events of preloaded ids instead (preload.go),
// at the time of the generated record before them.
func newPlan(cfg gen.Config, warmup, events, probes int, tail *preloadSet, tailShare float64) (*plan, error) {
	need := warmup + events + probes
	d := cfg
	sessions, eps := d.SessionsPerUser, d.EventsPerSession
	if sessions == 0 {
		sessions = gen.DefaultSessionsPerUser
	}
	if eps == 0 {
		eps = gen.DefaultEventsPerSession
	}
	genNeed := need
	if tail != nil {
		genNeed = int(float64(need)*(1-tailShare)) + need/20 + 64 // the tail's share varies a little
	}
	cfg.Users = max(1, genNeed/(sessions*eps))
	cfg.Concurrency = 0
	for {
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if gen.New(cfg).Total() >= genNeed {
			break
		}
		cfg.Users += cfg.Users/20 + 1
	}
	p := &plan{cfg: cfg, tail: tail, tailShare: tailShare, warmup: warmup, events: events, probes: probes, byKind: map[string]int{}}
	if tail != nil {
		// Enough generated records for the tail's actual share.
		gens := 0
		for i := range need {
			if !p.isTail(i) {
				gens++
			}
		}
		for gen.New(p.cfg).Total() < gens {
			p.cfg.Users += p.cfg.Users/20 + 1
		}
	}
	next := p.records(0, need)
	for i := 0; i < need; i++ {
		r, _ := next()
		switch {
		case i < warmup:
		case i < warmup+events:
			p.total++
			p.byKind[r.Kind]++
			if IsIdentity(r.Kind) {
				p.identity++
			}
		default:
			p.probeRecs = append(p.probeRecs, r)
		}
	}
	return p, nil
}

// isTail reports whether the plan's i-th record is a tail event.
func (p *plan) isTail(i int) bool {
	if p.tail == nil || p.tailShare <= 0 {
		return false
	}
	h := uint64(i)*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	h ^= h >> 31
	return float64(h>>11)/(1<<53) < p.tailShare
}

// records returns a function yielding the records [from, to) of the
// plan's stream.
func (p *plan) records(from, to int) func() (gen.Record, bool) {
	g := gen.New(p.cfg)
	last := g.Config().Start.UnixMilli()
	for i := 0; i < from; i++ {
		if !p.isTail(i) {
			if r, ok := g.Next(); ok {
				last = r.Time.UnixMilli()
			}
		}
	}
	i := from
	return func() (gen.Record, bool) {
		if i >= to {
			return gen.Record{}, false
		}
		i++
		if p.isTail(i - 1) {
			return p.tail.tail(i-1, last, p.cfg.PadBytes), true
		}
		r, ok := g.Next()
		if ok {
			last = r.Time.UnixMilli()
		}
		return r, ok
	}
}

// Produce writes every record next yields to topic through cl, keyed as
// generated ("token:distinct_id"), and returns how many it handed to the
// client. The client's buffer bounds the records in flight (Produce blocks
// when it is full); Produce flushes before it returns and reports the first
// produce error. onRecord, if set, sees each record after it is handed
// over (for progress).
func Produce(ctx context.Context, cl *kgo.Client, topic string, next func() (gen.Record, bool), onRecord func(gen.Record)) (int, error) {
	var mu sync.Mutex
	var first error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if first == nil {
				first = err
			}
			mu.Unlock()
		}
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return first
	}
	n := 0
	for ctx.Err() == nil {
		r, ok := next()
		if !ok {
			break
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: r.Key, Value: r.Value}, promise)
		n++
		if onRecord != nil {
			onRecord(r)
		}
		if n%4096 == 0 {
			if err := failed(); err != nil {
				return n, fmt.Errorf("bench: produce to %s: %w", topic, err)
			}
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return n, fmt.Errorf("bench: flush to %s: %w", topic, err)
	}
	if err := failed(); err != nil {
		return n, fmt.Errorf("bench: produce to %s: %w", topic, err)
	}
	return n, ctx.Err()
}
