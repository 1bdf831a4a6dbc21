package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/bench"
	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/stream"
)

func (c *cli) genCmd() *cobra.Command {
	def := defaultConfig()
	cmd := &cobra.Command{
		Use:   "gen",
		Short: "Generate a deterministic synthetic capture stream into a broker or a JSON-lines file",
		Long: `gen generates a realistic synthetic capture stream (internal/gen): people on
teams browsing anonymously (partly personless), logging in with $identify,
resetting on logout, joining a second device, getting a CRM alias, the odd
shared-device login the resolver refuses, illegal distinct_ids and malformed
records. The same flags and --seed give the same records, byte for byte.

By default it produces the records to topics.raw (--topic) of kafka.brokers
(--brokers; with none configured, the embedded broker's kafka.embedded.listen,
where "resolver run" or "resolver broker" listens), keyed token:distinct_id
as capture does, with an idempotent batching producer; it creates the topic
with kafka.topic_partitions partitions if it is missing. With --out FILE it
writes one record value per line instead ("-" for stdout).

Shares and rates are probabilities in [0, 1]; 0 means none. Progress and the
rate in records/s go to stderr.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.withSetup(cmd, true, func(e env) error {
				gc, err := genConfigFromFlags(cmd)
				if err != nil {
					return err
				}
				fs := cmd.Flags()
				out, _ := fs.GetString("out")
				limit, _ := fs.GetInt("records")
				if limit < 0 {
					return &usageError{fmt.Errorf("--records %d: must not be negative", limit), cmd.CommandPath()}
				}
				return c.runGen(e.ctx, e.cfg, gc, out, limit, e.log)
			})
		},
	}
	d := gen.DefaultConfig()
	fs := cmd.Flags()
	fs.Int64("seed", d.Seed, "seed of the stream: the same flags and seed give the same records")
	fs.Int("teams", d.Teams, "number of teams; team i sends token phc_team<i>, even teams also team_id")
	fs.Int("users", d.Users, "number of people across all teams")
	fs.Int("sessions-per-user", d.SessionsPerUser, "sessions of each person")
	fs.Int("events-per-session", d.EventsPerSession, "mean records per session (uniform in n±n/2)")
	fs.Float64("personless-share", d.PersonlessShare, "share of devices whose anonymous events are personless ($process_person_profile=false)")
	fs.Float64("identify-share", d.IdentifyShare, "share of logged-out sessions that log in with $identify")
	fs.Bool("reset-on-logout", d.ResetOnLogout == gen.On, "a logout resets the device to a fresh anonymous id")
	fs.Float64("cross-device-share", d.CrossDeviceShare, "share of people with a second device (half of them also get a CRM $create_alias)")
	fs.Float64("shared-device-rate", d.SharedDeviceRate, "probability per login that a second person later logs in on the same device")
	fs.Float64("illegal-id-rate", d.IllegalIDRate, `share of records with an illegal distinct_id ("null", "undefined", ...)`)
	fs.Float64("malformed-rate", d.MalformedRate, "share of malformed records (each certain to be dead-lettered)")
	fs.Float64("envelope-share", d.EnvelopeShare, "share of records in the capture envelope shape")
	fs.Float64("excluded-share", d.ExcludedShare, "share of events billing excludes ($feature_flag_called, $exception, surveys)")
	fs.String("start", d.Start.Format(time.RFC3339), "time of the first record, RFC 3339")
	fs.Int("pad-bytes", d.PadBytes, fmt.Sprintf("pad every record to this many bytes; 0 = no padding (at most %d)", gen.MaxPadBytes))
	fs.Int("concurrency", 0, "people online at once; 0 = the generator's default (all up to 1000, then a 25th of --users)")
	fs.Int("records", 0, "stop after this many records; 0 = the whole stream")
	fs.String("out", "", `write the record values as JSON lines to FILE ("-" for stdout) instead of producing them`)
	fs.StringSlice("brokers", def.Kafka.Brokers, "Kafka seed brokers host:port, comma-separated; empty: kafka.embedded.listen (kafka.brokers)")
	bindFlag(fs, "brokers", "kafka.brokers")
	fs.String("topic", def.Topics.Raw, "topic to produce to (topics.raw)")
	bindFlag(fs, "topic", "topics.raw")
	return cmd
}

// genConfigFromFlags builds the generator's config from the gen flags, in
// which a share of 0 means none (gen.None) rather than the default.
func genConfigFromFlags(cmd *cobra.Command) (gen.Config, error) {
	fs := cmd.Flags()
	bad := func(flag string, v any, why string) error {
		return &usageError{fmt.Errorf("--%s %v: %s", flag, v, why), cmd.CommandPath()}
	}
	var g gen.Config
	g.Seed, _ = fs.GetInt64("seed")
	for _, f := range []struct {
		name string
		dst  *int
		min  int
	}{
		{"teams", &g.Teams, 1}, {"users", &g.Users, 1}, {"sessions-per-user", &g.SessionsPerUser, 1},
		{"events-per-session", &g.EventsPerSession, 1}, {"concurrency", &g.Concurrency, 0},
	} {
		v, _ := fs.GetInt(f.name)
		if v < f.min {
			return g, bad(f.name, v, fmt.Sprintf("must be at least %d", f.min))
		}
		*f.dst = v
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{
		{"personless-share", &g.PersonlessShare}, {"identify-share", &g.IdentifyShare},
		{"cross-device-share", &g.CrossDeviceShare}, {"shared-device-rate", &g.SharedDeviceRate},
		{"illegal-id-rate", &g.IllegalIDRate}, {"malformed-rate", &g.MalformedRate},
		{"envelope-share", &g.EnvelopeShare}, {"excluded-share", &g.ExcludedShare},
	} {
		v, _ := fs.GetFloat64(f.name)
		if !(v >= 0 && v <= 1) {
			return g, bad(f.name, v, "must be in [0, 1]")
		}
		*f.dst = v
		if v == 0 {
			*f.dst = gen.None
		}
	}
	reset, _ := fs.GetBool("reset-on-logout")
	g.ResetOnLogout = gen.Bool(reset)
	start, _ := fs.GetString("start")
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return g, bad("start", start, "must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
	}
	g.Start = t
	if g.PadBytes, _ = fs.GetInt("pad-bytes"); g.PadBytes < 0 || g.PadBytes > gen.MaxPadBytes {
		return g, bad("pad-bytes", g.PadBytes, fmt.Sprintf("must be in [0, %d]", gen.MaxPadBytes))
	}
	if err := g.Validate(); err != nil {
		return g, &usageError{err, cmd.CommandPath()}
	}
	return g, nil
}

// runGen generates the stream of gc, at most limit records (0: all), into
// the file out or, when out is "", to the broker.
func (c *cli) runGen(ctx context.Context, cfg Config, gc gen.Config, out string, limit int, log *zap.Logger) error {
	g := gen.New(gc)
	total := g.Total()
	if limit > 0 && limit < total {
		total = limit
	}
	var done atomic.Int64
	prog := c.startProgress(&done, total)
	var n int
	var err error
	var where string
	if out != "" {
		where = out
		n, err = c.genToFile(ctx, g, out, limit, &done)
	} else {
		var k stream.Kafka
		k, where, err = genKafka(cfg)
		if err == nil {
			n, err = genToBroker(ctx, cfg, k, g, limit, &done, log)
		}
	}
	took := prog()
	stopped := ""
	if err != nil && ctx.Err() != nil {
		err, stopped = nil, " (stopped by a signal)"
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "gen: %d records to %s in %v (%.0f records/s)%s\n", n, where, took.Round(time.Millisecond), float64(n)/max(took.Seconds(), 1e-9), stopped)
	return nil
}

// startProgress prints done/total and the rate to stderr every second
// until the returned function is called; that prints nothing and returns
// the time since the start.
func (c *cli) startProgress(done *atomic.Int64, total int) func() time.Duration {
	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-t.C:
				n := done.Load()
				fmt.Fprintf(c.stderr, "gen: %d / %d records (%.0f%%), %.0f records/s\n",
					n, total, 100*float64(n)/float64(max(total, 1)), float64(n)/now.Sub(start).Seconds())
			}
		}
	})
	return func() time.Duration {
		close(stop)
		wg.Wait()
		return time.Since(start)
	}
}

// genToFile writes the record values as JSON lines to out ("-": stdout).
func (c *cli) genToFile(ctx context.Context, g *gen.Generator, out string, limit int, done *atomic.Int64) (int, error) {
	var w io.Writer = c.stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		w = f
	}
	cw := &lineCounter{w: w, n: done}
	if limit == 0 {
		// The whole stream: the generator's own writer, which renders each
		// record in place without allocating. Ctrl-C stops at the next
		// buffer flush.
		cw.ctx = ctx
		n, err := gen.WriteJSONLines(cw, g)
		if err != nil {
			return n, err
		}
		return n, closeOut(w, out)
	}
	bw := bufio.NewWriterSize(cw, 256<<10)
	n := 0
	for ; n < limit && ctx.Err() == nil; n++ {
		r, ok := g.Next()
		if !ok {
			break
		}
		bw.Write(r.Value)
		if err := bw.WriteByte('\n'); err != nil {
			return n, err
		}
	}
	if err := bw.Flush(); err != nil {
		return n, err
	}
	return n, closeOut(w, out)
}

// closeOut syncs a file written to (stdout is left alone).
func closeOut(w io.Writer, out string) error {
	if f, ok := w.(*os.File); ok && out != "-" {
		return f.Sync()
	}
	return nil
}

// lineCounter counts the lines written through it into n, and fails once
// ctx (if set) is done, which stops a long write on Ctrl-C.
type lineCounter struct {
	w   io.Writer
	n   *atomic.Int64
	ctx context.Context
}

func (l *lineCounter) Write(p []byte) (int, error) {
	if l.ctx != nil && l.ctx.Err() != nil {
		return 0, l.ctx.Err()
	}
	n, err := l.w.Write(p)
	l.n.Add(int64(bytes.Count(p[:n], []byte{'\n'})))
	return n, err
}

// genKafka is the cluster gen produces to: kafka.brokers, or the embedded
// broker's listen address when none is configured; and a description.
func genKafka(cfg Config) (stream.Kafka, string, error) {
	sc, err := cfg.ToStream()
	if err != nil {
		return stream.Kafka{}, "", err
	}
	k := sc.Kafka
	if len(k.Brokers) == 0 {
		k.Brokers = []string{cfg.Kafka.Embedded.Listen}
	}
	return k, fmt.Sprintf("%s at %v", cfg.streamTopics().Raw, k.Brokers), nil
}

// genToBroker produces the stream to topics.raw, creating the topic first
// if it is missing.
func genToBroker(ctx context.Context, cfg Config, k stream.Kafka, g *gen.Generator, limit int, done *atomic.Int64, log *zap.Logger) (int, error) {
	adm, closeAdm, err := stream.NewAdmin(k, log)
	if err != nil {
		return 0, err
	}
	err = stream.EnsureTopics(ctx, adm, []string{cfg.streamTopics().Raw}, cfg.Kafka.TopicPartitions, cfg.Kafka.ReplicationFactor, cfg.Kafka.RetryBackoffMax, log.Named("topics"))
	closeAdm()
	if err != nil {
		return 0, err
	}
	cl, err := bench.NewProducer(k, log)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	n := 0
	next := func() (gen.Record, bool) {
		if limit > 0 && n >= limit {
			return gen.Record{}, false
		}
		n++
		return g.Next()
	}
	return bench.Produce(ctx, cl, cfg.streamTopics().Raw, next, func(gen.Record) { done.Add(1) })
}
