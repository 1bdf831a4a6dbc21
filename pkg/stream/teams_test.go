package stream

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/event"
)

// TestPipelineTeamsAndPropertyCap runs the input rules of issue 11 through
// a real pipeline on the embedded broker: the team map of Config.Teams
// (reloaded while it runs), invalid_team for a 70 kB token (item 1: it
// became a Badger key and stopped every replica), envelope token authority
// (item 3), and Config.MaxPersonPropertiesBytes reaching the applier's
// graph.
func TestPipelineTeamsAndPropertyCap(t *testing.T) {
	h := newHarness(t)
	teams, err := event.NewTeamMap(map[string]string{"phc_a": "1", "phc_victim": "9"})
	require.NoError(t, err)
	h.cfg.Teams = teams
	h.cfg.MaxPersonPropertiesBytes = 100
	in := h.start(t.TempDir())
	defer in.stop(t)

	envelope := func(token, data string) string {
		b, _ := json.Marshal(data)
		return `{"token":"` + token + `","distinct_id":"env-user","data":` + string(b) + `}`
	}
	evs := []string{
		`{"event":"e","distinct_id":"u","token":"phc_a","properties":{"$set":{"big":"` + strings.Repeat("x", 200) + `","plan":"free"}}}`,
		`{"event":"e","distinct_id":"u","token":"phc_unknown"}`,
		`{"event":"e","distinct_id":"u","token":"` + strings.Repeat("T", 70_000) + `"}`,
		envelope("phc_a", `{"event":"$identify","team_id":"phc_victim","token":"phc_victim","properties":{"token":"phc_victim","$anon_distinct_id":"victim"}}`),
	}
	var recs []*kgo.Record
	for _, e := range evs {
		recs = append(recs, &kgo.Record{Key: []byte("k"), Value: []byte(e)})
	}
	h.produce(recs)
	out := h.readCommitted(len(evs), 60*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	require.Len(t, out[h.cfg.Topics.Person], 2)
	require.Len(t, out[h.cfg.Topics.DeadLetter], 2)
	// Stamped events are keyed team:distinct_id, so they may be on different
	// partitions: find them by distinct_id.
	byDID := func(recs []*kgo.Record) map[string][]stamped {
		m := map[string][]stamped{}
		for _, r := range recs {
			s := decodeStamped(t, r)
			m[s.DistinctID] = append(m[s.DistinctID], s)
		}
		return m
	}
	got := byDID(out[h.cfg.Topics.Person])
	require.Len(t, got["u"], 1)
	require.Len(t, got["env-user"], 1)
	s0, s1 := got["u"][0], got["env-user"][0]
	assert.Equal(t, "1", s0.Team, "phc_a is team 1")
	assert.JSONEq(t, `{"plan":"free"}`, string(s0.PersonProps), "big does not fit in 100 bytes")
	assert.Equal(t, "1", s1.Team, "the envelope's token decides, not data")
	assert.Equal(t, "env-user", s1.DistinctID)
	dl := out[h.cfg.Topics.DeadLetter]
	assert.Equal(t, "unknown_team", header(dl[0], "error"))
	assert.Equal(t, "invalid_team", header(dl[1], "error"))
	assert.Len(t, dl[1].Value, len(evs[2]), "original bytes")

	var sizeWarnings []string
	for _, r := range h.readAll(h.cfg.Topics.Warnings) {
		var w struct{ Type, Details string }
		require.NoError(t, json.Unmarshal(r.Value, &w))
		if w.Type == "person_properties_size_violation" {
			sizeWarnings = append(sizeWarnings, w.Details)
		}
	}
	assert.Equal(t, []string{`{"dropped_keys":1,"max_person_properties_bytes":100}`}, sizeWarnings)

	// A reload reaches the running decoder.
	require.NoError(t, teams.Replace(map[string]string{"phc_a": "1", "phc_unknown": "2"}))
	h.produce([]*kgo.Record{{Key: []byte("k"), Value: []byte(evs[1])}})
	out = h.readCommitted(len(evs)+1, 60*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	require.Len(t, out[h.cfg.Topics.Person], 3)
	got = byDID(out[h.cfg.Topics.Person])
	require.Len(t, got["u"], 2)
	assert.ElementsMatch(t, []string{"1", "2"}, []string{got["u"][0].Team, got["u"][1].Team}, "phc_unknown is team 2 after the reload")
}
