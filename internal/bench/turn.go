package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// Turn is the measurement of one turn.
type Turn struct {
	Kind Kind
	// Pair is the turn's pair, from 1; 0 for an unreported warm-up turn.
	Pair int
	// Events is the number of input records of the throughput window, and
	// Window its duration: from the commit that made them visible to the
	// commit of the last one's transaction.
	Events int
	Window time.Duration
	// CPU is this process's CPU (user + system, every thread) during the
	// window; CPUOK is false where it cannot be read. With the broker in
	// process it includes the broker's.
	CPU   time.Duration
	CPUOK bool
	// BrokerCPU is a child broker's CPU during the window (BrokerPID).
	BrokerCPU   time.Duration
	BrokerCPUOK bool
	// PeakRSS is this process's VmHWM at the end of the window, in bytes.
	// When RSSReset, the high-water mark was reset just before the turn's
	// input was produced, so it is the peak of this turn; otherwise it is
	// the peak since the process started. BrokerPeakRSS is the same for a
	// child broker.
	PeakRSS       int64
	BrokerPeakRSS int64
	RSSReset      bool
	// OpsLogged is the number of identity ops the pipelines logged during
	// the window (resolver turns).
	OpsLogged int64
	// Latency: end-to-end latency of the probe records (produce time →
	// visible to a read_committed consumer of the output), and how many of
	// the expected probes were seen.
	LatencyP50, LatencyP99 time.Duration
	LatencySamples         int
	LatencyExpected        int
	// Steps sums the workers' batch time by step (stream.Step) over the
	// window (resolver turns): a batch ending in the window counts whole.
	Steps [stream.NumSteps]time.Duration
	// Profiled is true for the turn the CPU and memory profiles cover.
	Profiled bool
	// Rows are what a resolver turn's replicas hold at its end, by key
	// kind (state.Store.RowStats, summed over instances), and RowsOps the
	// identity ops they hold the rows of: every op the turn's pipelines
	// logged, warm-up and latency probes included. Not read for preloaded
	// turns (the preload's rows would swamp the turn's).
	Rows    []state.RowKind
	RowsOps int64
}

// EventsPerSec is the window's throughput.
func (t *Turn) EventsPerSec() float64 {
	if t.Window <= 0 {
		return 0
	}
	return float64(t.Events) / t.Window.Seconds()
}

// CPUPerMillion is CPU seconds per million events: this process's, or with
// broker true the child broker's.
func (t *Turn) CPUPerMillion(broker bool) float64 {
	c := t.CPU
	if broker {
		c = t.BrokerCPU
	}
	if t.Events == 0 {
		return 0
	}
	return c.Seconds() / float64(t.Events) * 1e6
}

// runner holds what every turn of a run shares.
type runner struct {
	c    Config
	adm  *kadm.Client
	prod *kgo.Client // warm-up records
	plan *plan
	run  string // unique per run: prefixes every topic and group
	seq  int
	// template is the preloaded replica (Config.PreloadIDs) the preloaded
	// turns copy; "" without.
	template string
	tail     *preloadSet // the preloaded people (Config.PreloadIDs); nil: none

	// window, when set, is called as the throughput window opens (true)
	// and closes (false); benchmarks start and stop their timer there.
	window func(open bool)
}

// say writes one progress line.
func (r *runner) say(format string, args ...any) {
	if r.c.Progress != nil {
		fmt.Fprintf(r.c.Progress, format+"\n", args...)
	}
}

// names of one turn's topics and group.
type names struct {
	topics stream.Topics // resolver turns
	out    string        // limit turns: the passthrough's output
	group  string
}

func (r *runner) names(kind Kind) names {
	r.seq++
	prefix := fmt.Sprintf("bench-%s-%d-%s-", r.run, r.seq, kind)
	n := names{group: prefix + "group"}
	if kind == Limit {
		n.topics.Raw, n.out = prefix+"raw", prefix+"out"
		return n
	}
	d := stream.DefaultTopics()
	n.topics = stream.Topics{
		Raw: prefix + d.Raw, Person: prefix + d.Person, DeadLetter: prefix + d.DeadLetter,
		IdentityLog: prefix + d.IdentityLog, Persons: prefix + d.Persons, DistinctIDs: prefix + d.DistinctIDs,
		Warnings: prefix + d.Warnings, Billing: prefix + d.Billing,
		Commands: prefix + d.Commands, Merges: prefix + d.Merges, Keys: prefix + d.Keys,
	}
	n.out = n.topics.Person
	return n
}

func (n names) all(kind Kind) []string {
	if kind == Limit {
		return []string{n.topics.Raw, n.out}
	}
	return n.topics.All()
}

