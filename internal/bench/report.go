package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// Summary is one kind's turns in a Report, reduced.
type Summary struct {
	Turns                  int
	EventsPerSec           Spread
	CPUPerMillion          Spread // this process's CPU s per million events
	BrokerCPUPerMillion    Spread // a child broker's, when measured
	PeakRSS                Spread // bytes
	LatencyP50, LatencyP99 Spread // seconds
	OpsPer100              Spread // identity ops logged per 100 events (resolver)
}

// Spread is the median, minimum and maximum of some values.
type Spread struct{ Median, Min, Max float64 }

func spread(vs []float64) Spread {
	if len(vs) == 0 {
		return Spread{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return Spread{Median: median(s), Min: s[0], Max: s[len(s)-1]}
}

// median of sorted values.
func median(s []float64) float64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Summary reduces the turns of kind k.
func (r *Report) Summary(k Kind) Summary {
	var eps, cpu, bcpu, rss, p50, p99, ops []float64
	for i := range r.Turns {
		t := &r.Turns[i]
		if t.Kind != k {
			continue
		}
		eps = append(eps, t.EventsPerSec())
		if t.CPUOK {
			cpu = append(cpu, t.CPUPerMillion(false))
		}
		if t.BrokerCPUOK {
			bcpu = append(bcpu, t.CPUPerMillion(true))
		}
		if t.PeakRSS > 0 {
			rss = append(rss, float64(t.PeakRSS))
		}
		if t.LatencySamples > 0 {
			p50 = append(p50, t.LatencyP50.Seconds())
			p99 = append(p99, t.LatencyP99.Seconds())
		}
		if t.Events > 0 {
			ops = append(ops, 100*float64(t.OpsLogged)/float64(t.Events))
		}
	}
	return Summary{Turns: len(eps), EventsPerSec: spread(eps), CPUPerMillion: spread(cpu), BrokerCPUPerMillion: spread(bcpu),
		PeakRSS: spread(rss), LatencyP50: spread(p50), LatencyP99: spread(p99), OpsPer100: spread(ops)}
}

// Ratios returns resolver/limit of events/s for each pair, in pair order.
func (r *Report) Ratios() []float64 {
	return r.pairRatios(func(t *Turn) (float64, bool) { return t.EventsPerSec(), true })
}

// CPURatios returns resolver/limit of process CPU per event for each pair.
func (r *Report) CPURatios() []float64 {
	return r.pairRatios(func(t *Turn) (float64, bool) { return t.CPUPerMillion(false), t.CPUOK })
}

// PreloadRatios returns preloaded/resolver of events/s for each pair: the
// large state against the small one (Config.PreloadIDs).
func (r *Report) PreloadRatios() []float64 {
	return r.kindRatios(Preloaded, Resolver, func(t *Turn) (float64, bool) { return t.EventsPerSec(), true })
}

func (r *Report) pairRatios(f func(*Turn) (float64, bool)) []float64 {
	return r.kindRatios(Resolver, Limit, f)
}

// kindRatios returns num/den of f for each pair that has both.
func (r *Report) kindRatios(num, den Kind, f func(*Turn) (float64, bool)) []float64 {
	type pair struct {
		limit, resolver float64
		ok              [2]bool
	}
	byPair := map[int]*pair{}
	var order []int
	for i := range r.Turns {
		t := &r.Turns[i]
		v, ok := f(t)
		if !ok {
			continue
		}
		p := byPair[t.Pair]
		if p == nil {
			p = &pair{}
			byPair[t.Pair] = p
			order = append(order, t.Pair)
		}
		switch t.Kind {
		case num:
			p.resolver, p.ok[1] = v, true
		case den:
			p.limit, p.ok[0] = v, true
		}
	}
	var out []float64
	for _, n := range order {
		if p := byPair[n]; p.ok[0] && p.ok[1] && p.limit > 0 {
			out = append(out, p.resolver/p.limit)
		}
	}
	return out
}

// MedianRatio is the median of Ratios.
func (r *Report) MedianRatio() float64 {
	s := r.Ratios()
	slices.Sort(s)
	return median(s)
}

// WriteText writes the report as a table.
func (r *Report) WriteText(w io.Writer) error {
	c := &r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "resolver bench: limit (franz-go GroupTransactSession passthrough, no processing) vs resolver (full pipeline), A B A B in one process\n")
	fmt.Fprintf(&b, "broker:    %s, at %s\n", r.Mode, strings.Join(r.Brokers, ","))
	fmt.Fprintf(&b, "machine:   %d CPUs, GOMAXPROCS %d, GOGC %d; load average %s at start, %s at end\n", r.NumCPU, r.GOMAXPROCS, r.GCPercent, orUnknown(r.LoadBefore), orUnknown(r.LoadAfter))
	fmt.Fprintf(&b, "input:     %d events per turn (after %d warm-up; then %d latency probes at %d/s), %d partitions, %d instance(s), ≤ %d records per poll and transaction\n",
		c.Events, c.WarmupEvents, c.LatencyEvents, c.LatencyRate, c.Partitions, c.Instances, c.BatchRecords)
	fmt.Fprintf(&b, "generator: %s\n", genSummary(gen.New(c.Gen).Config()))
	fmt.Fprintf(&b, "identity:  %.2f%% of the window's events are identity events (identify %d, alias %d, refused shared-device identify %d; $set %d)\n",
		100*r.IdentityShare, r.ByKind[gen.KindIdentify], r.ByKind[gen.KindAlias], r.ByKind[gen.KindSharedDevice], r.ByKind[gen.KindSet])
	rssNote := "VmHWM reset before each turn's input (the turn's own peak)"
	for _, t := range r.Turns {
		if !t.RSSReset {
			rssNote = "VmHWM could not be reset: peak since the process started (monotonic)"
			break
		}
	}
	fmt.Fprintf(&b, "peak RSS:  %s; Go returns freed memory to the OS lazily, so a turn's peak includes what earlier turns left\n", rssNote)
	if p := r.Preload; p != nil {
		fmt.Fprintf(&b, "preload:   %d distinct ids, %d people (%d identified), %d records, in %v; after a full compaction %.1f bytes on disk per id (tables %.1f); peak RSS after the preload %s\n",
			p.IDs, p.Persons, p.Identified, p.Records, p.Took.Round(time.Second), p.BytesPerID(), float64(p.SSTBytes)/float64(max(p.IDs, 1)), mb(float64(p.PeakRSS)))
		fmt.Fprintf(&b, "tail:      %.1f%% of the window's events are personless $pageviews of preloaded ids, uniformly (%d); every turn has the same input\n",
			100*float64(r.ByKind[KindPreloaded])/float64(max(c.Events, 1)), r.ByKind[KindPreloaded])
	}
	fmt.Fprintf(&b, "run took:  %v\n\n", r.Took.Round(time.Second))

	child := r.Mode == ChildProcess
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := "pair\tkind\tevents/s\twindow\tcpu-s/M\t"
	if child {
		head += "broker cpu-s/M\t"
	}
	head += "peak RSS\t"
	if child {
		head += "broker RSS\t"
	}
	head += "ops/100 ev\tp50\tp99\tprobes\t"
	fmt.Fprintln(tw, head)
	for _, t := range r.Turns {
		kind := t.Kind.String()
		if t.Profiled {
			kind += "*"
		}
		line := fmt.Sprintf("%d\t%s\t%.0f\t%.2fs\t%s\t", t.Pair, kind, t.EventsPerSec(), t.Window.Seconds(), cpuCell(t.CPUPerMillion(false), t.CPUOK))
		if child {
			line += cpuCell(t.CPUPerMillion(true), t.BrokerCPUOK) + "\t"
		}
		line += mb(float64(t.PeakRSS)) + "\t"
		if child {
			line += mb(float64(t.BrokerPeakRSS)) + "\t"
		}
		ops := "-"
		if t.Kind != Limit {
			ops = fmt.Sprintf("%.2f", 100*float64(t.OpsLogged)/float64(max(t.Events, 1)))
		}
		line += fmt.Sprintf("%s\t%s\t%s\t%d/%d\t", ops, ms(t.LatencyP50.Seconds()), ms(t.LatencyP99.Seconds()), t.LatencySamples, t.LatencyExpected)
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range r.Turns {
		if t.Profiled {
			fmt.Fprintf(&b, "* profiled turn (CPU and/or allocation profile): slightly slower than unprofiled\n")
			break
		}
	}

	fmt.Fprintf(&b, "\nper kind: median (min–max)\n")
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	head = "kind\tturns\tevents/s\tcpu-s/M\t"
	if child {
		head += "broker cpu-s/M\t"
	}
	fmt.Fprintln(tw, head+"peak RSS MB\tp50\tp99\t")
	kinds := []Kind{Limit, Resolver}
	if r.Preload != nil {
		kinds = append(kinds, Preloaded)
	}
	for _, k := range kinds {
		s := r.Summary(k)
		line := fmt.Sprintf("%s\t%d\t%s\t%s\t", k, s.Turns, fmtSpread(s.EventsPerSec, "%.0f"), fmtSpread(s.CPUPerMillion, "%.2f"))
		if child {
			line += fmtSpread(s.BrokerCPUPerMillion, "%.2f") + "\t"
		}
		rss := Spread{s.PeakRSS.Median / (1 << 20), s.PeakRSS.Min / (1 << 20), s.PeakRSS.Max / (1 << 20)}
		p50 := Spread{s.LatencyP50.Median * 1e3, s.LatencyP50.Min * 1e3, s.LatencyP50.Max * 1e3}
		p99 := Spread{s.LatencyP99.Median * 1e3, s.LatencyP99.Min * 1e3, s.LatencyP99.Max * 1e3}
		line += fmt.Sprintf("%s\t%s ms\t%s ms\t", fmtSpread(rss, "%.0f"), fmtSpread(p50, "%.1f"), fmtSpread(p99, "%.1f"))
		fmt.Fprintln(tw, line)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	ratios := r.Ratios()
	fmt.Fprintf(&b, "\nresolver/limit events/s per pair: %s   median %.3f\n", fmtList(ratios), r.MedianRatio())
	if cr := r.CPURatios(); len(cr) > 0 {
		s := slices.Clone(cr)
		slices.Sort(s)
		fmt.Fprintf(&b, "resolver/limit cpu-s per event per pair: %s   median %.3f\n", fmtList(cr), median(s))
	}
	var steps [stream.NumSteps]time.Duration
	for i := range r.Turns {
		if t := &r.Turns[i]; t.Kind == Resolver && t.Pair > 0 {
			for j, d := range t.Steps {
				steps[j] += d
			}
		}
	}
	if sh := stepShares(steps); sh != "" {
		fmt.Fprintf(&b, "resolver batch time by step (all resolver turns): %s\n", sh)
	}
	for i := range r.Turns {
		if t := &r.Turns[i]; t.Kind == Resolver && t.Pair > 0 && len(t.Rows) > 0 && t.RowsOps > 0 {
			fmt.Fprintf(&b, "resolver replica after pair %d's turn: %s\n", t.Pair, rowsPerOp(t.Rows, t.RowsOps))
			break
		}
	}
	fmt.Fprintf(&b, "(issue 15 targets: resolver/limit events/s ≥ 0.6 at 5%% identity events, 1 instance, 8 partitions; ≤ 8 µs of resolver-process CPU per event with --broker-process)\n")
	if pr := r.PreloadRatios(); len(pr) > 0 {
		s := slices.Clone(pr)
		slices.Sort(s)
		fmt.Fprintf(&b, "preloaded/resolver events/s per pair: %s   median %.3f   (issue 15 target: ≥ 0.7 with %d ids preloaded, cache at its default size)\n",
			fmtList(pr), median(s), r.Preload.IDs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func cpuCell(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func mb(b float64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MB", b/(1<<20))
}

func ms(s float64) string {
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", s*1e3)
}

func fmtSpread(s Spread, f string) string {
	if s == (Spread{}) {
		return "-"
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.Median, s.Min, s.Max)
}

func fmtList(vs []float64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprintf("%.3f", v)
	}
	return strings.Join(parts, " ")
}

// rowsPerOp says what a replica holds per identity op: rows and key and
// value bytes in all, then by key kind, the most bytes first.
func rowsPerOp(kinds []state.RowKind, ops int64) string {
	kinds = slices.Clone(kinds)
	slices.SortStableFunc(kinds, func(a, b state.RowKind) int {
		return cmp.Compare(b.KeyBytes+b.ValueBytes, a.KeyBytes+a.ValueBytes)
	})
	var rows, bytes int64
	parts := make([]string, 0, len(kinds))
	for _, k := range kinds {
		rows += k.Rows
		bytes += k.KeyBytes + k.ValueBytes
		parts = append(parts, fmt.Sprintf("%s %.2f rows %.0f B", k.Tag, float64(k.Rows)/float64(ops), float64(k.KeyBytes+k.ValueBytes)/float64(ops)))
	}
	return fmt.Sprintf("%d ops; per op %.2f rows, %.0f B of keys and values (%s)",
		ops, float64(rows)/float64(ops), float64(bytes)/float64(ops), strings.Join(parts, ", "))
}
