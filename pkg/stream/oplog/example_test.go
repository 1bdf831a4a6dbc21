package oplog_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// An op round-trips through its identity_log record; a record of a later
// version is told apart from one that is not an op at all, so that a
// reader can wait for an upgrade instead of skipping it.
func Example() {
	op := unionfind.Op{
		Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-42", EventUUID: "e2", Timestamp: 2_000,
		Source: unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 7},
		Merge:  &unionfind.Merge{Other: "anon-1", Guarded: true},
		Set:    []unionfind.KV{{Key: "plan", Value: json.RawMessage(`"pro"`)}},
	}
	rec := oplog.Encode(&op)
	back, err := oplog.Decode(rec)
	fmt.Println(len(rec), "bytes", err)
	fmt.Println(back.DistinctID, back.Merge.Other, back.Source.Offset, back.Set[0].Key, string(back.Set[0].Value))

	later := protowire.AppendVarint(protowire.AppendTag(nil, oplog.VersionField, protowire.VarintType), 4)
	_, err = oplog.Decode(later)
	fmt.Println(errors.Is(err, oplog.ErrVersion), err)
	_, err = oplog.Decode([]byte("not an op"))
	fmt.Println(errors.Is(err, oplog.ErrVersion), err)
	// Output:
	// 66 bytes <nil>
	// user-42 anon-1 7 plan "pro"
	// true oplog: unknown identity_log record version 4 (this binary reads versions 1 to 3)
	// false oplog: decode identity op: not an op: no version field first
}
