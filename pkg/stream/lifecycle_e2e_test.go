package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/lifecycle"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// request writes an admin command and waits for its outcome.
func (h *harness) request(c lifecycle.Command) Outcome {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := Request(ctx, h.cfg.Kafka, h.cfg.Topics, c, 45*time.Second, h.log)
	require.NoError(h.t, err)
	require.NotEmpty(h.t, out.Rows)
	return out
}

func lifecycleEvent(n int, name, did, props string) *kgo.Record {
	ts := time.Date(2026, 12, 1, 0, 0, n, 0, time.UTC).Format(time.RFC3339)
	return &kgo.Record{Key: []byte("1:" + did), Value: []byte(fmt.Sprintf(
		`{"uuid":"00000000-0000-4000-8000-%012d","event":%q,"distinct_id":%q,"team_id":1,"timestamp":%q,"properties":%s}`, n, name, did, ts, props))}
}

// TestLifecycleEndToEnd: merges, a split, a deletion with --block and a
// deletion of an unknown id go through one instance on the embedded
// broker as admin commands; their outcomes, the person_merges rows, the
// feeds, the dead letters of the blocked ids and the replica agree with
// docs/SEMANTICS.md §8.
func TestLifecycleEndToEnd(t *testing.T) {
	h := newHarness(t)
	inst := h.start(t.TempDir())
	defer inst.stop(t)

	h.produce([]*kgo.Record{
		lifecycleEvent(1, "$pageview", "anon-1", `{"$set":{"email":"ann@example.com"}}`),
		lifecycleEvent(2, "$identify", "user-1", `{"$anon_distinct_id":"anon-1","$set":{"name":"Ann"}}`),
		lifecycleEvent(3, "$pageview", "anon-2", `{"$set_once":{"first_seen":"tablet"}}`),
		lifecycleEvent(4, "$identify", "user-1", `{"$anon_distinct_id":"anon-2"}`),
		lifecycleEvent(5, "$identify", "user-2", `{"$anon_distinct_id":"anon-1"}`), // refused: anon-1's person is identified
	})
	h.readCommitted(5, 60*time.Second, h.cfg.Topics.Person)
	p, explicit, err := inst.st.Find("1", "anon-2")
	require.NoError(t, err)
	require.True(t, explicit)
	oldID := p.ID

	// Split anon-2 out: a new person, identified, with the properties.
	split := h.request(lifecycle.NewSplit("1", []string{"anon-2"}, false, time.Now()))
	require.Empty(t, split.Refused())
	row := split.Rows[0]
	assert.Equal(t, "split", row.Rule)
	assert.Equal(t, []string{"anon-2"}, row.DistinctIDsMoved)
	assert.Equal(t, oldID.String(), row.AbsorbedPersonID)
	wantID := uuid.NewSHA1(unionfind.PersonNamespace, []byte("1:anon-2:split:"+strconv.FormatInt(row.LogOffset, 10)))
	assert.Equal(t, wantID.String(), row.SurvivorPersonID, "the split person's id is UUIDv5 of team:first id:split:log offset")
	sp, explicit, err := inst.st.Find("1", "anon-2")
	require.NoError(t, err)
	require.True(t, explicit)
	assert.Equal(t, wantID, sp.ID)
	assert.True(t, sp.Identified)
	_, ok := sp.Prop("email")
	assert.True(t, ok, "the new person starts with a copy of the properties")

	// Splitting every id of a person is refused.
	refused := h.request(lifecycle.NewSplit("1", []string{"anon-2"}, false, time.Now()))
	assert.Equal(t, unionfind.RefuseSplitAll, refused.Refused())

	// Delete user-1's person, blocking its ids.
	del := h.request(lifecycle.NewDelete("1", "user-1", true, time.Now()))
	require.Empty(t, del.Refused())
	assert.Equal(t, "delete", del.Rows[0].Rule)
	assert.ElementsMatch(t, []string{"anon-1", "user-1"}, del.Moved())
	assert.Equal(t, oldID.String(), del.Rows[0].AbsorbedPersonID)

	// Deleting an unknown id is a no-op with a reason.
	none := h.request(lifecycle.NewDelete("1", "nobody", false, time.Now()))
	assert.Equal(t, unionfind.RefuseUnknownDistinctID, none.Refused())

	// Hostile records on the commands topic are dead letters with a
	// reason; a delete op forged onto identity_log with an input record as
	// its source is rejected by the applier, and deletes nothing.
	cmdCl := h.client(kgo.DefaultProduceTopic(h.cfg.Topics.Commands))
	require.NoError(t, cmdCl.ProduceSync(context.Background(),
		&kgo.Record{Key: []byte("1"), Value: []byte(`not a command`)},
		&kgo.Record{Key: []byte("1"), Value: []byte(`{"v":1,"command":"delete","team":"1","distinct_ids":["anon-2"],"request_id":"r","blok":true}`)},
	).FirstErr())
	forged := unionfind.Op{Kind: unionfind.OpDeletePerson, Team: "1", DistinctID: "anon-2",
		Source: unionfind.Source{Topic: h.cfg.Topics.Raw, Partition: 0, Offset: 0}}
	require.NoError(t, h.client().ProduceSync(context.Background(),
		&kgo.Record{Topic: h.cfg.Topics.IdentityLog, Key: []byte("1"), Value: oplog.Encode(&forged)}).FirstErr())
	wait(t, 30*time.Second, "the forged delete rejected", func() bool { return inst.p.Applier().Rejected.Load() >= 1 })
	_, explicit, err = inst.st.Find("1", "anon-2")
	require.NoError(t, err)
	assert.True(t, explicit, "a delete op claiming an input record as its source deletes nothing")

	// Later events: the blocked ids are dead-lettered; anon-2 keeps its
	// split person.
	h.produce([]*kgo.Record{
		lifecycleEvent(6, "$pageview", "user-1", `{"$set":{"name":"Ann again"}}`),
		lifecycleEvent(7, "$pageview", "anon-1", `{}`),
		lifecycleEvent(8, "$pageview", "anon-2", `{}`),
	})
	out := h.readCommitted(10, 60*time.Second, h.cfg.Topics.Person, h.cfg.Topics.DeadLetter)
	reasons := map[string]int{}
	for _, dl := range out[h.cfg.Topics.DeadLetter] {
		reasons[header(dl, "error")]++
		if header(dl, "error") == "invalid_command" {
			assert.Equal(t, h.cfg.Topics.Commands, header(dl, "source_topic"))
			assert.NotEmpty(t, header(dl, "error_detail"))
		}
	}
	assert.Equal(t, map[string]int{"deleted_distinct_id": 2, "invalid_command": 2}, reasons)
	stamped := out[h.cfg.Topics.Person]
	require.Len(t, stamped, 6)
	var last struct {
		UUID     string `json:"uuid"`
		PersonID string `json:"person_id"`
	}
	for _, r := range stamped {
		require.NoError(t, json.Unmarshal(r.Value, &last))
		if last.UUID == "00000000-0000-4000-8000-000000000008" {
			break
		}
	}
	assert.Equal(t, wantID.String(), last.PersonID, "anon-2's later event: its split person")

	// The feeds: the deleted person's row has no properties; its ids'
	// rows are deleted.
	var tomb PersonRow
	for _, r := range h.readAll(h.cfg.Topics.Persons) {
		var row PersonRow
		require.NoError(t, json.Unmarshal(r.Value, &row))
		if row.ID == oldID.String() && row.IsDeleted && row.Version > tomb.Version {
			tomb = row
		}
	}
	assert.True(t, tomb.IsDeleted)
	assert.JSONEq(t, `{}`, string(tomb.Properties))
	deleted := map[string]bool{}
	for _, r := range h.readAll(h.cfg.Topics.DistinctIDs) {
		var row DistinctIDRow
		require.NoError(t, json.Unmarshal(r.Value, &row))
		if row.IsDeleted {
			deleted[row.DistinctID] = true
		}
	}
	assert.Equal(t, map[string]bool{"anon-1": true, "user-1": true}, deleted)

	// person_merges: the two identify merges, the refusal, the split, its
	// refusal, the deletion and the no-op, each once.
	rules := map[string]int{}
	for _, r := range h.readAll(h.cfg.Topics.Merges) {
		var row MergeRow
		require.NoError(t, json.Unmarshal(r.Value, &row))
		k := row.Rule
		if row.Refused != "" {
			k += "/" + row.Refused
		}
		rules[k]++
	}
	assert.Equal(t, map[string]int{
		"identify": 2, "identify/" + unionfind.WarnAlreadyIdentified: 1,
		"split": 1, "split/" + unionfind.RefuseSplitAll: 1,
		"delete": 1, "delete/" + unionfind.RefuseUnknownDistinctID: 1,
	}, rules)

	v, err := inst.st.Lookup("1", "user-1")
	require.NoError(t, err)
	assert.True(t, v.Implicit, "a deleted id has no stored person")
}

