package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The real-client tests: Kafka clients that no one here wrote read the
// resolver's outputs as a consumer in production would — kcat
// (librdkafka), Debian's confluent-kafka for Python (librdkafka again,
// through its own bindings) and kafkajs (pure JavaScript, which has no
// Snappy, LZ4 or ZSTD codec of its own). README.md, "Reading the outputs",
// is what they show.

// confluentScript reads n records of a topic with confluent-kafka, group
// consumer, read_committed, and prints each value on a line; then it polls
// two seconds more and prints anything else it gets (there must be
// nothing). Exit 3: fewer than n records in a minute.
const confluentScript = `
import sys, time
from confluent_kafka import Consumer, KafkaException

brokers, topic, n, group = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = Consumer({
    "bootstrap.servers": brokers,
    "group.id": group,
    "isolation.level": "read_committed",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
})
c.subscribe([topic])
got, deadline, extra_until = 0, time.time() + 60, None
while time.time() < deadline and (extra_until is None or time.time() < extra_until):
    m = c.poll(0.5)
    if m is None:
        continue
    if m.error():
        raise KafkaException(m.error())
    sys.stdout.write(m.value().decode("utf-8") + "\n")
    sys.stdout.flush()
    got += 1
    if got >= n and extra_until is None:
        extra_until = time.time() + 2
c.close()
sys.exit(0 if got >= n else 3)
`

// kafkajsScript is the same with kafkajs (readUncommitted: false is
// read_committed); after reading it describes the resolver's group and
// prints what kafkajs got on stderr, after "describeGroups:".
const kafkajsScript = `
const { Kafka, logLevel } = require("kafkajs");
const [brokers, topic, nArg, group, resolverGroup] = process.argv.slice(2);
const n = Number(nArg);
const kafka = new Kafka({ clientId: "resolver-real-client-test", brokers: [brokers], logLevel: logLevel.ERROR });
const consumer = kafka.consumer({ groupId: group, readUncommitted: false });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
(async () => {
  let got = 0;
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      process.stdout.write(message.value.toString("utf8") + "\n");
      got++;
    },
  });
  const deadline = Date.now() + 60000;
  while (got < n && Date.now() < deadline) await sleep(100);
  await sleep(2000);
  await consumer.disconnect();
  const admin = kafka.admin();
  try {
    await admin.connect();
    const d = await admin.describeGroups([resolverGroup]);
    process.stderr.write("describeGroups: " + JSON.stringify(d) + "\n");
  } catch (e) {
    process.stderr.write("describeGroups: error " + e.message + "\n");
  } finally {
    await admin.disconnect();
  }
  process.exit(got >= n ? 0 : 3);
})().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + "\n");
  process.exit(1);
});
`

// realClientEvent is an input event and the person it must be stamped with.
type realClientEvent struct {
	key, value string
	uuid       string
	person     string
}

