package stream

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/internal/warehouse"
)

// TestWarehouseCurrentPerson exercises the warehouse schema's rule
// (configs/clickhouse/06_events_with_current_person.sql, modelled by
// warehouse.Tables): a generated stream with merges goes through one
// instance; the persons and person_distinct_ids topics are folded by
// version as ReplacingMergeTree does; and for every stamped event the
// current person by the view's rule is the resolver's own lookup
// (state.Store.Find) of the event's team and distinct_id. Some events must
// have been stamped with a person their id later left, so that the rule
// is tested on overrides, not only on ids that never moved.
func TestWarehouseCurrentPerson(t *testing.T) {
	h := newHarness(t)
	cfg := gen.DefaultConfig()
	cfg.Seed = 5
	cfg.Users = 60
	cfg.CrossDeviceShare = 0.5 // second devices: their anonymous ids move to an explicit person
	cfg.PadBytes = 0
	recs, in := mixedStream(t, cfg)

	inst := h.start(t.TempDir())
	defer inst.stop(t)
	h.produce(recs)
	out := h.collect(t, in)

	var w warehouse.Tables
	for _, r := range h.readAll(h.cfg.Topics.Persons) {
		var p warehouse.Person
		require.NoError(t, json.Unmarshal(r.Value, &p), "%s", r.Value)
		w.InsertPerson(p)
	}
	for _, r := range h.readAll(h.cfg.Topics.DistinctIDs) {
		var d warehouse.DistinctID
		require.NoError(t, json.Unmarshal(r.Value, &d), "%s", r.Value)
		w.InsertDistinctID(d)
	}
	events := h.readAll(h.cfg.Topics.Person)
	require.Len(t, events, len(out.stamped))

	var overridden, withRow, withoutRow int
	for _, r := range events {
		var e warehouse.Event
		require.NoError(t, json.Unmarshal(r.Value, &e), "%s", r.Value)
		cur := w.CurrentPersonID(e)
		p, explicit, err := inst.st.Find(e.Team, e.DistinctID)
		require.NoError(t, err)
		if !assert.Equal(t, p.ID.String(), cur, "event %s of %s/%s, stamped with %s", e.UUID, e.Team, e.DistinctID, e.PersonID) {
			continue
		}
		if cur != e.PersonID {
			overridden++
		}
		if _, ok := w.DistinctID(e.Team, e.DistinctID); ok {
			withRow++
		} else {
			withoutRow++
		}
		if explicit {
			row, ok := w.Person(e.Team, cur)
			if assert.True(t, ok, "current person %s of %s has a persons row", cur, e.DistinctID) {
				assert.False(t, row.IsDeleted, "current person %s of %s is live", cur, e.DistinctID)
			}
		}
	}
	persons, dids := w.Len()
	t.Logf("%d events: %d now with another person than stamped, %d with a distinct-id row, %d without; %d persons, %d distinct ids folded",
		len(events), overridden, withRow, withoutRow, persons, dids)
	assert.NotZero(t, overridden, "the stream moves ids after their events were stamped")
	assert.NotZero(t, withoutRow, "some ids never get a row (personless, never claimed)")
}