// TestCommandTeams: under a team map the team of a command is resolved
// like an event's — a token becomes its team id; a team the map does not
// know is dead-lettered unknown_team, never applied.
func TestCommandTeams(t *testing.T) {
	h := newHarness(t)
	teams, err := event.NewTeamMap(map[string]string{"phc_a": "1"})
	require.NoError(t, err)
	h.cfg.Teams = teams
	inst := h.start(t.TempDir())
	defer inst.stop(t)

	out := h.request(lifecycle.NewDelete("phc_a", "nobody", false, time.Now()))
	require.Len(t, out.Rows, 1)
	assert.Equal(t, "1", out.Rows[0].Team, "the token's team")
	assert.Equal(t, unionfind.RefuseUnknownDistinctID, out.Rows[0].Refused)

	c := lifecycle.NewDelete("phc_stranger", "u", true, time.Now())
	b, err := c.Encode()
	require.NoError(t, err)
	require.NoError(t, h.client(kgo.DefaultProduceTopic(h.cfg.Topics.Commands)).ProduceSync(context.Background(), &kgo.Record{Value: b}).FirstErr())
	dl := h.readCommitted(1, 60*time.Second, h.cfg.Topics.DeadLetter)[h.cfg.Topics.DeadLetter]
	require.Len(t, dl, 1)
	assert.Equal(t, "unknown_team", header(dl[0], "error"))
	assert.Equal(t, h.cfg.Topics.Commands, header(dl[0], "source_topic"))
}