// TestRealClients runs the resolver on the embedded broker, writes an
// aborted transaction into events_person before it does, feeds it capture
// events (one of them broken), and reads events_person with each client
// under read_committed: every stamped event once, with the person of the
// spec, and nothing of the aborted transaction. The broken record's dead
// letter carries the headers configs/clickhouse/10_events_dead_letter.sql
// reads.
//
// The instance runs with kafka.compression none (RESOLVER_KAFKA_COMPRESSION),
// which kafkajs needs (it has no Snappy codec); issue 16 makes none the
// default of the outputs, after which the variable only restates it.
func TestRealClients(t *testing.T) {
	c := newCluster(t, "clients", 4*time.Minute)
	inst := c.start("instance", append(c.instanceEnv(c.instanceDir(0)), "RESOLVER_KAFKA_COMPRESSION=none"), "run")
	c.waitReady(inst)

	// An aborted transaction in events_person: a read_committed reader
	// never sees it; a client without read_committed (kafka-python) does.
	txn := c.client(kgo.TransactionalID("real-client-test-aborted"), kgo.DefaultProduceTopic("events_person"))
	require.NoError(t, txn.BeginTransaction())
	require.NoError(t, txn.ProduceSync(c.ctx, &kgo.Record{Value: []byte(`{"uuid":"aborted","aborted":true}`)}).FirstErr())
	require.NoError(t, txn.EndTransaction(c.ctx, kgo.TryAbort))
	txn.Close()

	ts := func(s int) string { return time.Date(2026, 11, 21, 9, 0, s, 0, time.UTC).Format(time.RFC3339) }
	var evs []realClientEvent
	add := func(team, did, event, props string, s int, person string) {
		u := uuid.NewString()
		evs = append(evs, realClientEvent{
			key:    team + ":" + did,
			value:  fmt.Sprintf(`{"uuid":%q,"event":%q,"distinct_id":%q,"team_id":%s,"timestamp":%q,"properties":%s}`, u, event, did, team, ts(s), props),
			uuid:   u,
			person: person,
		})
	}
	anon := specPersonID("7", "client-anon")
	add("7", "client-anon", "$pageview", `{"$process_person_profile":false}`, 0, anon)
	add("7", "client-anon", "$pageview", `{"$current_url":"https://example.com/ünïcode"}`, 1, anon)
	add("7", "client-user", "$identify", `{"$anon_distinct_id":"client-anon","$set":{"email":"c@example.com"}}`, 2, anon)
	add("7", "client-user", "signed_up", `{"plan":"free"}`, 3, anon)
	add("8", "client-user", "$pageview", `{}`, 4, specPersonID("8", "client-user"))
	for i := range 20 {
		did := fmt.Sprintf("client-%02d", i)
		add("9", did, "$pageview", `{"$process_person_profile":false}`, 5+i, specPersonID("9", did))
	}
	prod := c.client(kgo.DefaultProduceTopic("events_raw"))
	batch := []*kgo.Record{{Key: []byte("broken"), Value: []byte(`{"uuid": not json`)}}
	for _, e := range evs {
		batch = append(batch, &kgo.Record{Key: []byte(e.key), Value: []byte(e.value)})
	}
	require.NoError(t, prod.ProduceSync(c.ctx, batch...).FirstErr())
	prod.Close()

	check := func(t *testing.T, client string, out string) {
		t.Helper()
		lines := readLines(out)
		byUUID := map[string]string{}
		for _, line := range lines {
			require.NotContains(t, line, `"aborted"`, "%s read a record of an aborted transaction: not read_committed", client)
			var s struct {
				UUID     string `json:"uuid"`
				PersonID string `json:"person_id"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &s), "%s: events_person value: %s", client, line)
			_, dup := byUUID[s.UUID]
			require.False(t, dup, "%s read %s twice", client, s.UUID)
			byUUID[s.UUID] = s.PersonID
		}
		require.Len(t, lines, len(evs), "%s reads every stamped event once", client)
		for _, e := range evs {
			assert.Equal(t, e.person, byUUID[e.uuid], "%s: person of %s", client, e.value)
		}
		t.Logf("%s read %d stamped events, read_committed, none of the aborted transaction", client, len(lines))
	}

	t.Run("kcat", func(t *testing.T) {
		kcat, err := exec.LookPath("kcat")
		if err != nil {
			t.Skip("kcat is not on PATH: install it with `apt-get install kcat` (.ci/run does)")
		}
		ctx, cancel := context.WithTimeout(c.ctx, time.Minute)
		defer cancel()
		// -c: the stamped events, as they arrive; then -e: everything
		// committed up to the end, which must be the same records.
		for _, stop := range [][]string{{"-c", fmt.Sprint(len(evs))}, {"-e"}} {
			args := append([]string{"-C", "-b", c.addr, "-t", "events_person", "-o", "beginning", "-X", "isolation.level=read_committed", "-f", "%s\n", "-q"}, stop...)
			cmd := exec.CommandContext(ctx, kcat, args...)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			require.NoError(t, err, "kcat %s: %s", strings.Join(args, " "), stderr.String())
			check(t, "kcat "+stop[0], string(out))
		}
		// Without read_committed the aborted record is there: the
		// isolation level is what keeps it out, not its absence.
		out, err := exec.CommandContext(ctx, kcat, "-C", "-b", c.addr, "-t", "events_person", "-o", "beginning",
			"-X", "isolation.level=read_uncommitted", "-f", "%s\n", "-q", "-e").Output()
		require.NoError(t, err)
		assert.Contains(t, string(out), `{"uuid":"aborted","aborted":true}`, "read_uncommitted sees the aborted transaction")
		// At least every committed record and the aborted one: a batch
		// aborted by a rebalance (a worker of the instance joining the
		// group) is there too, redone in a later transaction.
		assert.GreaterOrEqual(t, len(readLines(string(out))), len(evs)+1)
	})

	t.Run("confluent-kafka", func(t *testing.T) {
		// Debian's package, for Debian's python3: python3 on PATH may be
		// another interpreter (pyenv) without it.
		const python = "/usr/bin/python3"
		if _, err := os.Stat(python); err != nil {
			t.Skip("/usr/bin/python3 is absent: install python3-confluent-kafka (.ci/run does)")
		}
		if out, err := exec.Command(python, "-c", "import confluent_kafka").CombinedOutput(); err != nil {
			t.Skipf("Debian's python3 cannot import confluent_kafka (%s): install python3-confluent-kafka (.ci/run does)", strings.TrimSpace(string(out)))
		}
		script := filepath.Join(t.TempDir(), "read.py")
		require.NoError(t, os.WriteFile(script, []byte(confluentScript), 0o600))
		ctx, cancel := context.WithTimeout(c.ctx, 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, script, c.addr, "events_person", fmt.Sprint(len(evs)), "real-client-confluent")
		var stderr syncBuffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "confluent-kafka: %s", stderr.String())
		ver, _ := exec.Command(python, "-c", "import confluent_kafka as c; print(c.version()[0], 'librdkafka', c.libversion()[0])").Output()
		t.Logf("confluent-kafka %s", strings.TrimSpace(string(ver)))
		check(t, "confluent-kafka", string(out))
	})

	t.Run("kafkajs", func(t *testing.T) {
		node, err := exec.LookPath("node")
		if err != nil {
			t.Skip("node is not on PATH: install nodejs (.ci/run does)")
		}
		modules, err := filepath.Abs(filepath.Join("..", "..", ".tools", "node", "node_modules"))
		require.NoError(t, err)
		if _, err := os.Stat(filepath.Join(modules, "kafkajs", "package.json")); err != nil {
			t.Skipf("kafkajs is not installed in %s: `npm install --prefix .tools/node kafkajs@2.2.4` (.ci/run does)", modules)
		}
		script := filepath.Join(t.TempDir(), "read.js")
		require.NoError(t, os.WriteFile(script, []byte(kafkajsScript), 0o600))
		ctx, cancel := context.WithTimeout(c.ctx, 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, script, c.addr, "events_person", fmt.Sprint(len(evs)), "real-client-kafkajs", "resolver")
		cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
		var stderr syncBuffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		require.NoError(t, err, "kafkajs: %s", stderr.String())
		check(t, "kafkajs", string(out))
		// What tools built on describeGroups show of the resolver's group:
		// it is a KIP-848 group (kafka.group_protocol consumer), which the
		// classic DescribeGroups request does not describe.
		for _, line := range readLines(stderr.String()) {
			if strings.HasPrefix(line, "describeGroups:") {
				t.Logf("kafkajs %s", line)
			}
		}
	})

	t.Run("dead letter headers", func(t *testing.T) {
		sql, err := os.ReadFile(filepath.Join("..", "..", "configs", "clickhouse", "10_events_dead_letter.sql"))
		require.NoError(t, err)
		var read []string
		for _, m := range regexp.MustCompile(`indexOf\(_headers\.name, '([a-z_]+)'\)`).FindAllStringSubmatch(string(sql), -1) {
			read = append(read, m[1])
		}
		require.NotEmpty(t, read)
		cl := c.client(readerOpts("events_dead_letter")...)
		ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		defer cancel()
		var dl *kgo.Record
		for dl == nil && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { dl = r })
		}
		require.NotNil(t, dl, "the broken record's dead letter")
		headers := map[string]string{}
		for _, h := range dl.Headers {
			headers[h.Key] = string(h.Value)
			assert.Contains(t, read, h.Key, "10_events_dead_letter.sql reads header %s", h.Key)
		}
		for _, h := range read {
			switch h {
			case "truncated": // only on a dead letter cut to fit
			case "source_offset_last": // only on a refused record batch (batch_refused)
			default:
				assert.Contains(t, headers, h, "a dead letter carries header %s", h)
			}
		}
		assert.Equal(t, "invalid_json", headers["error"])
		assert.Equal(t, "events_raw", headers["source_topic"])
		assert.Regexp(t, `^\d+$`, headers["source_partition"])
		assert.Regexp(t, `^\d+$`, headers["source_offset"])
		assert.Equal(t, `{"uuid": not json`, string(dl.Value))
		assert.True(t, slices.Contains(read, "truncated"))
	})
	inst.stop(t, 40*time.Second)
}
