package bench

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestPreload: the preloaded replica answers lookups of every preloaded id
// with its person (identified people with all their ids and properties,
// anonymous ones explicit of size 1), never-seen ids with their implicit
// person; a second load into it is refused; and the tail events decode to
// personless events of those ids in the teams the preload used.
func TestPreload(t *testing.T) {
	cfg := gen.DefaultConfig()
	cfg.Seed = 3
	set := newPreloadSet(cfg, 20_000)
	if set.ids < 20_000 || set.ids > 20_004 {
		t.Fatalf("%d ids for 20000 asked", set.ids)
	}
	dir := t.TempDir()
	ps, err := preload(t.Context(), dir, set, state.Options{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ps.IDs != set.ids || ps.Persons != int64(set.persons) || ps.Identified == 0 || ps.Identified == ps.Persons {
		t.Fatalf("stats %+v", ps)
	}
	// d/ per id, m/ per id but each person's founder (kept in its p/
	// value), p/ per person.
	if want := 2 * set.ids; ps.Records != want {
		t.Fatalf("%d records written, want %d", ps.Records, want)
	}
	if ps.DiskBytes <= 0 || ps.SSTBytes <= 0 || ps.BytesPerID() > 1000 {
		t.Fatalf("sizes %+v", ps)
	}
	// A cancelled preload stops (SIGINT during a 10M-id preload must not
	// be ignored for minutes).
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := preload(ctx, t.TempDir(), set, state.Options{}, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled preload: %v", err)
	}
	t.Logf("%d ids, %d people: %.1f B/id on disk, tables %.1f B/id", ps.IDs, ps.Persons, ps.BytesPerID(), float64(ps.SSTBytes)/float64(ps.IDs))

	st, err := state.Open(dir, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fp, err := st.Fingerprint()
	if err != nil {
		t.Fatal(err) // every record decodes
	}
	if fp == "" {
		t.Fatal("empty fingerprint")
	}
	var ids int64
	for j := range set.persons {
		team := set.team(j)
		want := set.person(j)
		err := set.eachID(j, func(_ int, did string) error {
			ids++
			p, explicit, err := st.Find(team, did)
			if err != nil {
				return err
			}
			if !explicit || p.ID != want.ID || p.Size != uint64(set.size(j)) || p.Identified != set.identified(j) || len(p.Props) != len(want.Props) {
				t.Fatalf("person %d id %q: got %+v explicit %v, want %+v", j, did, p, explicit, want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if ids != set.ids {
		t.Fatalf("%d ids looked up, want %d", ids, set.ids)
	}
	// Members, the founder (in the person's value) among them.
	err = st.View(func(tx state.Tx) error {
		for j := range 200 {
			var want, got []string
			_ = set.eachID(j, func(_ int, did string) error { want = append(want, did); return nil })
			slices.Sort(want)
			err := tx.Members(set.team(j), set.person(j).ID, func(d string) error { got = append(got, d); return nil })
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				t.Fatalf("person %d: members %q, want %q", j, got, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p, explicit, err := st.Find(set.team(0), "never-seen")
	if err != nil || explicit || p.ID != unionfind.ImplicitPersonID(set.team(0), "never-seen") {
		t.Fatalf("never-seen id: %+v %v %v", p, explicit, err)
	}
	err = st.BulkLoad(func(*state.BulkLoader) error { return nil })
	if err == nil {
		t.Fatal("a bulk load into a loaded store was accepted")
	}

	dec := event.NewDecoder(event.Options{})
	at := cfg.Start.UnixMilli()
	for i := range 200 {
		r := set.tail(i, at, 500)
		if len(r.Value) != 500 {
			t.Fatalf("tail event of %d bytes, padded to 500: %s", len(r.Value), r.Value)
		}
		ev, err := dec.Decode(r.Value, event.Source{Topic: "raw", Timestamp: time.UnixMilli(at)})
		if err != nil {
			t.Fatalf("tail event %s: %v", r.Value, err)
		}
		if ev.Team != r.Team || ev.DistinctID != r.DistinctID || ev.Mode != event.Personless || ev.UUID.String() != r.UUID {
			t.Fatalf("tail event %s decoded as team %q id %q mode %v uuid %q", r.Value, ev.Team, ev.DistinctID, ev.Mode, ev.UUID)
		}
		if _, explicit, err := st.Find(ev.Team, ev.DistinctID); err != nil || !explicit {
			t.Fatalf("tail id %q of team %q is not preloaded: %v", ev.DistinctID, ev.Team, err)
		}
		ev.Release()
	}
}

// TestPreloadPlan: a plan with a tail has about tailShare tail records, and
// its records are the same however the stream is cut.
func TestPreloadPlan(t *testing.T) {
	cfg := gen.DefaultConfig()
	cfg.PadBytes = 0
	set := newPreloadSet(cfg, 1000)
	p, err := newPlan(cfg, 100, 5000, 100, set, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	if n := p.byKind[KindPreloaded]; n < 850 || n > 1150 {
		t.Fatalf("%d tail records of 5000 at share 0.2", n)
	}
	all := p.records(0, 5200)
	var whole []gen.Record
	for r, ok := all(); ok; r, ok = all() {
		whole = append(whole, r)
	}
	if len(whole) != 5200 {
		t.Fatalf("%d records, want 5200", len(whole))
	}
	part := p.records(100, 5100)
	for i := 100; i < 5100; i++ {
		r, ok := part()
		if !ok || string(r.Value) != string(whole[i].Value) {
			t.Fatalf("record %d differs when the stream starts at 100", i)
		}
	}
}
