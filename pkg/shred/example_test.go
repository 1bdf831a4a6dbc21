package shred_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/broker"
	"github.com/resolver-dev/resolver/pkg/shred"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// A worker seals an op's values before logging it; the applier opens them
// before Apply. The record holds ciphertext only.
func Example() {
	key, _ := shred.NewKey()
	op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "user-42", Gen: 0,
		Set: []unionfind.KV{{Key: "email", Value: json.RawMessage(`"ada@example.com"`)}}}
	if err := shred.Seal(&op, 7, key); err != nil {
		panic(err)
	}
	rec := oplog.Encode(&op)
	fmt.Println("key id", op.KeyID, "sealed value of", len(op.Set[0].Value), "bytes")

	logged, _ := oplog.Decode(rec)
	_, err := (&unionfind.Graph{}).Apply(nil, &logged) // refused before the store is touched
	fmt.Println("apply before open:", errors.Is(err, unionfind.ErrInvalidOp))

	wrong, _ := shred.NewKey()
	fmt.Println(shred.Open(&logged, wrong))
	if err := shred.Open(&logged, key); err != nil {
		panic(err)
	}
	fmt.Println(logged.Set[0].Key, string(logged.Set[0].Value), logged.KeyID, logged.Sealed)
	// Output:
	// key id 7 sealed value of 45 bytes
	// apply before open: true
	// shred: sealed value does not open: $set value of key "email", key id 7 (wrong key, or the value or its op was altered)
	// email "ada@example.com" 0 true
}

// Errors about a master key say what is wrong, never what the key is.
func ExampleParseMasterKey() {
	_, err := shred.ParseMasterKey("0123456789abcdef")
	fmt.Println(err)
	_, err = shred.ParseMasterKey("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeZ")
	fmt.Println(err)
	m, err := shred.ParseMasterKey("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n")
	fmt.Println(m, err)
	// Output:
	// shred: invalid master key: 16 characters, want 64 hex digits (32 bytes)
	// shred: invalid master key: character 64 is not a hex digit (want 64 hex digits)
	// shred.MasterKey(redacted) <nil>
}

// A ring creates a key and waits for its acknowledgement; another ring
// (another instance) waits for it; deleting the person tombstones it.
func ExampleRing() {
	b, _ := broker.Start(broker.Config{Listen: "127.0.0.1:0"})
	defer b.Close()
	ctx := context.Background()
	seed := kgo.SeedBrokers(b.Addrs()...)
	adm, _ := kgo.NewClient(seed)
	compact := "compact"
	_, _ = kadm.NewClient(adm).CreateTopic(ctx, 1, 1, map[string]*string{"cleanup.policy": &compact}, shred.DefaultTopic)
	adm.Close()

	worker, _ := shred.NewRing(shred.RingConfig{Opts: []kgo.Opt{seed}})
	defer worker.Close()
	applier, _ := shred.NewRing(shred.RingConfig{Opts: []kgo.Opt{seed}})
	defer applier.Close()

	kid, key, err := worker.Create(ctx, "1", "user:42", 0)
	fmt.Println("created:", err)
	got, st, err := applier.WaitFor(ctx, "1", "user:42", 0, kid, 10*time.Second)
	fmt.Println(st, got == key, err)

	n, err := worker.Tombstone(ctx, "1", "user:42", 0)
	fmt.Println("tombstoned", n, err)
	_ = applier.CatchUp(ctx)
	_, st = applier.Get("1", "user:42", 0, kid)
	fmt.Println(st)
	// Output:
	// created: <nil>
	// present true <nil>
	// tombstoned 1 <nil>
	// tombstoned
}
