package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// hostile is one record an attacker or a broken client sends to
// events_raw, and what it must become: a stamped event ("stamped") or a
// dead letter with that reason.
type hostile struct {
	name  string
	key   []byte
	value []byte // nil: a Kafka tombstone
	ts    time.Time
	want  string
}

// hostileUUID is the uuid of the i-th hostile record that carries one.
func hostileUUID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

// hostileRecords are issue 11's records and more. Records that carry a uuid
// are told apart on events_person by it; every record is told apart on the
// dead letters by its source coordinates.
func hostileRecords() []hostile {
	pad := func(c string, n int) string { return strings.Repeat(c, n) }
	ev := func(i int, fields string) []byte {
		if !strings.Contains(fields, `"event":`) {
			fields = `"event":"e",` + fields
		}
		return fmt.Appendf(nil, `{"uuid":%q,%s}`, hostileUUID(i), fields)
	}
	var many strings.Builder
	for i := range 60000 {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, `"p%d":%d`, i, i)
	}
	envelope := func(i int, token string, data string) []byte {
		b, _ := json.Marshal(map[string]any{"uuid": hostileUUID(i), "distinct_id": "mallory", "token": token, "data": data})
		return b
	}
	return []hostile{
		{name: "a 70 kB token (a key Badger refuses)", value: ev(1, `"distinct_id":"k","token":"`+pad("T", 70000)+`"`), want: "invalid_team"},
		{name: "a 70 kB token, personless", value: ev(2, `"distinct_id":"k","token":"`+pad("T", 70000)+`","properties":{"$process_person_profile":false}`), want: "invalid_team"},
		{name: "a team with a control character", value: ev(3, `"distinct_id":"k","token":"phc_a\u0001b"`), want: "invalid_team"},
		{name: "a 70 kB distinct_id (cut to 200)", value: ev(4, `"distinct_id":"`+pad("d", 70000)+`","token":"phc_h"`), want: "stamped"},
		{name: "a 70 kB $anon_distinct_id", value: ev(5, `"event":"$identify","distinct_id":"u5","token":"phc_h","properties":{"$anon_distinct_id":"`+pad("a", 70000)+`"}`), want: "stamped"},
		// The $set passes the person's cap, so the person keeps none of it
		// (a warning says so) and the stamped event fits the record bound.
		{name: "a 900 kB $set", value: ev(6, `"distinct_id":"bigset","token":"phc_h","properties":{"$set":{"blob":"`+pad("x", 900000)+`"}}`), want: "stamped"},
		// 60k $set keys: the person keeps 512 KiB of them, and the ~900 kB
		// event stamped with them would pass the bound.
		{name: "60k properties", value: ev(7, `"distinct_id":"many","token":"phc_h","properties":{"$set":{`+many.String()+`}}`), want: "output_too_large"},
		// Two $sets of 300 kB each: the second passes the person's 512 KiB
		// cap and is dropped; the small event after is stamped within the
		// record bound.
		{name: "300 kB $set", value: ev(8, `"distinct_id":"heavy","token":"phc_h","properties":{"$set":{"a":"`+pad("x", 300000)+`"}}`), want: "stamped"},
		{name: "another 300 kB $set of the same person", value: ev(9, `"distinct_id":"heavy","token":"phc_h","properties":{"$set":{"b":"`+pad("x", 300000)+`"}}`), want: "stamped"},
		{name: "a small event of the heavy person", value: ev(10, `"distinct_id":"heavy","token":"phc_h"`), want: "stamped"},
		{name: "invalid JSON of 1,040,000 bytes (a dead letter over the bound)", value: []byte(`{"uuid":"` + hostileUUID(11) + `",` + pad("!", 1040000)), want: "invalid_json"},
		{name: "a Kafka tombstone", value: nil, want: "invalid_json"},
		{name: "a 500 kB key", key: []byte(pad("K", 500000)), value: ev(13, `"distinct_id":"keyed","token":"phc_h"`), want: "stamped"},
		{name: "backdated to 1970", value: ev(14, `"distinct_id":"old","token":"phc_h","timestamp":"1970-01-01T00:00:00Z"`), want: "stamped"},
		{name: "backdated to year 1", value: ev(15, `"distinct_id":"older","token":"phc_h","timestamp":"0001-01-01T00:00:00Z"`), want: "stamped"},
		{name: "far future", value: ev(16, `"distinct_id":"future","token":"phc_h","timestamp":"9999-12-31T23:59:59Z"`), want: "stamped"},
		// The decoder bounds nesting.
		{name: "nested 100k deep", value: []byte(`{"uuid":"` + hostileUUID(17) + `","event":"e","distinct_id":"deep","token":"phc_h","properties":{"x":` + pad("[", 100000) + pad("]", 100000) + `}}`), want: "invalid_json"},
		{name: "invalid UTF-8 everywhere", value: []byte("{\"uuid\":\"" + hostileUUID(18) + "\",\"event\":\"\xff\xfe\",\"distinct_id\":\"\xc3\x28\",\"token\":\"phc_\xff\",\"properties\":{\"\xff\":\"\xfe\"}}"), want: "stamped"},
		// An integer, 401 digits in decimal: over the team bound.
		{name: "a huge number as team_id", value: ev(19, `"distinct_id":"n","team_id":1e400`), want: "invalid_team"},
		{name: "NUL in the distinct_id", value: ev(20, `"distinct_id":"a\u0000b","token":"phc_h"`), want: "stamped"},
		// Envelope team spoofing: the victim identifies, then the attacker's
		// envelope names the victim's team inside data.
		{name: "the victim's own identify", value: ev(21, `"event":"$identify","distinct_id":"victim","token":"phc_victim","properties":{"$anon_distinct_id":"v-anon","$set":{"email":"victim@example.com"}}`), want: "stamped"},
		{name: "an envelope spoofing the victim's team", value: envelope(22, "phc_attacker", `{"event":"$identify","distinct_id":"victim","team_id":"phc_victim","token":"phc_victim","properties":{"token":"phc_victim","$anon_distinct_id":"attacker"}}`), want: "stamped"},
		{name: "an envelope without a token", value: envelope(23, "", `{"event":"e","distinct_id":"x","token":"phc_victim"}`), want: "missing_team"},
	}
}

