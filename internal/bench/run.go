package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/internal/gen"
)

// Report is the outcome of Run.
type Report struct {
	// Config is the effective configuration (defaults applied), with the
	// generator's configuration as used.
	Config Config
	Mode   BrokerMode
	// Brokers are the addresses the turns used.
	Brokers []string
	// IdentityShare is the measured share of identity events ($identify,
	// $create_alias) among the window's records, ByKind their kinds.
	IdentityShare float64
	ByKind        map[string]int
	// Turns are the reported turns in the order they ran.
	Turns []Turn
	// Preload is what the preload made (Config.PreloadIDs > 0).
	Preload *PreloadStats
	// LoadBefore and LoadAfter are /proc/loadavg's 1, 5 and 15 minute
	// averages at the start and end of the run ("" where unknown).
	LoadBefore, LoadAfter string
	GOMAXPROCS, NumCPU    int
	GCPercent             int // the collector's GOGC (-1: off)
	Started               time.Time
	Took                  time.Duration
}

// Run measures cfg's comparison: optionally one unreported warm-up turn of
// each kind, then Pairs pairs of turns, limit first in each pair. When
// cfg.CPUProfile or cfg.MemProfile is set, the resolver turn of the last
// pair is profiled: the CPU profile and the allocations sampled cover its
// throughput window only (the allocation profile also holds the few
// allocations sampled before Run began, and pprof's own). Profiling slows
// that turn a little; Report.Turns marks it.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.MemProfile != nil {
		// Before the input is generated: only the window is sampled.
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 0
		defer func() { runtime.MemProfileRate = old }()
	}
	r, rep, closeRunner, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	defer closeRunner()
	c := &r.c
	if r.tail != nil {
		ps, remove, err := r.preload(ctx)
		if err != nil {
			return nil, err
		}
		defer remove()
		rep.Preload = ps
	}
	if c.WarmupTurn {
		n := min(c.Events, 50_000)
		for _, k := range []Kind{Limit, Resolver} {
			r.say("warm-up %s (%d events, not reported)", k, n)
			if _, err := r.turn(ctx, k, 0, n, false, false); err != nil {
				return nil, err
			}
		}
	}
	kinds := []Kind{Limit, Resolver}
	if c.PreloadIDs > 0 {
		kinds = append(kinds, Preloaded)
	}
	for pair := 1; pair <= c.Pairs; pair++ {
		for _, k := range kinds {
			profile := k == profiledKind(c) && pair == c.Pairs && (c.CPUProfile != nil || c.MemProfile != nil)
			r.say("pair %d/%d: %s", pair, c.Pairs, k)
			t, err := r.turn(ctx, k, pair, c.Events, c.LatencyEvents > 0, profile)
			if err != nil {
				return nil, err
			}
			rep.Turns = append(rep.Turns, t)
		}
	}
	rep.LoadAfter = loadAvg()
	rep.Took = time.Since(rep.Started)
	return rep, nil
}

// preload makes the preloaded replica the preloaded turns copy (a
// template in StateDir) and returns what it made and how to remove it.
func (r *runner) preload(ctx context.Context) (*PreloadStats, func(), error) {
	c, tail := &r.c, r.tail
	dir, err := os.MkdirTemp(c.StateDir, "resolver-bench-preload-")
	if err != nil {
		return nil, nil, fmt.Errorf("bench: preload dir: %w", err)
	}
	remove := func() { os.RemoveAll(dir) }
	r.say("preloading %d distinct ids (%d people) into %s", tail.ids, tail.persons, dir)
	ps, err := preload(ctx, dir, tail, c.State, c.Log, func(done int64) { r.say("  preloaded %d of %d ids", done, tail.ids) })
	if err != nil {
		remove()
		return nil, nil, err
	}
	r.say("preloaded %d ids in %v: %.1f bytes on disk per id after compaction", ps.IDs, ps.Took.Round(time.Second), ps.BytesPerID())
	r.template = dir
	return &ps, remove, nil
}

// profiledKind is the kind whose last turn is profiled: the preloaded one
// when there is one (the large state is what it asks about).
func profiledKind(c *Config) Kind {
	if c.PreloadIDs > 0 {
		return Preloaded
	}
	return Resolver
}

// newRunner applies cfg's defaults, starts the in-process broker if cfg
// names none, plans the input and connects; the function it returns
// releases all of it.
func newRunner(cfg Config) (_ *runner, _ *Report, release func(), err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, nil, err
	}
	c := cfg.withDefaults()
	rep := &Report{Started: time.Now(), LoadBefore: loadAvg(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), GCPercent: gcPercent()}
	var closers []func()
	release = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			release()
		}
	}()

	switch {
	case len(c.Kafka.Brokers) == 0:
		b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Logger: c.Log.Named("broker")})
		if err != nil {
			return nil, nil, nil, err
		}
		closers = append(closers, b.Close)
		c.Kafka.Brokers = b.Addrs()
		rep.Mode = InProcess
	case c.BrokerPID > 0:
		rep.Mode = ChildProcess
	default:
		rep.Mode = External
	}
	rep.Brokers = c.Kafka.Brokers

	if c.IdentityShare > 0 {
		g, _, err := GenConfigFor(c.Gen, c.IdentityShare)
		if err != nil {
			return nil, nil, nil, err
		}
		c.Gen = g
	}
	var tail *preloadSet
	if c.PreloadIDs > 0 {
		tail = newPreloadSet(c.Gen, c.PreloadIDs)
	}
	p, err := newPlan(c.Gen, c.WarmupEvents, c.Events, c.LatencyEvents, tail, c.TailShare)
	if err != nil {
		return nil, nil, nil, err
	}
	c.Gen = p.cfg
	rep.Config = c
	rep.ByKind = p.byKind
	if p.total > 0 {
		rep.IdentityShare = float64(p.identity) / float64(p.total)
	}

	adm, closeAdm, err := newAdmin(c)
	if err != nil {
		return nil, nil, nil, err
	}
	closers = append(closers, closeAdm)
	prod, err := NewProducer(c.Kafka, c.Log.Named("warmup"))
	if err != nil {
		return nil, nil, nil, err
	}
	closers = append(closers, prod.Close)
	r := &runner{c: c, adm: adm, prod: prod, plan: p, run: strconv.FormatInt(time.Now().UnixNano()%1e9, 36), tail: tail}
	return r, rep, release, nil
}

// newAdmin is an admin client of c's cluster.
func newAdmin(c Config) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(clientOpts(c.Kafka, c.Log, "admin")...)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: admin client: %w", err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// loadAvg is the first three fields of /proc/loadavg, "" where there is
// none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// genSummary describes a generator configuration in one line.
func genSummary(g gen.Config) string {
	return fmt.Sprintf("seed %d, %d teams, %d users, %d sessions/user, %d events/session, identify share %.3f, pad %d B",
		g.Seed, g.Teams, g.Users, g.SessionsPerUser, g.EventsPerSession, g.IdentifyShare, g.PadBytes)
}

// gcPercent is the collector's GOGC now (-1: off), for the report.
func gcPercent() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(int64(s[0].Value.Uint64()))
}
