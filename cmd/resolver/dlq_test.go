package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/internal/gen"
)

// dlqBroker starts an in-process broker with events_raw (2 partitions) and
// events_dead_letter (1), and writes a config file naming it with
// output.max_record_bytes 4096.
func dlqBroker(t *testing.T) (addr, config string) {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	addr = b.Addrs()[0]
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for topic, parts := range map[string]int32{"events_raw": 2, "events_dead_letter": 1} {
		_, err := adm.CreateTopic(t.Context(), parts, -1, nil, topic)
		require.NoError(t, err, topic)
	}
	config = writeFile(t, "resolver.yaml", fmt.Sprintf("kafka:\n  brokers: [%q]\noutput:\n  max_record_bytes: 4096\nlog:\n  level: warn\n", addr))
	return addr, config
}

// deadLetterRecord is a dead letter as the resolver writes it, with the
// given headers (key, value pairs) instead when hdrs is not nil.
func deadLetterRecord(value []byte, hdrs ...string) *kgo.Record {
	r := &kgo.Record{Topic: "events_dead_letter", Key: []byte("k"), Value: value, Timestamp: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	for i := 0; i+1 < len(hdrs); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: hdrs[i], Value: []byte(hdrs[i+1])})
	}
	return r
}

func standardHeaders(reason string, part, off int) []string {
	return []string{"error", reason, "error_detail", "team phc_new is not in teams.file", "source_topic", "events_raw",
		"source_partition", fmt.Sprint(part), "source_offset", fmt.Sprint(off)}
}

func rawEvent(token, did string) []byte {
	return []byte(fmt.Sprintf(`{"uuid":%q,"event":"$pageview","distinct_id":%q,"token":%q,"timestamp":"2026-12-01T09:00:00Z"}`, uuid.NewString(), did, token))
}