// TestHostileInput runs the real binary against the embedded broker (one
// `resolver broker`, two `resolver run` instances) and sends it what an
// attacker who can produce to events_raw, or by mistake to the internal
// topics, would: issue 11's records and more. After them every instance
// still runs and is ready, a normal event sent last is stamped, every
// record produced to events_raw is accounted for exactly once (stamped or
// a dead letter with its reason), no team's data reaches another, and the
// two replicas agree.
func TestHostileInput(t *testing.T) {
	c := newCluster(t, "hostile", 8*time.Minute)
	insts := map[int]*proc{}
	for i := range 2 {
		insts[i] = c.startInstance(fmt.Sprintf("i%d", i), c.instanceDir(i))
	}
	for _, p := range insts {
		c.waitReady(p)
	}
	c.waitStable(2)
	ctx := c.ctx

	// Internal topics first, so the instances apply them before the
	// events: forged identity_log ops and billing_usage deltas, garbage and
	// tombstones.
	forged := c.client(kgo.ProducerBatchMaxBytes(4 << 20))
	op := func(team, did string, srcPart int32, srcOff int64) []byte {
		b, _ := json.Marshal(map[string]any{"v": 1, "kind": 1, "team": team, "did": did, "ts": time.Now().UnixMilli(),
			"src": map[string]any{"t": "events_raw", "p": srcPart, "o": srcOff}})
		return b
	}
	internal := []*kgo.Record{
		{Topic: "identity_log", Key: []byte("x"), Value: op(strings.Repeat("T", 70000), "k", 0, 0)},
		{Topic: "identity_log", Key: []byte("x"), Value: op("phc_h", strings.Repeat("d", 70000), 0, 0)},
		{Topic: "identity_log", Key: []byte("phc_h"), Value: op("phc_h", "forged", 0, math.MaxInt64)},
		{Topic: "identity_log", Key: []byte("phc_h"), Value: op("phc_h", "forged", 3, math.MaxInt64)},
		{Topic: "identity_log", Key: []byte("x"), Value: []byte("not an op at all")},
		{Topic: "identity_log", Key: []byte("x"), Value: nil},
		{Topic: "billing_usage", Key: []byte("phc_h"), Value: []byte(`{"team":"phc_h","month":"2026-12","class":"identified","count":9223372036854775807}`)},
		{Topic: "billing_usage", Key: []byte("phc_h"), Value: []byte(`{"team":"phc_h","month":"2026-12","class":"identified","count":9223372036854775807}`)},
		{Topic: "billing_usage", Key: []byte("x"), Value: []byte(`{"team":"x","month":"2026-12","class":"anonymous","count":-5}`)},
		{Topic: "billing_usage", Key: []byte("x"), Value: []byte(`{"team":"` + strings.Repeat("T", 70000) + `","month":"2026-12","class":"anonymous","count":1}`)},
		{Topic: "billing_usage", Key: []byte("x"), Value: []byte(`garbage`)},
		{Topic: "billing_usage", Key: []byte("x"), Value: nil},
	}
	// Every identity_log partition gets a forged op with source offset
	// MaxInt64, so the real ops of every source partition follow one.
	for p := range int32(8) {
		internal = append(internal, &kgo.Record{Topic: "identity_log", Partition: p, Key: []byte("phc_h"), Value: op("phc_h", "forged", p, math.MaxInt64)})
	}
	for _, r := range internal {
		require.NoError(t, forged.ProduceSync(ctx, r).FirstErr(), "produce forged %s record", r.Topic)
	}

	// Then events_raw: the hostile records, then identity events whose ops
	// follow the forged ones (they must be applied, not skipped as below a
	// forged high-water mark), then a normal event last.
	hs := hostileRecords()
	for i := range 16 {
		hs = append(hs, hostile{name: "identify after the forged ops", want: "stamped", key: fmt.Appendf(nil, "real-%d", i),
			value: fmt.Appendf(nil, `{"uuid":%q,"event":"$identify","distinct_id":"real-%d","token":"phc_h","properties":{"$anon_distinct_id":"anon-%d"}}`, hostileUUID(100+i), i, i)})
	}
	// On real-3's partition, after its identify.
	hs = append(hs, hostile{name: "a normal event, last", want: "stamped", key: []byte("real-3"),
		value: fmt.Appendf(nil, `{"uuid":%q,"event":"$pageview","distinct_id":"anon-3","token":"phc_h"}`, hostileUUID(999))})
	raw := c.client(kgo.DefaultProduceTopic("events_raw"), kgo.ProducerBatchMaxBytes(4<<20))
	bySource := map[string]int{} // "partition/offset" → index in hs
	for i, h := range hs {
		r := &kgo.Record{Key: h.key, Value: h.value, Timestamp: h.ts}
		if r.Key == nil {
			r.Key = []byte(fmt.Sprintf("k%d", i))
		}
		res := raw.ProduceSync(ctx, r)
		require.NoError(t, res.FirstErr(), "produce %q", h.name)
		bySource[fmt.Sprintf("%d/%d", res[0].Record.Partition, res[0].Record.Offset)] = i
	}

	// Every record accounted for exactly once.
	got := map[int]string{}
	stamped := map[int]map[string]any{}
	cl := c.client(append(readerOpts("events_person", "events_dead_letter"), kgo.FetchMaxPartitionBytes(4<<20))...)
	byUUID := map[string]int{}
	for i, h := range hs {
		var v struct {
			UUID string `json:"uuid"`
		}
		if json.Unmarshal(h.value, &v) == nil && v.UUID != "" {
			byUUID[v.UUID] = i
		}
	}
	c.waitFor(nil, 3*time.Minute, "every hostile record on events_person or the dead letters", func() bool {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			var idx int
			if r.Topic == "events_dead_letter" {
				i, ok := bySource[hdr(r, "source_partition")+"/"+hdr(r, "source_offset")]
				require.True(t, ok, "a dead letter of no input: %s", hdr(r, "error"))
				assert.LessOrEqual(t, len(r.Key)+len(r.Value), 1_000_000, "dead letter of %q within the record bound", hs[i].name)
				idx = i
				_, dup := got[idx]
				require.False(t, dup, "%q accounted for twice", hs[idx].name)
				got[idx] = hdr(r, "error")
				return
			}
			var s map[string]any
			dec := json.NewDecoder(bytes.NewReader(r.Value))
			dec.UseNumber() // a number like 1e400 is passed through as it came
			require.NoError(t, dec.Decode(&s), "a stamped event that is not JSON: %.200s", r.Value)
			i, ok := byUUID[s["uuid"].(string)]
			require.True(t, ok, "a stamped event of no input: %v", s["uuid"])
			_, dup := got[i]
			require.False(t, dup, "%q accounted for twice", hs[i].name)
			got[i], stamped[i] = "stamped", s
		})
		return len(got) == len(hs)
	})
	for i, h := range hs {
		assert.Equal(t, h.want, got[i], "what became of %q", h.name)
	}

	// Nothing crosses teams: the attacker's envelope is the attacker's.
	if s := stamped[21]; s != nil {
		assert.Equal(t, "phc_attacker", s["team"], "the envelope's token is its team")
		assert.NotContains(t, fmt.Sprint(s["person_properties"]), "victim@example.com")
	}
	// The person's properties stayed within the cap.
	if s := stamped[9]; s != nil {
		b, _ := json.Marshal(s["person_properties"])
		assert.LessOrEqual(t, len(b), 512<<10, "person_properties within identity.max_person_properties_bytes")
	}
	// The real identifies after the forged ops were applied: anon-3's
	// event, last, carries the person of real-3.
	if s, r := stamped[len(hs)-1], stamped[len(hs)-1-16+3]; s != nil && r != nil {
		assert.Equal(t, r["person_id"], s["person_id"], "identify of real-3 applied after the forged high-water mark")
	}

	// Both instances still run, are ready, answer billing, and agree.
	for i, p := range insts {
		require.False(t, p.exited(), "instance %d exited: %v\n%s", i, p.err, tail(p.stderr.String(), 30))
		base := "http://" + instanceAdmin(t, p)
		c.waitFor(p, time.Minute, p.name+" /readyz", func() bool { return httpStatus(t, base+"/readyz") == http.StatusOK })
		// The forged internal records were refused, counted and logged
		// with their coordinates, on every replica alike.
		code, metrics, err := httpGet(t, base+"/metrics", "")
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		for _, series := range []string{
			`resolver_identity_ops_total{result="rejected"}`, `resolver_identity_ops_total{result="malformed"}`,
			`resolver_billing_deltas_total{result="rejected"}`, `resolver_billing_deltas_total{result="malformed"}`,
		} {
			assert.Regexp(t, regexp.QuoteMeta(series)+` [1-9]`, string(metrics), "%s: %s", p.name, series)
		}
		assert.True(t, p.hasLog("rejecting op that no replica can apply"), "%s logs the rejected ops", p.name)
		for _, team := range []string{"phc_h", "phc_victim"} {
			code, body, err := httpGet(t, base+"/v1/billing?team="+team, "")
			require.NoError(t, err)
			assert.Equal(t, http.StatusOK, code, "%s /v1/billing?team=%s: %s", p.name, team, body)
		}
	}
	sums := c.stopAll(insts)
	assert.Equal(t, sums[0].Fingerprint, sums[1].Fingerprint, "the replicas agree")
}

func hdr(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// instanceAdmin is the admin address an instance logged.
func instanceAdmin(t *testing.T, p *proc) string {
	t.Helper()
	a, ok := firstLogField(p.stderr.String(), "admin listening", "addr")
	require.True(t, ok, "%s logged no admin address", p.name)
	return a.(string)
}

func httpStatus(t *testing.T, url string) int {
	code, _, _ := httpGet(t, url, "")
	return code
}
