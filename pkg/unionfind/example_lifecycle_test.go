package unionfind_test

import (
	"encoding/json"
	"fmt"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// A person's lifecycle (docs/SEMANTICS.md §8): a shared device's id
// "tablet" was merged into alice's person; a split moves it into a new
// person of its own (a copy of the properties, and refs to the same data
// keys); deleting alice's person then erases nothing the split copy still
// depends on, and deleting the copy erases the keys. Each op yields its
// lineage row. The ops' values are sealed (Op.Sealed, Op.Gen): the applier
// has opened them before Apply.
func ExampleGraph_Apply_lifecycle() {
	st := state.NewMemory()
	defer st.Close()
	var g unionfind.Graph
	ops := []unionfind.Op{
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "alice", Timestamp: 1_000, Sealed: true,
			Set: []unionfind.KV{{Key: "email", Value: json.RawMessage(`"a@x.org"`)}}},
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "alice", Timestamp: 2_000,
			Merge: &unionfind.Merge{Other: "tablet", Guarded: true, Rule: unionfind.RuleIdentify}},
		{Kind: unionfind.OpSplit, Team: "1", DistinctID: "tablet"},
		{Kind: unionfind.OpDeletePerson, Team: "1", DistinctID: "alice"},
		{Kind: unionfind.OpDeletePerson, Team: "1", DistinctID: "tablet"},
		{Kind: unionfind.OpDeletePerson, Team: "1", DistinctID: "tablet"},
	}
	for i := range ops {
		ops[i].Log = unionfind.LogPos{Offset: int64(i)} // the applier sets it
		err := st.Update(func(tx state.Tx) error {
			res, err := g.Apply(tx, &ops[i])
			if err != nil {
				return err
			}
			for _, m := range res.Merges {
				fmt.Printf("offset %d: %s moved %v refused %q\n", i, m.Rule, m.Moved, m.Refused)
			}
			for _, k := range res.Erased {
				fmt.Printf("offset %d: erased key (%s, %d)\n", i, k.DistinctID, k.Gen)
			}
			return nil
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	p, _, _ := st.Find("1", "alice")
	fmt.Println("alice's person is implicit again:", p.ID == unionfind.ImplicitPersonID("1", "alice"))
	// Output:
	// offset 1: identify moved [tablet] refused ""
	// offset 2: split moved [tablet] refused ""
	// offset 3: delete moved [alice] refused ""
	// offset 4: delete moved [tablet] refused ""
	// offset 4: erased key (alice, 0)
	// offset 5: delete moved [] refused "unknown_distinct_id"
	// alice's person is implicit again: true
}
