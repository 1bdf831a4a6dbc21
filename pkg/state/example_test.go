package state_test

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// A replica on disk: one transaction applies an op and records how far
// identity_log has been applied; after a restart the offsets and the person
// are still there, and Lookup shows the person as `resolver lookup` does.
func Example() {
	dir, err := os.MkdirTemp("", "state-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	st, err := state.Open(dir, state.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var g unionfind.Graph
	op := unionfind.Op{
		Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-42", EventUUID: "e1",
		Timestamp: 1_795_857_400_000, // 2026-11-28T09:16:40Z
		Source:    unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 7},
		Set:       []unionfind.KV{{Key: "plan", Value: json.RawMessage(`"pro"`)}},
	}
	err = st.Update(func(tx state.Tx) error {
		if _, err := g.Apply(tx, &op); err != nil {
			return err
		}
		return tx.SetApplied(0, 1) // identity_log partition 0: next offset 1
	})
	if err == nil {
		err = st.Close()
	}
	if err != nil {
		fmt.Println(err)
		return
	}

	st, err = state.Open(dir, state.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	applied, _ := st.AppliedOffsets()
	fmt.Println("applied:", applied)
	v, err := st.Lookup("1", "user-42")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	fmt.Println(string(out))
	// Output:
	// applied: map[0:1]
	// {
	//   "team": "1",
	//   "distinct_id": "user-42",
	//   "person_id": "0edbe633-4945-57ce-a6c1-e50437118c96",
	//   "implicit": false,
	//   "created_at": "2026-11-28T09:16:40.000Z",
	//   "is_identified": false,
	//   "version": 0,
	//   "distinct_ids": [
	//     {
	//       "distinct_id": "user-42",
	//       "version": 0
	//     }
	//   ],
	//   "properties": {
	//     "plan": {
	//       "value": "pro",
	//       "time": "2026-11-28T09:16:40.000Z"
	//     }
	//   }
	// }
}

// Memory is the same Store without Badger, for tests and tools: an id no
// op has touched finds its implicit person.
func ExampleNewMemory() {
	st := state.NewMemory()
	defer st.Close()
	p, explicit, err := st.Find("1", "anon-1")
	fmt.Println(p.ID, explicit, err)
	// Output:
	// cfa956a0-5af4-51c6-9ef5-cb3c80e09b69 false <nil>
}

// The applier stores each lineage row of an op with Tx.PutLineage in the
// transaction that applies it; Lineage, Path and AsOf read them back.
// Here, after a first event of "user-42", an $identify moved the implicit
// person of "anon-1" into the person of "user-42" at identity_log offset 12.
func ExampleStore_Lineage() {
	st := state.NewMemory()
	defer st.Close()
	var g unionfind.Graph
	user := unionfind.ImplicitPersonID("1", "user-42")
	op := unionfind.Op{
		Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-42", EventUUID: "e1",
		Timestamp: 1_795_857_400_000,
		Source:    unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 7},
		Merge:     &unionfind.Merge{Other: "anon-1", Guarded: true, Rule: unionfind.RuleIdentify},
		Log:       unionfind.LogPos{Partition: 0, Offset: 12, Time: 1_795_857_401_000},
	}
	first := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-42", EventUUID: "e0",
		Timestamp: 1_795_857_300_000, Log: unionfind.LogPos{Offset: 11}}
	err := st.Update(func(tx state.Tx) error {
		if _, err := g.Apply(tx, &first); err != nil { // not a merge: no lineage row
			return err
		}
		if _, err := g.Apply(tx, &op); err != nil {
			return err
		}
		return tx.PutLineage(unionfind.MergeRow{
			Team: "1", Survivor: user, Absorbed: unionfind.ImplicitPersonID("1", "anon-1"),
			Moved: []string{"anon-1"}, Rule: unionfind.RuleIdentify, Other: "anon-1", Into: "user-42",
			EventUUID: op.EventUUID, Timestamp: op.Timestamp, Source: op.Source, Log: op.Log,
		})
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := st.Lineage("1", "anon-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	m := v.Moves[0]
	fmt.Println(m.Rule, m.EventUUID, m.LogTime, m.DistinctIDsMoved, m.SurvivorPersonID == user.String())

	before, _ := st.AsOf("1", "anon-1", time.UnixMilli(1_795_857_400_999))
	after, _ := st.AsOf("1", "anon-1", time.UnixMilli(1_795_857_401_000))
	fmt.Println(before.Basis, before.ImplicitID, after.Basis, after.PersonID == user.String())

	p, err := st.Path("1", "anon-1", "user-42")
	if err != nil || p.Joined == nil {
		fmt.Println("no joining step", err)
		return
	}
	fmt.Println(p.SamePerson, p.Joined.Rule)
	// Output:
	// identify e1 2026-11-28T09:16:41.000Z [anon-1] true
	// before_next true moved true
	// true identify
}