// turn runs one turn of kind over events records of the plan's window (the
// whole window unless a warm-up turn asks for fewer); with latency it also
// measures latency with the plan's probes, and with profile it profiles the
// window.
func (r *runner) turn(ctx context.Context, kind Kind, pair int, events int, latency, profile bool) (t Turn, err error) {
	p := r.plan
	t = Turn{Kind: kind, Pair: pair, Events: events, Profiled: profile}
	n := r.names(kind)
	topics := n.all(kind)

	// Created as the pipeline creates them (stream.Topics.TopicOptions:
	// identity_commands of one partition, identity_keys compacted), so
	// that the group spreads the same partitions as in production.
	resps, err := stream.CreateTopics(ctx, r.adm, topics, r.c.Partitions, -1, n.topics.TopicOptions()...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return t, fmt.Errorf("bench: create topics: %w", err)
	}
	defer func() {
		// A fresh context: the turn's may be done, and the broker must not
		// keep this turn's records into the next.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, derr := r.adm.DeleteGroups(dctx, n.group); derr != nil {
			r.say("  (delete group %s: %v)", n.group, derr)
		}
		if _, derr := r.adm.DeleteTopics(dctx, topics...); derr != nil && err == nil {
			err = fmt.Errorf("bench: delete topics: %w", derr)
		}
	}()

	var proc processor
	var pipes *pipelines
	switch kind {
	case Limit:
		proc, err = startPassthrough(&r.c, n.topics.Raw, n.out, n.group, r.c.Log.Named("limit"))
	case Preloaded:
		r.say("  %s: copying the preloaded replica", kind)
		pipes, err = startPipelines(&r.c, n.topics, n.group, r.c.Log, r.template)
		proc = pipes
	default:
		pipes, err = startPipelines(&r.c, n.topics, n.group, r.c.Log, "")
		proc = pipes
	}
	if err != nil {
		return t, err
	}
	defer func() {
		if serr := proc.stop(); serr != nil && err == nil {
			err = serr
		}
	}()

	if err := r.waitStable(ctx, n.group, n.topics.Raw, proc); err != nil {
		return t, err
	}
	if _, err := Produce(ctx, r.prod, n.topics.Raw, p.records(0, p.warmup), nil); err != nil {
		return t, err
	}
	if err := r.waitCommitted(ctx, proc, int64(p.warmup), time.Minute); err != nil {
		return t, fmt.Errorf("bench: warm-up: %w", err)
	}

	// The window's input, in one transaction: read_committed consumers see
	// none of it until the commit, then all of it.
	loader, err := NewProducer(r.c.Kafka, r.c.Log.Named("loader"),
		kgo.TransactionalID(n.group+"-loader"), kgo.TransactionTimeout(10*time.Minute))
	if err != nil {
		return t, err
	}
	defer loader.Close()
	if err := loader.BeginTransaction(); err != nil {
		return t, fmt.Errorf("bench: loader: %w", err)
	}
	r.say("  %s: producing %d records", kind, events)
	if _, err := Produce(ctx, loader, n.topics.Raw, p.records(p.warmup, p.warmup+events), nil); err != nil {
		return t, err
	}
	runtime.GC()
	debug.FreeOSMemory()
	t.RSSReset = resetPeakRSS("self")
	if r.c.BrokerPID > 0 {
		resetPeakRSS(strconv.Itoa(r.c.BrokerPID))
	}
	var ops0 int64
	if pipes != nil {
		ops0 = pipes.opsLogged()
		pipes.steps.take() // the warm-up's
	}
	base := proc.committed()
	stopProfile := func() error { return nil }
	if profile {
		stopProfile, err = startProfiles(r.c.CPUProfile, r.c.MemProfile)
		if err != nil {
			return t, err
		}
	}
	if err := loader.EndTransaction(ctx, kgo.TryCommit); err != nil {
		_ = stopProfile()
		return t, fmt.Errorf("bench: loader: commit: %w", err)
	}
	if r.window != nil {
		r.window(true)
	}
	start, u0 := time.Now(), procSelf()
	var b0 usage
	if r.c.BrokerPID > 0 {
		b0 = pidCPU(r.c.BrokerPID)
	}
	r.say("  %s: window open", kind)
	err = r.waitCommitted(ctx, proc, base+int64(events), r.c.Timeout)
	end, u1 := time.Now(), procSelf()
	if r.window != nil {
		r.window(false)
	}
	if perr := stopProfile(); perr != nil && err == nil {
		err = perr
	}
	if err != nil {
		return t, fmt.Errorf("bench: %s turn: %w", kind, err)
	}
	t.Window = end.Sub(start)
	t.CPU, t.CPUOK = u1.cpu-u0.cpu, u0.ok && u1.ok
	t.PeakRSS = peakRSS("self")
	if r.c.BrokerPID > 0 {
		b1 := pidCPU(r.c.BrokerPID)
		t.BrokerCPU, t.BrokerCPUOK = b1.cpu-b0.cpu, b0.ok && b1.ok
		t.BrokerPeakRSS = peakRSS(strconv.Itoa(r.c.BrokerPID))
	}
	if pipes != nil {
		t.OpsLogged = pipes.opsLogged() - ops0
		t.Steps = pipes.steps.take()
	}
	r.say("  %s: %d events in %v: %.0f events/s", kind, events, t.Window.Round(time.Millisecond), t.EventsPerSec())

	if latency && len(p.probeRecs) > 0 {
		lat, expected, err := r.latency(ctx, n.topics.Raw, n.out, p)
		if err != nil {
			return t, err
		}
		t.LatencySamples, t.LatencyExpected = len(lat), expected
		t.LatencyP50, t.LatencyP99 = percentile(lat, 50), percentile(lat, 99)
		r.say("  %s: latency p50 %v p99 %v (%d of %d probes)", kind, t.LatencyP50, t.LatencyP99, len(lat), expected)
	}
	if kind == Resolver && pipes != nil {
		if t.Rows, err = pipes.rowStats(); err != nil {
			return t, err
		}
		t.RowsOps = pipes.opsLogged()
	}
	return t, nil
}

