package state_test

import (
	"encoding/json"
	"fmt"
	"os"

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
