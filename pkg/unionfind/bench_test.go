package unionfind_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// BenchmarkApplySet applies a $set of one key to a person that holds n
// properties, in an in-memory store: the cost the size cap adds per op is
// measuring the person once (PropertiesJSONSize over its keys).
func BenchmarkApplySet(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint(n, "-props"), func(b *testing.B) {
			mem := state.NewMemory()
			defer mem.Close()
			g := &unionfind.Graph{}
			var set []unionfind.KV
			for i := range n {
				set = append(set, unionfind.KV{Key: fmt.Sprintf("key-%05d", i), Value: json.RawMessage(`"value"`)})
			}
			op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 1, Set: set}
			if err := mem.Update(func(tx state.Tx) error { _, err := g.Apply(tx, &op); return err }); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			i := 0
			err := mem.Update(func(tx state.Tx) error {
				for b.Loop() {
					i++
					op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: int64(1 + i),
						Set: []unionfind.KV{{Key: "key-00000", Value: json.RawMessage(fmt.Sprint(i))}}}
					if _, err := g.Apply(tx, &op); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
}
