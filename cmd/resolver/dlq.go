package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// Dead-letter redrive (issue 16, item 5): `resolver dlq list|replay`.
//
// Exactly once: the marker of a redrive is the redriven record itself. Each
// one carries the header redriveHeader = "<dead-letter topic>/<partition>/
// <offset>", and is produced in a Kafka transaction (transactional id
// "<kafka.group>-dlq-redrive") to the partition of events_raw its original
// came from. Before it decides anything, replay initialises that
// transactional producer — fencing any other replay and aborting its open
// transaction — and then reads, read_committed, the partitions of
// events_raw after the originals' offsets for redrive headers. A dead
// letter whose header is there was re-driven by a committed transaction and
// is skipped; one whose transaction aborted (a crash, a fenced replay) is
// not there and is re-driven. So a crash at any point re-drives each dead
// letter at most once and a second replay completes the first. This needs
// no state of its own and works for any filter (a committed consumer
// offset would mark everything below it as done, which a --reason or
// --team filter makes wrong). Its cost: reading events_raw from the oldest
// selected dead letter's source offset (narrow with --since).

// redriveHeader names, on a re-driven record, the dead letter it came from.
const redriveHeader = "resolver-redrive"

// Bounds of the dead-letter commands.
const (
	// maxDeadLetters is the most dead letters a command keeps in memory
	// (their coordinates and headers, never their values) before it asks
	// for a narrower selection.
	maxDeadLetters = 1_000_000
	// redriveBatchRecords and redriveBatchBytes bound one redrive
	// transaction, well within kafka.transaction_timeout.
	redriveBatchRecords = 500
	redriveBatchBytes   = 16 << 20
	// maxReasonFlag bounds --reason (reasons are short snake_case words).
	maxReasonFlag = 64
	// Bounds of the dead-letter headers read; a longer value refuses the
	// dead letter (the resolver writes none so long).
	maxHeaderReason = 64
	maxHeaderDetail = 1024
	maxHeaderTopic  = 249
	maxHeaderNumber = 20
	// Display bounds of text that comes from a dead letter.
	showDetail = 120
	showTeam   = 40
)

// reasonPattern is what --reason accepts.
var reasonPattern = regexp.MustCompile(`^[a-z0-9_]+$`)

func (c *cli) dlqCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List dead letters and re-drive them to events_raw",
		Long: `dlq list shows the dead letters of topics.dead_letter (events_dead_letter) with
why each was rejected, where it came from, and whether it was already
re-driven. dlq replay re-produces them, once each, to topics.raw
(events_raw) after their cause is fixed — e.g. after adding a team to
teams.file — with the header resolver-redrive: <dead-letter topic>/<partition>/<offset>.

Both take the same filters, each narrowing the selection: --reason (the
error header, e.g. unknown_team), --since (dead letters whose record time
is at or after T: RFC 3339, or a duration back from now such as 24h),
--team (the event's team as it names it — token or team id — or the team
id teams.file maps it to), --limit (the oldest N, by partition and offset).

A re-driven record goes through the pipeline like any other: if it fails
again it gets a fresh dead letter (with the re-driven record as its
source), which only another replay re-drives; nothing re-drives by itself,
so there is no loop. Dead letters that cannot be re-driven are refused,
saying why: a value cut to fit output.max_record_bytes (header truncated),
missing or malformed headers, a source other than topics.raw (commands are
re-issued with resolver persons), a record over output.max_record_bytes.`,
		Args: noArgs,
	}
	cmd.AddCommand(c.dlqListCmd(), c.dlqReplayCmd())
	return cmd
}

func (c *cli) dlqListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [--reason R] [--since T] [--team T] [--limit N] [--format table|json]",
		Short: "List dead letters with their reason, source and redrive status",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := readDLQFlags(cmd, time.Now())
			if err != nil {
				return err
			}
			return c.withSetup(cmd, true, func(e env) error {
				d, err := newDLQ(e)
				if err != nil {
					return err
				}
				defer d.close()
				sel, err := d.selection(e.ctx, f)
				if err != nil {
					return err
				}
				return writeDLQList(cmd.OutOrStdout(), sel, f)
			})
		},
	}
	dlqFlags(cmd)
	return cmd
}

