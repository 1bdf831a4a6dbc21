package unionfind_test

import (
	"encoding/json"
	"fmt"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// A visitor browses anonymously, then logs in: the $identify op merges the
// anonymous id into the user's person (docs/SEMANTICS.md §4), and both ids
// now find the same, identified person with the visitor's property. The
// person keeps the anonymous id's (implicit) person id; user-42's row has
// version 1 because its events so far were stamped with its own implicit
// person (docs/SEMANTICS.md §6). Any unionfind.Store works; package state's
// in-memory store is used here.
func ExampleGraph_Apply() {
	st := state.NewMemory()
	defer st.Close()
	var g unionfind.Graph
	ops := []unionfind.Op{{
		Kind: unionfind.OpEvent, Team: "1", DistinctID: "anon-1", EventUUID: "e1", Timestamp: 1_000,
		Source: unionfind.Source{Topic: "events_raw", Offset: 1},
		Set:    []unionfind.KV{{Key: "plan", Value: json.RawMessage(`"free"`)}},
	}, {
		Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-42", EventUUID: "e2", Timestamp: 2_000,
		Source: unionfind.Source{Topic: "events_raw", Offset: 2},
		Merge:  &unionfind.Merge{Other: "anon-1", Guarded: true}, // $identify
	}}
	err := st.Update(func(tx state.Tx) error {
		for i := range ops {
			res, err := g.Apply(tx, &ops[i])
			if err != nil {
				return err
			}
			for _, r := range res.DistinctIDs {
				fmt.Printf("op %d: %s -> person %s, version %d\n", i+1, r.DistinctID, r.PersonID, r.Version)
			}
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range []string{"anon-1", "user-42"} {
		p, explicit, _ := st.Find("1", id)
		fmt.Println(id, p.ID, explicit, p.Identified, string(p.AppendPropertiesJSON(nil)))
	}
	// Output:
	// op 1: anon-1 -> person cfa956a0-5af4-51c6-9ef5-cb3c80e09b69, version 0
	// op 2: user-42 -> person cfa956a0-5af4-51c6-9ef5-cb3c80e09b69, version 1
	// anon-1 cfa956a0-5af4-51c6-9ef5-cb3c80e09b69 true true {"plan":"free"}
	// user-42 cfa956a0-5af4-51c6-9ef5-cb3c80e09b69 true true {"plan":"free"}
}

// A guarded merge ($identify, $create_alias) never absorbs an identified
// person: the op is applied without its merge and raises a warning.
func ExampleGraph_Apply_refused() {
	st := state.NewMemory()
	defer st.Close()
	var g unionfind.Graph
	identify := func(did, other string, offset int64) unionfind.Op {
		return unionfind.Op{
			Kind: unionfind.OpEvent, Team: "1", DistinctID: did, EventUUID: fmt.Sprint("e", offset), Timestamp: offset * 1_000,
			Source: unionfind.Source{Topic: "events_raw", Offset: offset},
			Merge:  &unionfind.Merge{Other: other, Guarded: true},
		}
	}
	ops := []unionfind.Op{
		identify("alice", "laptop-anon", 1), // alice logs in on a shared laptop
		identify("bob", "phone-anon", 2),    // bob on his phone
		identify("bob", "alice", 3),         // bob on the laptop: would merge alice into bob
	}
	_ = st.Update(func(tx state.Tx) error {
		for i := range ops {
			res, err := g.Apply(tx, &ops[i])
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Println(w.Type, w.Details)
			}
		}
		return nil
	})
	a, _, _ := st.Find("1", "alice")
	b, _, _ := st.Find("1", "bob")
	fmt.Println("same person:", a.ID == b.ID)
	// Output:
	// cannot_merge_already_identified {"other":"alice","into":"bob"}
	// same person: false
}

// An id no identity event has claimed has an implicit person, derived from
// the team and the id (docs/SEMANTICS.md §3): every replica, and the
// ClickHouse schema, compute the same UUIDv5.
func ExampleImplicitPersonID() {
	fmt.Println(unionfind.ImplicitPersonID("1", "anon-1"))
	fmt.Println(unionfind.ImplicitPersonID("2", "anon-1"))
	// Output:
	// cfa956a0-5af4-51c6-9ef5-cb3c80e09b69
	// 21085864-97d0-5278-8829-a8b3a9377c9f
}
