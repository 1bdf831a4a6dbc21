package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/gen"
)

// lifecycleEvent is a capture event of team 1 with the given properties.
func lifecycleEvent(did, event, props string, s int) gen.Record {
	u := uuid.NewString()
	ts := time.Date(2026, 12, 1, 9, 0, s, 0, time.UTC).Format(time.RFC3339)
	return gen.Record{
		Key:   []byte(":" + did),
		Value: []byte(fmt.Sprintf(`{"uuid":%q,"event":%q,"distinct_id":%q,"team_id":1,"timestamp":%q,"properties":%s}`, u, event, did, ts, props)),
		UUID:  u,
	}
}

// TestClusterLifecycle: three instances of the real binary on the embedded
// broker take a generated stream and a scripted life of persons — merges,
// a split and its refusal, a deletion with --block, a deletion of an
// unknown id — through `resolver persons split|delete`; then:
//   - the three replicas have equal fingerprints;
//   - `resolver rebuild` of one of them, after the deletion erased its
//     keys, reaches the same fingerprint (docs/SEMANTICS.md §8: a rebuild
//     applies the deleted person's ops without their values);
//   - no property value of any person appears in clear in identity_log's
//     raw bytes, read with kcat (a client no one here wrote), and the
//     deleted person's data keys are tombstones on identity_keys;
//   - the blocked ids' later events are dead-lettered deleted_distinct_id.
func TestClusterLifecycle(t *testing.T) {
	c := newCluster(t, "lifecycle", 240*time.Second)
	cfg := clusterInput()
	cfg.Users = 60
	recs := generate(cfg)
	col := c.collect()
	insts := c.startReady(3)

	// Property values that must never be seen in clear in identity_log.
	secrets := []string{"ann.secret@example.com", "Ann Secretname", "bob.secret@example.com", "+44 7700 900123"}
	script := []gen.Record{
		lifecycleEvent("lc-anon-1", "$pageview", `{"$set":{"email":"ann.secret@example.com"}}`, 1),
		lifecycleEvent("lc-user-1", "$identify", `{"$anon_distinct_id":"lc-anon-1","$set":{"name":"Ann Secretname"}}`, 2),
		lifecycleEvent("lc-anon-2", "$pageview", `{"$set_once":{"phone":"+44 7700 900123"}}`, 3),
		lifecycleEvent("lc-user-1", "$identify", `{"$anon_distinct_id":"lc-anon-2"}`, 4),
		lifecycleEvent("lc-user-2", "$identify", `{"$anon_distinct_id":"lc-anon-3","$set":{"email":"bob.secret@example.com"}}`, 5),
	}
	c.produce(append(recs, script...))
	c.waitAll(col, append(recs, script...), 90*time.Second)

	env := c.instanceEnv(c.instanceDir(9)) // a state dir no instance uses: the commands need none
	// Split without properties: the new person holds none of the old
	// person's values, so the deletion below erases every key they came
	// from (with properties, the copy would keep them alive).
	out, _ := c.command(env, 0, "persons", "split", "--team", "1", "--distinct-id", "lc-anon-2", "--no-properties", "--format", "json")
	var split struct {
		Rows []struct {
			Rule     string   `json:"rule"`
			Refused  string   `json:"refused"`
			Survivor string   `json:"survivor_person_id"`
			Moved    []string `json:"distinct_ids_moved"`
		} `json:"person_merges"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &split), out)
	require.Len(t, split.Rows, 1, out)
	assert.Equal(t, "split", split.Rows[0].Rule)
	assert.Equal(t, []string{"lc-anon-2"}, split.Rows[0].Moved)

	_, errOut := c.command(env, 1, "persons", "split", "--team", "1", "--distinct-id", "lc-anon-2")
	assert.Contains(t, errOut, "must leave at least one distinct_id", "splitting every id of a person is refused with a message")

	out, _ = c.command(env, 0, "persons", "delete", "--team", "1", "--distinct-id", "lc-user-1", "--block")
	assert.Contains(t, out, "deleted person")
	assert.Contains(t, out, "now blocked")
	out, _ = c.command(env, 0, "persons", "delete", "--team", "1", "--distinct-id", "lc-nobody")
	assert.Contains(t, out, "no-op")

	// Later events: the blocked ids' are dead letters.
	later := []gen.Record{
		lifecycleEvent("lc-user-1", "$pageview", `{"$set":{"name":"Ann Again"}}`, 10),
		lifecycleEvent("lc-anon-1", "$pageview", `{}`, 11),
		lifecycleEvent("lc-anon-2", "$pageview", `{}`, 12),
	}
	later[0].Reason, later[1].Reason = "deleted_distinct_id", "deleted_distinct_id" // expected in events_dead_letter
	c.produce(later)
	c.waitAll(col, append(append(recs, script...), later...), 60*time.Second)
	dead := 0
	for _, r := range c.readAll("events_dead_letter") {
		for _, h := range r.Headers {
			if h.Key == "error" && string(h.Value) == "deleted_distinct_id" {
				dead++
			}
		}
	}
	assert.Equal(t, 2, dead, "the blocked ids' events are dead-lettered deleted_distinct_id")

	sums := c.stopAll(insts)
	t.Logf("%d lineage records on person_merges, each once", c.checkMergesOnce(c.instanceDir(0)))
	for i := 1; i < 3; i++ {
		assert.Equal(t, sums[0].Fingerprint, sums[i].Fingerprint, "instance %d agrees with instance 0", i)
	}

	// The lineage, from a stopped replica: lc-user-2 moved into lc-anon-3's
	// person by an $identify (both implicit: the anonymous side survives,
	// docs/SEMANTICS.md §4), and was in its implicit person before.
	out, _ = c.command(c.instanceEnv(c.instanceDir(2)), 0, "explain", "--team", "1", "--distinct-id", "lc-user-2", "--format", "json")
	var lin struct {
		PersonID string `json:"person_id"`
		Moves    []struct {
			Rule      string `json:"rule"`
			EventUUID string `json:"event_uuid"`
		} `json:"moves"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &lin), out)
	require.Len(t, lin.Moves, 1, out)
	assert.Equal(t, "identify", lin.Moves[0].Rule)
	assert.Equal(t, script[4].UUID, lin.Moves[0].EventUUID, "the step names the event that merged")
	for _, tc := range []struct{ at, person string }{
		{"2000-01-01T00:00:00Z", uuid.NewSHA1(uuid.MustParse("932979b4-65c3-4424-8467-0b66ec27bc22"), []byte("1:lc-user-2")).String()},
		{time.Now().UTC().Format(time.RFC3339), lin.PersonID},
	} {
		out, _ = c.command(c.instanceEnv(c.instanceDir(2)), 0, "lookup", "--team", "1", "--distinct-id", "lc-user-2", "--as-of", tc.at, "--format", "json")
		var v struct {
			PersonID string `json:"person_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &v), out)
		assert.Equal(t, tc.person, v.PersonID, "lc-user-2 as of %s", tc.at)
	}

	// A rebuild after the deletion: the deleted person's values cannot be
	// read any more, and the state is the same.
	out, _ = c.command(c.instanceEnv(c.instanceDir(1)), 0, "rebuild", "--format", "json")
	assert.Equal(t, sums[1].Fingerprint, summaryOf(t, out).Fingerprint, "rebuilt after the deletion: the live replicas' fingerprint")

	// identity_log's raw bytes hold no value in clear; identity_keys holds
	// the deleted person's keys as tombstones.
	raw := readRaw(t, c, "identity_log")
	require.NotEmpty(t, raw)
	for _, s := range secrets {
		assert.False(t, bytes.Contains(raw, []byte(s)), "identity_log holds %q in clear", s)
	}
	assert.True(t, bytes.Contains(raw, []byte("lc-user-1")), "ids stay in the log (only values are sealed)")
	latest := map[string][]byte{}
	for _, r := range c.readAll("identity_keys") {
		latest[string(r.Key)] = r.Value
	}
	var tomb, live int
	for k, v := range latest {
		if strings.Contains(k, ":lc-user-1:0:") || strings.Contains(k, ":lc-anon-1:0:") || strings.Contains(k, ":lc-anon-2:0:") {
			if v == nil {
				tomb++
			} else {
				live++
			}
		}
	}
	assert.Equal(t, 3, tomb, "the deleted person's data keys (of lc-anon-1, lc-user-1 and lc-anon-2's first generation) are tombstoned")
	assert.Zero(t, live, "no data key of the deleted person survives")
}

// readRaw is every record value of a topic as one byte string, read with
// kcat when it is installed (CI installs it), else with franz-go.
func readRaw(t *testing.T, c *cluster, topic string) []byte {
	t.Helper()
	if kcat, err := exec.LookPath("kcat"); err == nil {
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(c.ctx, kcat, "-C", "-b", c.addr, "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.NoError(t, cmd.Run(), "kcat: %s", stderr.String())
		return stdout.Bytes()
	}
	t.Logf("kcat is not on PATH: reading %s with franz-go instead (install kcat to read it with another client)", topic)
	var b bytes.Buffer
	for _, r := range c.readAll(topic) {
		b.Write(r.Value)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