// waitStable waits until the group has every instance as a member and every
// partition of raw assigned, twice in a row 200 ms apart (a cooperative
// rebalance passes through Stable between its two rounds).
func (r *runner) waitStable(ctx context.Context, group, raw string, proc processor) error {
	deadline := time.Now().Add(2 * time.Minute)
	stable := 0
	for stable < 2 {
		if err := proc.failed(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: group %s not stable with %d members after 2 minutes: %w", group, r.c.Instances*r.c.Workers, ErrIncomplete)
		}
		if ok, err := r.groupStable(ctx, group, raw); err == nil && ok {
			stable++
		} else {
			stable = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// groupStable reports whether the group is stable with every instance's
// members and every partition of raw assigned, described as its protocol
// (kafka.group_protocol) requires.
func (r *runner) groupStable(ctx context.Context, group, raw string) (bool, error) {
	members := r.c.Instances * r.c.Workers
	if p, _ := stream.ParseGroupProtocol(r.c.Kafka.GroupProtocol); p == stream.GroupProtocolConsumer {
		gs, err := r.adm.DescribeConsumerGroups(ctx, group)
		if err != nil {
			return false, err
		}
		g := gs[group]
		parts := 0 // the members consume raw only; the embedded broker's describe omits topic names
		for _, ps := range g.AssignedPartitions() {
			parts += len(ps)
		}
		return g.Err == nil && g.State == "Stable" && len(g.Members) == members && parts == int(r.c.Partitions), nil
	}
	gs, err := r.adm.DescribeGroups(ctx, group)
	if err != nil {
		return false, err
	}
	g := gs[group]
	return g.Err == nil && g.State == "Stable" && len(g.Members) == members && len(g.AssignedPartitions()[raw]) == int(r.c.Partitions), nil
}

// waitCommitted polls proc every 2 ms until want records have committed.
func (r *runner) waitCommitted(ctx context.Context, proc processor, want int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for proc.committed() < want {
		if err := proc.failed(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d records committed after %v: %w", proc.committed(), want, timeout, ErrIncomplete)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// startProfiles starts the CPU profile and allocation sampling of a
// window and returns the function that ends both and writes them.
func startProfiles(cpu, mem io.Writer) (stop func() error, err error) {
	if cpu != nil {
		if err := pprof.StartCPUProfile(cpu); err != nil {
			return nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
	}
	if mem != nil {
		runtime.MemProfileRate = memProfileRate
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
		}
		if mem != nil {
			// pprof scales samples by the rate in force when it writes
			// them, so the rate goes back to 0 only afterwards.
			defer func() { runtime.MemProfileRate = 0 }()
			runtime.GC() // publish the window's samples
			if err := pprof.Lookup("allocs").WriteTo(mem, 0); err != nil {
				return fmt.Errorf("bench: memory profile: %w", err)
			}
		}
		return nil
	}, nil
}

// memProfileRate is Go's default sampling rate, used inside the profiled
// window; outside it Run sets the rate to 0 when a memory profile is asked
// for, so that the profile holds (almost) only the window's allocations.
const memProfileRate = 512 * 1024