// readTopic reads a topic to its end, read_committed.
func readTopic(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(t.Context(), topic)
	require.NoError(t, err)
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	for ctx.Err() == nil && int64(len(out)) < total {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func redriveHeaders(recs []*kgo.Record) []string {
	var hs []string
	for _, r := range recs {
		for _, h := range r.Headers {
			if h.Key == redriveHeader {
				hs = append(hs, fmt.Sprintf("%d:%s", r.Partition, h.Value))
			}
		}
	}
	return hs
}

// TestDLQHostileDeadLetters: dead letters nobody should trust — cut,
// headerless, with garbled or repeated headers, from another topic, too
// large, tombstones, terminal escapes in their reason, an over-long reason
// — are listed and refused each with its reason, never a panic; the
// well-formed ones (even one whose value will fail again) are re-driven,
// once, to their source partition with the redrive header and their key,
// value and time; a dry run writes nothing; a second replay re-drives
// nothing.
func TestDLQHostileDeadLetters(t *testing.T) {
	addr, config := dlqBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	good := rawEvent("phc_new", "d-1")
	recs := []*kgo.Record{
		deadLetterRecord(good, standardHeaders("unknown_team", 1, 5)...), // 0: re-driven
		deadLetterRecord(good, append(standardHeaders("event_too_large", 0, 6), "truncated", "true")...),
		deadLetterRecord(good), // 2: no headers
		deadLetterRecord(good, "error", "unknown_team", "source_topic", "events_raw", "source_partition", "abc", "source_offset", "1"),
		deadLetterRecord(good, standardHeaders("unknown_team", 99, 1)...),
		deadLetterRecord(good, append(standardHeaders("unknown_team", 0, 1), "error", "invalid_json")...),
		deadLetterRecord(good, "error", "invalid_command", "source_topic", "identity_commands", "source_partition", "0", "source_offset", "3"),
		deadLetterRecord([]byte(strings.Repeat("x", 5000)), standardHeaders("event_too_large", 0, 7)...),
		deadLetterRecord(nil, standardHeaders("invalid_json", 0, 8)...),
		deadLetterRecord(rawEvent("phc_new", "d-2"), standardHeaders("\x1b[31mred\nline", 0, 9)...), // 9: re-driven, shown escaped
		deadLetterRecord(good, standardHeaders(strings.Repeat("r", 10_000), 0, 10)...),
		deadLetterRecord(good, "error", "unknown_team", "source_topic", "events_raw", "source_partition", "0", "source_offset", "-1"),
		deadLetterRecord([]byte("\xff\xfe not json"), standardHeaders("invalid_json", 0, 11)...), // 12: re-driven; fails again
		deadLetterRecord(good, "error", "unknown_team", "source_partition", "0", "source_offset", "4"),
		deadLetterRecord(nil, append(standardHeaders("batch_refused", 1, 20), "source_offset_last", "24")...), // 14: a refused batch
	}
	for _, r := range recs {
		r.Partition = 0
	}
	require.NoError(t, cl.ProduceSync(t.Context(), recs...).FirstErr())

	code, out, stderr := run(t, "dlq", "list", "--config", config, "--format", "json")
	require.Equal(t, exitOK, code, stderr)
	var list struct {
		DeadLetters []deadLetter `json:"dead_letters"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list.DeadLetters, len(recs))
	want := map[int]string{
		1:  "its value was cut to fit output.max_record_bytes",
		2:  "no error header",
		3:  `header source_partition "abc" is not a partition number`,
		4:  "source partition 99 no longer exists in events_raw (2 partitions)",
		5:  "header error is repeated",
		6:  `it came from "identity_commands", not events_raw: only events are re-driven`,
		7:  "5001 bytes of key and value: a redrive would be over output.max_record_bytes 4096",
		8:  "its value is null (a Kafka tombstone)",
		10: "header error is 10000 bytes, over 64",
		11: `header source_offset "-1" is not an offset`,
		13: "no source_topic header",
		14: "a whole record batch refused unread (input.max_batch_bytes, input.max_compression_ratio): the dead letter holds none of its records; they are in events_raw partition 1 from offset 20",
	}
	for i, dl := range list.DeadLetters {
		assert.Equal(t, int64(i), dl.Offset)
		if w, ok := want[i]; ok {
			assert.Equal(t, "refused", dl.Status, "dead letter %d", i)
			assert.Contains(t, dl.Refused, w, "dead letter %d", i)
		} else {
			assert.Equal(t, "pending", dl.Status, "dead letter %d: %s", i, dl.Refused)
		}
	}
	assert.Equal(t, "phc_new", list.DeadLetters[0].Team, "the team as the event names it")
	assert.Equal(t, "ok", list.DeadLetters[0].Now, "no teams.file: it decodes today")
	assert.Equal(t, "invalid_json", list.DeadLetters[12].Now, "what the decoder says of it today")

	code, out, stderr = run(t, "dlq", "list", "--config", config)
	require.Equal(t, exitOK, code, stderr)
	assert.NotContains(t, out, "\x1b", "no terminal escape from a header reaches the terminal")
	assert.Contains(t, out, `\x1b[31mred\nline`)
	assert.Contains(t, out, "15 dead letters: 3 pending, 0 re-driven, 12 refused")

	code, out, stderr = run(t, "dlq", "replay", "--config", config, "--dry-run")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "dry run: would re-drive 3 dead letters; 0 re-driven before; 12 refused")
	assert.Empty(t, readTopic(t, addr, "events_raw"), "a dry run writes nothing")

	code, out, stderr = run(t, "dlq", "replay", "--config", config)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "re-drove 3 dead letters; 0 re-driven before; 12 refused")
	raw := readTopic(t, addr, "events_raw")
	require.Len(t, raw, 3)
	assert.ElementsMatch(t, []string{"1:events_dead_letter/0/0", "0:events_dead_letter/0/9", "0:events_dead_letter/0/12"}, redriveHeaders(raw),
		"each to its source partition, naming its dead letter")
	for _, r := range raw {
		assert.Equal(t, []byte("k"), r.Key)
		assert.Equal(t, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), r.Timestamp.UTC(), "the original record time")
		if r.Partition == 1 {
			assert.Equal(t, good, r.Value, "the original bytes")
		}
	}

	code, out, stderr = run(t, "dlq", "replay", "--config", config, "--format", "json")
	require.Equal(t, exitOK, code, stderr)
	var again replayResult
	require.NoError(t, json.Unmarshal([]byte(out), &again), out)
	assert.Empty(t, again.Redriven, "a second replay re-drives nothing")
	assert.Equal(t, 3, again.Already)
	assert.Len(t, readTopic(t, addr, "events_raw"), 3)

	code, out, stderr = run(t, "dlq", "list", "--config", config, "--reason", "unknown_team", "--limit", "1")
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "redriven to 1@0")
	assert.Contains(t, out, "1 dead letters: 0 pending, 1 re-driven, 0 refused")
}

// TestDLQFlags: bad flag values are usage errors naming the flag (exit 2),
// before anything connects.
func TestDLQFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"dlq", "list", "--reason", "Unknown Team"}, `--reason "Unknown Team": want a reason such as unknown_team`},
		{[]string{"dlq", "list", "--reason", strings.Repeat("a", 65)}, "--reason"},
		{[]string{"dlq", "replay", "--since", "yesterday"}, `--since "yesterday": want an RFC 3339 time`},
		{[]string{"dlq", "replay", "--since", "-5h"}, `--since "-5h"`},
		{[]string{"dlq", "list", "--limit", "-1"}, "--limit -1: must be 0 (no limit) or more"},
		{[]string{"dlq", "list", "--format", "yaml"}, "yaml"},
		{[]string{"dlq", "list", "--team", strings.Repeat("t", 201)}, "--team: longer than 200 bytes"},
		{[]string{"dlq", "replay", "extra"}, `unexpected argument "extra"`},
	} {
		code, _, stderr := run(t, tc.args...)
		assert.Equal(t, exitConfig, code, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.msg, "%v", tc.args)
	}
}

// TestDLQRedriveUnknownTeam: the operator's story on a real resolver
// (binary, embedded broker, teams.file). Events of a token not in the team
// map are dead-lettered unknown_team; `dlq replay --dry-run` changes
// nothing; the token is added to the map and the instance reloads it
// (SIGHUP); `dlq replay --reason unknown_team` re-drives them and they come
// out stamped with the mapped team; a second replay re-drives nothing; and
// an event whose token is still unknown fails again into a fresh dead
// letter, which only another replay would re-drive.
func TestDLQRedriveUnknownTeam(t *testing.T) {
	c := newCluster(t, "dlq", 240*time.Second)
	teams := filepath.Join(c.root, "teams.yaml")
	require.NoError(t, os.WriteFile(teams, []byte("phc_known: 1\n"), 0o600))
	env := append(c.instanceEnv(c.instanceDir(0)), "RESOLVER_TEAMS_FILE="+teams)
	inst := c.start("i0", env, "run")
	c.waitReady(inst)
	col := c.collect()

	event := func(token, did string) gen.Record {
		u := uuid.NewString()
		return gen.Record{Key: []byte(token + ":" + did), UUID: u,
			Value: []byte(fmt.Sprintf(`{"uuid":%q,"event":"$pageview","distinct_id":%q,"token":%q,"timestamp":"2026-12-01T09:00:00Z"}`, u, did, token))}
	}
	var in, late []gen.Record
	in = append(in, event("phc_known", "k-1"))
	for i := range 4 {
		r := event("phc_late", fmt.Sprintf("late-%d", i))
		r.Reason = "unknown_team"
		late = append(late, r)
	}
	stranger := event("phc_stranger", "s-1")
	stranger.Reason = "unknown_team"
	in = append(append(in, late...), stranger)
	c.produce(in)
	c.waitAll(col, in, 60*time.Second)

	out, _ := c.command(env, 0, "dlq", "list", "--reason", "unknown_team")
	assert.Contains(t, out, "5 dead letters: 5 pending, 0 re-driven, 0 refused", out)
	assert.Contains(t, out, "phc_late")

	rawEnds := func() int { return len(c.readAll("events_raw")) }
	before := rawEnds()
	out, _ = c.command(env, 0, "dlq", "replay", "--reason", "unknown_team", "--dry-run")
	assert.Contains(t, out, "dry run: would re-drive 5 dead letters; 0 re-driven before; 0 refused")
	time.Sleep(time.Second)
	assert.Equal(t, before, rawEnds(), "a dry run writes nothing")

	// Fix the cause: phc_late is team 2.
	require.NoError(t, os.WriteFile(teams, []byte("phc_known: 1\nphc_late: 2\n"), 0o600))
	require.NoError(t, inst.cmd.Process.Signal(syscall.SIGHUP))
	c.waitFor(inst, 20*time.Second, "teams reloaded", func() bool { return inst.hasLog("team map reloaded") })
	out, _ = c.command(env, 0, "dlq", "list", "--reason", "unknown_team", "--team", "2", "--format", "json")
	var list struct {
		DeadLetters []deadLetter `json:"dead_letters"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	assert.Len(t, list.DeadLetters, 4, "--team 2 selects the tokens teams.file maps to team 2")

	out, _ = c.command(env, 0, "dlq", "replay", "--reason", "unknown_team")
	assert.Contains(t, out, "re-drove 5 dead letters; 0 re-driven before; 0 refused", out)

	// The late events come out stamped, team 2; the stranger fails again.
	c.waitFor(inst, 60*time.Second, "the re-driven events stamped", func() bool {
		col.mu.Lock()
		defer col.mu.Unlock()
		for _, r := range late {
			if len(col.stamped[r.UUID]) != 1 {
				return false
			}
		}
		return len(col.dead[string(stranger.Value)]) == 2
	})
	for _, r := range c.readAll("events_person") {
		var s struct {
			UUID string `json:"uuid"`
			Team string `json:"team"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &s))
		for _, l := range late {
			if l.UUID == s.UUID {
				assert.Equal(t, "2", s.Team, "stamped with the team teams.file maps phc_late to")
			}
		}
	}

	out, _ = c.command(env, 0, "dlq", "replay", "--reason", "unknown_team", "--format", "json")
	var again replayResult
	require.NoError(t, json.Unmarshal([]byte(out), &again), out)
	require.Len(t, again.Redriven, 1, "only the stranger's fresh dead letter is new: %s", out)
	assert.Equal(t, 5, again.Already, "a second replay re-drives none of the first five")
	assert.Equal(t, "events_raw", again.Redriven[0].SourceTopic)
	time.Sleep(3 * time.Second)
	col.mu.Lock()
	for _, r := range late {
		assert.Len(t, col.stamped[r.UUID], 1, "each re-driven event stamped once")
	}
	col.mu.Unlock()
}

// TestDLQReplayAfterCrash: a replay that crashed with its transaction open
// re-drove nothing (its records are aborted when the next replay fences
// it), and one that crashed after its commit re-drove its dead letters for
// good: the next replay re-drives the first kind and skips the second, so
// each dead letter is on events_raw once.
func TestDLQReplayAfterCrash(t *testing.T) {
	addr, config := dlqBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 3 {
		recs = append(recs, deadLetterRecord(rawEvent("phc_new", fmt.Sprint("d-", i)), standardHeaders("unknown_team", 0, 100+i)...))
	}
	require.NoError(t, cl.ProduceSync(t.Context(), recs...).FirstErr())

	// The crashed replays, with the transactional id every replay uses.
	crashed := func(commit bool, dlOffset int) {
		p, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("resolver-dlq-redrive"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		require.NoError(t, err)
		require.NoError(t, p.BeginTransaction())
		r := &kgo.Record{Topic: "events_raw", Partition: 0, Value: recs[dlOffset].Value,
			Headers: []kgo.RecordHeader{{Key: redriveHeader, Value: []byte(fmt.Sprintf("events_dead_letter/0/%d", dlOffset))}}}
		require.NoError(t, p.ProduceSync(t.Context(), r).FirstErr())
		if commit {
			require.NoError(t, p.EndTransaction(t.Context(), kgo.TryCommit))
			p.Close()
			return
		}
		t.Cleanup(p.Close) // killed with its transaction open
	}
	crashed(true, 0)  // committed: dead letter 0 is re-driven
	crashed(false, 1) // open: dead letter 1 is not

	code, out, stderr := run(t, "dlq", "replay", "--config", config, "--format", "json")
	require.Equal(t, exitOK, code, stderr)
	var res replayResult
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.Equal(t, 1, res.Already, "the committed redrive counts")
	var got []int64
	for _, dl := range res.Redriven {
		got = append(got, dl.Offset)
	}
	assert.Equal(t, []int64{1, 2}, got, "the aborted one and the untouched one are re-driven")
	assert.ElementsMatch(t, []string{"0:events_dead_letter/0/0", "0:events_dead_letter/0/1", "0:events_dead_letter/0/2"},
		redriveHeaders(readTopic(t, addr, "events_raw")), "each dead letter once on events_raw (read_committed)")
}

// TestDLQSkipsRefusedBatches: resolver dlq reads events_raw (to find what
// was re-driven), which anyone may write. It decompresses within
// input.max_batch_bytes and input.max_compression_ratio, as the workers do,
// and reads on past a batch it refuses (here 2 MiB of zeros in ~100 bytes
// of zstd) instead of failing: the redrive written after that batch is
// found.
func TestDLQSkipsRefusedBatches(t *testing.T) {
	addr, config := dlqBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	require.NoError(t, err)
	defer cl.Close()
	require.NoError(t, cl.ProduceSync(t.Context(), &kgo.Record{Topic: "events_raw", Partition: 0, Value: []byte("filler")}).FirstErr())
	dl := deadLetterRecord(rawEvent("phc_new", "d-1"), standardHeaders("unknown_team", 0, 0)...)
	require.NoError(t, cl.ProduceSync(t.Context(), dl).FirstErr())
	bomb, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerBatchMaxBytes(8<<20), kgo.BrokerMaxWriteBytes(8<<20))
	require.NoError(t, err)
	defer bomb.Close()
	require.NoError(t, bomb.ProduceSync(t.Context(), &kgo.Record{Topic: "events_raw", Partition: 0, Value: make([]byte, 2<<20)}).FirstErr())

	code, out, stderr := run(t, "dlq", "replay", "--config", config)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, out, "re-drove 1 dead letters")
	code, out, stderr = run(t, "dlq", "list", "--config", config, "--format", "json")
	require.Equal(t, exitOK, code, stderr)
	var list struct {
		DeadLetters []deadLetter `json:"dead_letters"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list), out)
	require.Len(t, list.DeadLetters, 1)
	assert.Equal(t, "redriven", list.DeadLetters[0].Status, "the redrive after the refused batch is found")
}
