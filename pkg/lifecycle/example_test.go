package lifecycle_test

import (
	"fmt"
	"time"

	"github.com/resolver-dev/resolver/pkg/lifecycle"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

func ExampleDecode() {
	c, err := lifecycle.Decode([]byte(`{"v":1,"command":"delete","team":"42","distinct_ids":["user-1"],"block":true,"request_id":"r-1"}`))
	if err != nil {
		panic(err)
	}
	op := c.Op(unionfind.Source{Topic: "identity_commands", Partition: 0, Offset: 3}, time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC).UnixMilli())
	fmt.Println(op.Kind, op.Team, op.DistinctID, op.Block, op.EventUUID)

	_, err = lifecycle.Decode([]byte(`{"v":1,"command":"delete","team":"42","distinct_ids":["a","b"],"request_id":"r-2"}`))
	fmt.Println(err)
	// Output:
	// delete_person 42 user-1 true r-1
	// invalid command: delete names exactly one distinct_id, not 2
}

func ExampleNewSplit() {
	c := lifecycle.NewSplit("42", []string{"anon-1", "anon-2"}, false, time.Now())
	b, _ := c.Encode()
	back, _ := lifecycle.Decode(b)
	fmt.Println(back.Command, back.DistinctIDs)
	// Output: split [anon-1 anon-2]
}