func (c *cli) dlqReplayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay [--reason R] [--since T] [--team T] [--limit N] [--dry-run] [--format table|json]",
		Short: "Re-produce dead letters to events_raw, each once",
		Long: `replay re-produces the selected dead letters that were not re-driven yet to
events_raw, in transactions, each to the partition its original came from,
with its key, value and record time, and the header resolver-redrive. A
second replay, or one after a crash, re-drives nothing twice. --dry-run
reads everything and says what would be re-driven, writing nothing.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := readDLQFlags(cmd, time.Now())
			if err != nil {
				return err
			}
			dry, _ := cmd.Flags().GetBool("dry-run")
			return c.withSetup(cmd, true, func(e env) error {
				d, err := newDLQ(e)
				if err != nil {
					return err
				}
				defer d.close()
				res, err := d.replay(e.ctx, f, dry)
				if err != nil {
					return err
				}
				return writeDLQReplay(cmd.OutOrStdout(), res, f.format)
			})
		},
	}
	dlqFlags(cmd)
	cmd.Flags().Bool("dry-run", false, "say what would be re-driven; write nothing")
	return cmd
}

// dlqFlags adds the filters both dlq commands take.
func dlqFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.String("reason", "", "only dead letters with this reason (error header), e.g. unknown_team")
	fs.String("since", "", "only dead letters whose record time is at or after this: RFC 3339 (2026-12-01T00:00:00Z) or a duration back from now (24h)")
	fs.String("team", "", "only dead letters of this team: as the event names it (token, team id) or as teams.file maps it")
	fs.Int("limit", 1000, "at most this many dead letters, oldest first (0: no limit)")
	formatFlag(cmd, "table", "json")
}

// dlqFilter is the selection of the dlq commands.
type dlqFilter struct {
	reason, team, format string
	since                time.Time // zero: no bound
	limit                int       // 0: none
}

// readDLQFlags reads dlqFlags; an invalid value is a usage error naming
// the flag.
func readDLQFlags(cmd *cobra.Command, now time.Time) (dlqFilter, error) {
	var f dlqFilter
	bad := func(format string, a ...any) error {
		return &usageError{fmt.Errorf("%s: "+format, append([]any{cmd.CommandPath()}, a...)...), cmd.CommandPath()}
	}
	var err error
	if f.format, err = getFormat(cmd, "table", "json"); err != nil {
		return f, err
	}
	f.reason, _ = cmd.Flags().GetString("reason")
	if f.reason != "" && (len(f.reason) > maxReasonFlag || !reasonPattern.MatchString(f.reason)) {
		return f, bad("--reason %s: want a reason such as unknown_team (lower-case letters, digits and _, at most %d)", strconv.QuoteToASCII(clipBytes(f.reason, 80)), maxReasonFlag)
	}
	f.team, _ = cmd.Flags().GetString("team")
	if len(f.team) > 200 {
		return f, bad("--team: longer than 200 bytes (no team is)")
	}
	since, _ := cmd.Flags().GetString("since")
	if since != "" {
		if t, err := time.Parse(time.RFC3339Nano, since); err == nil {
			f.since = t
		} else if d, err := time.ParseDuration(since); err == nil && d > 0 {
			f.since = now.Add(-d)
		} else {
			return f, bad("--since %s: want an RFC 3339 time (2026-12-01T00:00:00Z) or a positive duration (24h)", strconv.QuoteToASCII(clipBytes(since, 80)))
		}
	}
	f.limit, _ = cmd.Flags().GetInt("limit")
	if f.limit < 0 {
		return f, bad("--limit %d: must be 0 (no limit) or more", f.limit)
	}
	return f, nil
}

// deadLetter is one dead letter as the dlq commands show it. Its text
// fields come from the record and are shown escaped.
type deadLetter struct {
	Partition       int32     `json:"partition"`
	Offset          int64     `json:"offset"`
	Time            time.Time `json:"time"`
	Reason          string    `json:"reason"`
	Detail          string    `json:"detail,omitempty"`
	Team            string    `json:"team,omitempty"`
	SourceTopic     string    `json:"source_topic,omitempty"`
	SourcePartition int32     `json:"source_partition"`
	SourceOffset    int64     `json:"source_offset"`
	Bytes           int       `json:"bytes"`
	// Status is "pending" (not re-driven yet), "redriven", or "refused"
	// (Refused says why it cannot be).
	Status  string `json:"status"`
	Refused string `json:"refused,omitempty"`
	// Now is what the decoder says of the value today, with the current
	// teams.file: "ok", or the reason it would be dead-lettered again.
	Now string `json:"now,omitempty"`
	// RedrivenTo is the events_raw position of its redrive
	// (partition@offset), when known.
	RedrivenTo string `json:"redriven_to,omitempty"`
}

func (d *deadLetter) coord() string { return fmt.Sprintf("%d/%d", d.Partition, d.Offset) }

// dlq is what the dlq commands share: the cluster, the topics, the
// decoders.
type dlq struct {
	k        stream.Kafka
	topics   stream.Topics
	group    string
	txnTO    time.Duration
	maxRec   int
	fetch    []kgo.Opt      // bounded decompression of what it reads (stream.BoundedFetchOpts)
	decode   *event.Decoder // with the current team map: what happens today
	raw      *event.Decoder // without it: the team as the event names it
	teams    *event.TeamMap
	adm      *kadm.Client
	closeAdm func()
	log      *zap.Logger
}

func newDLQ(e env) (*dlq, error) {
	sc, err := e.cfg.ToStream()
	if err != nil {
		return nil, err
	}
	k, _, err := genKafka(e.cfg)
	if err != nil {
		return nil, err
	}
	sc = sc.WithDefaults()
	adm, closeAdm, err := stream.NewAdmin(k, e.log)
	if err != nil {
		return nil, err
	}
	return &dlq{
		k: k, topics: sc.Topics, group: sc.Group, txnTO: sc.Kafka.TransactionTimeout, maxRec: sc.MaxRecordBytes,
		fetch:  stream.BoundedFetchOpts(sc.MaxBatchBytes, sc.MaxCompressionRatio),
		decode: event.NewDecoder(event.Options{MaxEventBytes: sc.MaxEventBytes, Teams: sc.Teams, LazyProperties: true}),
		raw:    event.NewDecoder(event.Options{MaxEventBytes: sc.MaxEventBytes, LazyProperties: true}),
		teams:  sc.Teams, adm: adm, closeAdm: closeAdm, log: e.log.Named("dlq"),
	}, nil
}

func (d *dlq) close() { d.closeAdm() }

// redriveTxnID is the transactional id of every replay of the group's
// deployment: one replay fences the next.
func (d *dlq) redriveTxnID() string { return d.group + "-dlq-redrive" }

// selection reads the dead letters f selects, with their status: each one
// re-driven (a redrive header on events_raw names it), pending or refused.
// Only their coordinates and headers are kept, never their values.
func (d *dlq) selection(ctx context.Context, f dlqFilter) ([]*deadLetter, error) {
	rawParts, err := d.partitions(ctx, d.topics.Raw)
	if err != nil {
		return nil, err
	}
	var sel []*deadLetter
	err = d.readToEnd(ctx, d.topics.DeadLetter, nil, func(r *kgo.Record) error {
		dl := d.parse(r, rawParts)
		if !f.matches(dl, d.teams) {
			return nil
		}
		if len(sel) >= maxDeadLetters {
			return fmt.Errorf("dlq: over %d dead letters selected: narrow the selection with --since, --reason or --team", maxDeadLetters)
		}
		sel = append(sel, dl)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := d.markRedriven(ctx, sel); err != nil {
		return nil, err
	}
	if f.limit > 0 && len(sel) > f.limit {
		sel = sel[:f.limit]
	}
	return sel, nil
}

// matches reports whether f selects dl.
func (f dlqFilter) matches(dl *deadLetter, teams *event.TeamMap) bool {
	if f.reason != "" && dl.Reason != f.reason {
		return false
	}
	if !f.since.IsZero() && dl.Time.Before(f.since) {
		return false
	}
	if f.team != "" {
		if dl.Team == "" {
			return false
		}
		if dl.Team != f.team {
			id, ok := "", false
			if teams != nil {
				id, ok = teams.Resolve(dl.Team)
			}
			if !ok || id != f.team {
				return false
			}
		}
	}
	return true
}

// parse reads a dead letter's headers and value. Nothing in them is
// trusted: a missing, repeated, over-long or malformed header, a value cut
// by the resolver (truncated), a source that is not topics.raw or a record
// too large to produce make the dead letter "refused", saying why.
func (d *dlq) parse(r *kgo.Record, rawParts int32) *deadLetter {
	dl := &deadLetter{Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp.UTC(), Bytes: len(r.Key) + len(r.Value), Status: "pending",
		SourcePartition: -1, SourceOffset: -1}
	refuse := func(format string, a ...any) *deadLetter {
		if dl.Refused == "" {
			dl.Status, dl.Refused = "refused", fmt.Sprintf(format, a...)
		}
		return dl
	}
	seen := map[string]bool{}
	var part, off string
	truncated := false
	for _, h := range r.Headers {
		if seen[h.Key] {
			switch h.Key {
			case "error", "error_detail", "source_topic", "source_partition", "source_offset", "truncated":
				refuse("header %s is repeated: not a dead letter as the resolver writes them", h.Key)
			}
			continue
		}
		seen[h.Key] = true
		v := string(h.Value)
		switch h.Key {
		case "error":
			if len(v) > maxHeaderReason {
				refuse("header error is %d bytes, over %d", len(v), maxHeaderReason)
				v = v[:maxHeaderReason]
			}
			dl.Reason = v
		case "error_detail":
			if len(v) > maxHeaderDetail {
				v = v[:maxHeaderDetail]
			}
			dl.Detail = v
		case "source_topic":
			if len(v) > maxHeaderTopic {
				refuse("header source_topic is %d bytes, over %d", len(v), maxHeaderTopic)
				v = v[:maxHeaderTopic]
			}
			dl.SourceTopic = v
		case "source_partition":
			part = clipBytes(v, maxHeaderNumber+1)
		case "source_offset":
			off = clipBytes(v, maxHeaderNumber+1)
		case "truncated":
			truncated = v == "true"
		}
	}
	if !seen["error"] {
		refuse("no error header: not a dead letter as the resolver writes them")
	}
	for _, name := range []string{"source_topic", "source_partition", "source_offset"} {
		if !seen[name] {
			refuse("no %s header: where it came from is unknown", name)
		}
	}
	if p, err := strconv.ParseInt(part, 10, 32); err == nil && p >= 0 {
		dl.SourcePartition = int32(p)
	} else if seen["source_partition"] {
		refuse("header source_partition %s is not a partition number", strconv.QuoteToASCII(part))
	}
	if o, err := strconv.ParseInt(off, 10, 64); err == nil && o >= 0 {
		dl.SourceOffset = o
	} else if seen["source_offset"] {
		refuse("header source_offset %s is not an offset", strconv.QuoteToASCII(off))
	}
	switch {
	case truncated:
		refuse("its value was cut to fit output.max_record_bytes (header truncated: true): the original is lost; produce it again from its source")
	case seen["source_topic"] && dl.SourceTopic != d.topics.Raw:
		refuse("it came from %s, not %s: only events are re-driven (re-issue a command with resolver persons)", strconv.QuoteToASCII(clipBytes(dl.SourceTopic, 80)), d.topics.Raw)
	case dl.Reason == "batch_refused":
		refuse("a whole record batch refused unread (input.max_batch_bytes, input.max_compression_ratio): the dead letter holds none of its records; they are in %s partition %d from offset %d to the one its header source_offset_last names",
			d.topics.Raw, dl.SourcePartition, dl.SourceOffset)
	case r.Value == nil:
		refuse("its value is null (a Kafka tombstone): nothing to re-drive")
	case len(r.Key)+len(r.Value)+len(redriveHeader)+len(d.topics.DeadLetter)+2*maxHeaderNumber+2 > d.maxRec:
		refuse("%d bytes of key and value: a redrive would be over output.max_record_bytes %d", dl.Bytes, d.maxRec)
	case dl.SourcePartition >= rawParts:
		refuse("source partition %d no longer exists in %s (%d partitions)", dl.SourcePartition, d.topics.Raw, rawParts)
	}
	if r.Value != nil {
		src := event.Source{Topic: d.topics.Raw, Partition: max(dl.SourcePartition, 0), Offset: max(dl.SourceOffset, 0), Timestamp: r.Timestamp}
		dl.Now = "ok"
		if ev, err := d.decode.Decode(r.Value, src); err != nil {
			dl.Now = "unknown"
			if rs, ok := event.ReasonOf(err); ok {
				dl.Now = string(rs)
			}
		} else {
			dl.Team = ev.Team // mapped
			ev.Release()
		}
		if ev, err := d.raw.Decode(r.Value, src); err == nil {
			dl.Team = ev.Team // as the event names it
			ev.Release()
		}
	}
	return dl
}

// markRedriven reads events_raw for redrive headers naming the dead
// letters of sel (read_committed: a redrive whose transaction aborted is
// not there) and marks those found "redriven". A redrive of a dead letter
// whose original came from partition P at offset X is on P after X, so only
// those ranges are read — unless X is beyond P's end: then the original was
// not in this log (the topic was recreated, or the header lies) and all of
// P is read. (A topic recreated and grown past X again defeats the bound:
// re-driving after recreating events_raw is not supported.)
func (d *dlq) markRedriven(ctx context.Context, sel []*deadLetter) error {
	from := map[int32]int64{}
	byCoord := map[string]*deadLetter{}
	for _, dl := range sel {
		if dl.Status == "refused" { // never re-driven by a replay
			continue
		}
		byCoord[dl.coord()] = dl
		if o, ok := from[dl.SourcePartition]; !ok || dl.SourceOffset+1 < o {
			from[dl.SourcePartition] = dl.SourceOffset + 1
		}
	}
	if len(byCoord) == 0 {
		return nil
	}
	prefix := d.topics.DeadLetter + "/"
	return d.readToEnd(ctx, d.topics.Raw, from, func(r *kgo.Record) error {
		for _, h := range r.Headers {
			if h.Key != redriveHeader || len(h.Value) > len(prefix)+2*maxHeaderNumber+1 || !strings.HasPrefix(string(h.Value), prefix) {
				continue
			}
			if dl := byCoord[string(h.Value[len(prefix):])]; dl != nil {
				dl.Status, dl.RedrivenTo = "redriven", fmt.Sprintf("%d@%d", r.Partition, r.Offset)
			}
		}
		return nil
	})
}

// partitions returns the partition count of topic.
func (d *dlq) partitions(ctx context.Context, topic string) (int32, error) {
	md, err := d.adm.Metadata(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("dlq: metadata of %s: %w", topic, err)
	}
	t, ok := md.Topics[topic]
	if !ok || t.Err != nil {
		why := "it does not exist"
		if ok {
			why = t.Err.Error()
		}
		return 0, fmt.Errorf("dlq: topic %s: %s", topic, why)
	}
	return int32(len(t.Partitions)), nil
}

// readToEnd reads topic read_committed from from (per partition; nil: every
// partition from its start; an offset beyond a partition's end: from its
// start) to its last stable offset as of now, calling fn
// with each record in offset order per partition. Control records (commit
// and abort markers) are read too, so that a partition ending in one is
// known to be done; fn never sees them.
func (d *dlq) readToEnd(ctx context.Context, topic string, from map[int32]int64, fn func(*kgo.Record) error) error {
	ends, err := d.adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("dlq: last stable offsets of %s: %w", topic, err)
	}
	starts, err := d.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("dlq: start offsets of %s: %w", topic, err)
	}
	next, end := map[int32]int64{}, map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, o.Partition)
		begin := s.Offset
		if from != nil {
			f, ok := from[o.Partition]
			if !ok {
				return
			}
			if f <= o.Offset { // beyond the end: not an offset of this log (see markRedriven)
				begin = max(begin, f)
			}
		}
		if begin < o.Offset {
			next[o.Partition], end[o.Partition] = begin, o.Offset
		}
	})
	if len(next) == 0 {
		return nil
	}
	start := map[int32]kgo.Offset{}
	for p, o := range next {
		start[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(append(append(stream.ClientOpts(d.k, d.log, "dlq-read"),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: start}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(200*time.Millisecond),
	), d.fetch...)...)
	if err != nil {
		return fmt.Errorf("dlq: %w", err)
	}
	defer cl.Close()
	for len(next) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		var (
			ferr    error
			refused []*kgo.ErrDecompressTooLarge
		)
		fs.EachError(func(t string, p int32, err error) {
			if b, ok := errors.AsType[*kgo.ErrDecompressTooLarge](err); ok {
				refused = append(refused, b) // no dead letter or redrive in it: read on past it
				return
			}
			ferr = errors.Join(ferr, fmt.Errorf("dlq: read %s partition %d: %w", t, p, err))
		})
		if ferr != nil {
			return ferr
		}
		var stop error
		fs.EachRecord(func(r *kgo.Record) {
			e, open := end[r.Partition]
			if stop != nil || !open || r.Offset >= e {
				return
			}
			if _, reading := next[r.Partition]; !reading {
				return
			}
			if !r.Attrs.IsControl() {
				stop = fn(r)
			}
			if r.Offset+1 >= e {
				delete(next, r.Partition)
				cl.PauseFetchPartitions(map[string][]int32{topic: {r.Partition}})
			} else {
				next[r.Partition] = r.Offset + 1
			}
		})
		if stop != nil {
			return stop
		}
		for _, b := range refused {
			if _, reading := next[b.Partition]; !reading {
				continue
			}
			d.log.Warn("skipping a record batch refused unread (input.max_batch_bytes, input.max_compression_ratio)",
				zap.String("topic", b.Topic), zap.Int32("partition", b.Partition), zap.Int64("first_offset", b.Offset), zap.Int64("last_offset", b.NextOffset-1))
			if b.NextOffset >= end[b.Partition] {
				delete(next, b.Partition)
				cl.PauseFetchPartitions(map[string][]int32{topic: {b.Partition}})
				continue
			}
			next[b.Partition] = b.NextOffset
			cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {b.Partition: {Epoch: b.Epoch, Offset: b.NextOffset}}})
		}
	}
	return nil
}

// replayResult is what replay did (or, dry, would do).
type replayResult struct {
	DryRun bool `json:"dry_run"`
	// Redriven are the dead letters re-driven now (dry: that would be).
	Redriven []*deadLetter `json:"redriven"`
	// Already counts the selected dead letters re-driven before.
	Already int `json:"already_redriven"`
	// Refused are the selected dead letters that cannot be re-driven.
	Refused []*deadLetter `json:"refused"`
}

// replay re-drives the pending dead letters f selects (see the comment at
// the top of the file for why this is exactly once).
func (d *dlq) replay(ctx context.Context, f dlqFilter, dry bool) (replayResult, error) {
	res := replayResult{DryRun: dry, Redriven: []*deadLetter{}, Refused: []*deadLetter{}}
	var cl *kgo.Client
	if !dry {
		var err error
		cl, err = kgo.NewClient(append(stream.ClientOpts(d.k, d.log, "dlq-redrive"),
			kgo.TransactionalID(d.redriveTxnID()),
			kgo.TransactionTimeout(d.txnTO),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			// As the pipeline's producers: room for one record of
			// output.max_record_bytes and its batch framing.
			kgo.ProducerBatchMaxBytes(int32(d.maxRec+16<<10)),
		)...)
		if err != nil {
			return res, fmt.Errorf("dlq: %w", err)
		}
		defer cl.Close()
		// Fence every other replay, and abort its open transaction, before
		// reading what was re-driven.
		if _, _, err := cl.ProducerID(ctx); err != nil {
			return res, fmt.Errorf("dlq: initialise the transactional producer %s: %w", d.redriveTxnID(), err)
		}
	}
	// The selection is read whole first: the limit counts pending dead
	// letters only, which are known once events_raw was read.
	sel, err := d.selection(ctx, dlqFilter{reason: f.reason, team: f.team, since: f.since})
	if err != nil {
		return res, err
	}
	todo := map[string]*deadLetter{}
	from := map[int32]int64{}
	for _, dl := range sel {
		switch dl.Status {
		case "redriven":
			res.Already++
		case "refused":
			res.Refused = append(res.Refused, dl)
		default:
			if f.limit > 0 && len(res.Redriven) >= f.limit {
				continue
			}
			res.Redriven = append(res.Redriven, dl)
			todo[dl.coord()] = dl
			if o, ok := from[dl.Partition]; !ok || dl.Offset < o {
				from[dl.Partition] = dl.Offset
			}
		}
	}
	if dry || len(todo) == 0 {
		return res, nil
	}
	var batch []*kgo.Record
	var batchBytes int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := d.produceTxn(ctx, cl, batch)
		batch, batchBytes = batch[:0], 0
		return err
	}
	err = d.readToEnd(ctx, d.topics.DeadLetter, from, func(r *kgo.Record) error {
		dl := todo[fmt.Sprintf("%d/%d", r.Partition, r.Offset)]
		if dl == nil {
			return nil
		}
		out := &kgo.Record{
			Topic: d.topics.Raw, Partition: dl.SourcePartition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp,
			Headers: []kgo.RecordHeader{{Key: redriveHeader, Value: []byte(d.topics.DeadLetter + "/" + dl.coord())}},
			Context: context.WithValue(ctx, redriveKey{}, dl),
		}
		batch = append(batch, out)
		batchBytes += len(r.Key) + len(r.Value)
		if len(batch) >= redriveBatchRecords || batchBytes >= redriveBatchBytes {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return res, err
	}
	for _, dl := range res.Redriven {
		if dl.RedrivenTo == "" {
			return res, fmt.Errorf("dlq: dead letter %s/%s was selected but not read again (was the topic truncated meanwhile?)", d.topics.DeadLetter, dl.coord())
		}
		dl.Status = "redriven"
	}
	return res, nil
}

// redriveKey keys the dead letter of a produced record in its Context.
type redriveKey struct{}

// produceTxn produces recs in one transaction and records where each went.
func (d *dlq) produceTxn(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	if err := cl.BeginTransaction(); err != nil {
		return fmt.Errorf("dlq: begin a transaction: %w", err)
	}
	results := cl.ProduceSync(ctx, recs...)
	if err := results.FirstErr(); err != nil {
		if aerr := cl.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return fmt.Errorf("dlq: produce to %s (transaction aborted, nothing re-driven by it): %w", d.topics.Raw, err)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return fmt.Errorf("dlq: commit the redrive (if it was not committed, the next replay re-drives its dead letters): %w", err)
	}
	for _, r := range results {
		if dl, ok := r.Record.Context.Value(redriveKey{}).(*deadLetter); ok {
			dl.RedrivenTo = fmt.Sprintf("%d@%d", r.Record.Partition, r.Record.Offset)
		}
	}
	d.log.Info("dead letters re-driven", zap.Int("records", len(recs)), zap.String("topic", d.topics.Raw))
	return nil
}

// ---- output ----

func writeDLQList(w io.Writer, sel []*deadLetter, f dlqFilter) error {
	if f.format == "json" {
		return writeJSONTo(w, struct {
			DeadLetters []*deadLetter `json:"dead_letters"`
		}{append([]*deadLetter{}, sel...)})
	}
	if len(sel) == 0 {
		_, err := fmt.Fprintln(w, "no dead letters selected")
		return err
	}
	if err := writeDeadLetters(w, sel); err != nil {
		return err
	}
	n := map[string]int{}
	for _, dl := range sel {
		n[dl.Status]++
	}
	_, err := fmt.Fprintf(w, "%d dead letters: %d pending, %d re-driven, %d refused\n", len(sel), n["pending"], n["redriven"], n["refused"])
	return err
}

func writeDLQReplay(w io.Writer, res replayResult, format string) error {
	if format == "json" {
		return writeJSONTo(w, res)
	}
	verb := "re-drove"
	if res.DryRun {
		verb = "dry run: would re-drive"
	}
	if _, err := fmt.Fprintf(w, "%s %d dead letters; %d re-driven before; %d refused\n", verb, len(res.Redriven), res.Already, len(res.Refused)); err != nil {
		return err
	}
	all := append(append([]*deadLetter{}, res.Redriven...), res.Refused...)
	if len(all) == 0 {
		return nil
	}
	return writeDeadLetters(w, all)
}

func writeDeadLetters(w io.Writer, dls []*deadLetter) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEAD LETTER\tTIME\tREASON\tTEAM\tSOURCE\tBYTES\tNOW\tSTATUS\tDETAIL")
	for _, dl := range dls {
		src := "-"
		if dl.SourcePartition >= 0 {
			src = fmt.Sprintf("%s %d@%d", printable(dl.SourceTopic, 40), dl.SourcePartition, dl.SourceOffset)
		}
		status := dl.Status
		switch {
		case dl.Refused != "":
			status = "refused: " + dl.Refused
		case dl.RedrivenTo != "":
			status += " to " + dl.RedrivenTo
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", dl.coord(), dl.Time.Format(time.RFC3339), orDash(printable(dl.Reason, maxHeaderReason)),
			orDash(printable(dl.Team, showTeam)), src, dl.Bytes, orDash(dl.Now), status, printable(dl.Detail, showDetail))
	}
	return tw.Flush()
}

func writeJSONTo(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable is s for a terminal: at most n runes, control and invalid
// characters escaped as in a Go string, tabs and newlines included.
func printable(s string, n int) string {
	var b strings.Builder
	count := 0
	for _, r := range s {
		if count >= n {
			b.WriteString("…")
			break
		}
		count++
		switch {
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case !unicode.IsPrint(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// clipBytes is s cut to at most n bytes, on a rune boundary.
func clipBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
