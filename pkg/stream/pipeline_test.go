package stream

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

type stamped struct {
	UUID         string          `json:"uuid"`
	Team         string          `json:"team"`
	DistinctID   string          `json:"distinct_id"`
	PersonID     string          `json:"person_id"`
	PersonMode   string          `json:"person_mode"`
	BillingClass string          `json:"billing_class"`
	PersonProps  json.RawMessage `json:"person_properties"`
}

func decodeStamped(t *testing.T, r *kgo.Record) stamped {
	t.Helper()
	var s stamped
	require.NoError(t, json.Unmarshal(r.Value, &s), "events_person value: %s", r.Value)
	return s
}

// TestPipelineSmall sends a short identity story through one instance and
// checks every output topic.
func TestPipelineSmall(t *testing.T) {
	h := newHarness(t)
	in := h.start(t.TempDir())
	defer in.stop(t)

	ts := func(s int) string { return time.Date(2026, 11, 28, 10, 0, s, 0, time.UTC).Format(time.RFC3339) }
	evs := []string{
		`{"uuid":"00000000-0000-4000-8000-000000000001","event":"$pageview","distinct_id":"anon-1","team_id":1,"timestamp":"` + ts(0) + `","properties":{"$process_person_profile":false}}`,
		`{"uuid":"00000000-0000-4000-8000-000000000002","event":"$identify","distinct_id":"user-1","team_id":1,"timestamp":"` + ts(1) + `","properties":{"$anon_distinct_id":"anon-1","$set":{"email":"a@example.com"}}}`,
		`{"uuid":"00000000-0000-4000-8000-000000000003","event":"$pageview","distinct_id":"user-1","team_id":1,"timestamp":"` + ts(2) + `"}`,
		`not json`,
		`{"uuid":"00000000-0000-4000-8000-000000000005","event":"$pageview","distinct_id":"x"}`,
	}
	var recs []*kgo.Record
	for _, e := range evs {
		recs = append(recs, &kgo.Record{Key: []byte("1:k"), Value: []byte(e)})
	}
	h.produce(recs)

	out := h.readCommitted(len(evs), 60*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	require.Len(t, out[h.cfg.Topics.Person], 3)
	require.Len(t, out[h.cfg.Topics.DeadLetter], 2)

	anon := unionfind.ImplicitPersonID("1", "anon-1").String()
	for _, r := range out[h.cfg.Topics.Person] {
		s := decodeStamped(t, r)
		assert.Equal(t, anon, s.PersonID, "every event of the story belongs to the anonymous side's person: %s", r.Value)
		assert.Equal(t, "1:"+s.DistinctID, string(r.Key))
	}
	dl := out[h.cfg.Topics.DeadLetter]
	assert.Equal(t, "invalid_json", header(dl[0], "error"))
	assert.Equal(t, "not json", string(dl[0].Value), "original bytes unchanged")
	assert.Equal(t, h.cfg.Topics.Raw, header(dl[0], "source_topic"))
	assert.Equal(t, strconv.Itoa(int(dl[0].Partition)), header(dl[0], "source_partition")) // same partition count
	assert.Equal(t, "missing_team", header(dl[1], "error"))

	persons := h.readAll(h.cfg.Topics.Persons)
	require.NotEmpty(t, persons)
	var last PersonRow
	require.NoError(t, json.Unmarshal(persons[len(persons)-1].Value, &last))
	assert.Equal(t, anon, last.ID)
	assert.True(t, last.IsIdentified)
	assert.JSONEq(t, `{"email":"a@example.com"}`, string(last.Properties))

	dids := h.readAll(h.cfg.Topics.DistinctIDs)
	got := map[string]DistinctIDRow{}
	for _, r := range dids {
		var d DistinctIDRow
		require.NoError(t, json.Unmarshal(r.Value, &d))
		if cur, ok := got[d.DistinctID]; !ok || d.Version >= cur.Version {
			got[d.DistinctID] = d
		}
	}
	assert.Equal(t, DistinctIDRow{Team: "1", DistinctID: "anon-1", PersonID: anon, Version: 0}, got["anon-1"])
	assert.Equal(t, DistinctIDRow{Team: "1", DistinctID: "user-1", PersonID: anon, Version: 1}, got["user-1"])

	bill := h.readAll(h.cfg.Topics.Billing)
	counts := map[string]int64{}
	for _, r := range bill {
		var d struct {
			Class string `json:"class"`
			Count int64  `json:"count"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &d))
		counts[d.Class] += d.Count
	}
	assert.Equal(t, map[string]int64{"anonymous": 1, "identified": 2}, counts, fmt.Sprint(counts))
}

// TestStampBudget: a batch whose stamped events outgrow stampBudget — one
// person's properties copied into each of its events — is stamped in part
// as it is produced, into arenas reused once their records are
// acknowledged, and comes out the same: every event once, in input order,
// stamped with the properties.
func TestStampBudget(t *testing.T) {
	defer func(b int64) { stampBudget = b }(stampBudget)
	stampBudget = 16 << 10

	h := newHarness(t)
	dir := t.TempDir()
	ts := func(s int) string {
		return time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC).Add(time.Duration(s) * time.Second).Format(time.RFC3339)
	}
	props := `{"bio":"` + strings.Repeat("x", 2000) + `"}`
	ev := func(n int, name string, p string) *kgo.Record {
		return &kgo.Record{Key: []byte("1:k"), Value: fmt.Appendf(nil, `{"uuid":"00000000-0000-4000-8000-%012d","event":%q,"distinct_id":"big","team_id":1,"timestamp":%q,"properties":%s}`, n, name, ts(n), p)}
	}
	in := h.start(dir)
	h.produce([]*kgo.Record{ev(0, "$set", `{"$set":`+props+`}`)})
	h.readCommitted(1, 60*time.Second, h.cfg.Topics.Person)
	in.stop(t)

	const n = 300 // one poll (MaxBatchRecords 500): ~650 KB stamped, 40 budgets
	var batch []*kgo.Record
	for i := 1; i <= n; i++ {
		batch = append(batch, ev(i, "$pageview", `{}`))
	}
	h.produce(batch)
	in = h.start(dir)
	defer in.stop(t)
	out := h.readCommitted(1+n, 60*time.Second, h.cfg.Topics.Person)[h.cfg.Topics.Person]
	require.Len(t, out, 1+n)
	for i, r := range out[1:] {
		s := decodeStamped(t, r)
		require.Equal(t, fmt.Sprintf("00000000-0000-4000-8000-%012d", i+1), s.UUID, "input order")
		require.JSONEq(t, props, string(s.PersonProps), "event %d", i+1)
	}
	assert.Positive(t, in.p.stats.StampWaits.Load(), "the batch passed the budget and reused its arenas")
}
