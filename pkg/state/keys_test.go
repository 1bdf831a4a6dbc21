package state

import (
	"bytes"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Keys of different tuples never collide, even where a naive separator
// would ("1/2" + "3" vs "1" + "2/3").
func TestKeysDoNotCollide(t *testing.T) {
	pid := unionfind.ImplicitPersonID("1", "x")
	seen := map[string]string{}
	add := func(what string, k []byte) {
		if prev, ok := seen[string(k)]; ok {
			t.Fatalf("%s collides with %s: %q", what, prev, k)
		}
		seen[string(k)] = what
	}
	for _, team := range []string{"", "1", "12", "1/2", "1\x00"} {
		for _, did := range []string{"", "2", "/2", "2/3", "\x00", "\x012"} {
			add("d "+team+"|"+did, mappingKey(nil, team, did))
			add("m "+team+"|"+did, memberKey(nil, team, pid, did))
			add("b "+team+"|"+did, billingKey(nil, team, did, "anonymous"))
		}
		add("p "+team, personKey(nil, team, pid))
		add("x "+team, outboxKey(nil, unionfind.Source{Topic: team, Partition: 1, Offset: 2, Index: 3}))
		add("o "+team, highWaterKey(nil, 0, team, 1))
	}
	for _, p := range []int32{-1, 0, 1, 1 << 30} {
		add("a", appliedKey(nil, p))
		add("b@", billingOffsetKey(nil, p))
	}
}

// Numbers in keys sort numerically; outbox keys sort in source order.
func TestKeysSortNumerically(t *testing.T) {
	srcs := []unionfind.Source{{Offset: -5}, {Offset: 0}, {Offset: 0, Index: 1}, {Offset: 1}, {Offset: 255}, {Offset: 256}, {Offset: 1 << 40}}
	for i := 1; i < len(srcs); i++ {
		a, b := outboxKey(nil, srcs[i-1]), outboxKey(nil, srcs[i])
		if bytes.Compare(a, b) >= 0 {
			t.Fatalf("outbox key of %+v does not sort before %+v", srcs[i-1], srcs[i])
		}
	}
	if bytes.Compare(appliedKey(nil, -1), appliedKey(nil, 0)) >= 0 || bytes.Compare(appliedKey(nil, 1), appliedKey(nil, 256)) >= 0 {
		t.Fatal("applied keys do not sort numerically")
	}
	// Identity tags sort d/ < m/ < p/, and other tags are outside them.
	for i := 1; i < len(identityTags); i++ {
		if bytes.Compare(identityTags[i-1], identityTags[i]) >= 0 {
			t.Fatal("identity tags out of order")
		}
	}
	if bytes.HasPrefix(tagBillOff, tagBilling) {
		t.Fatal("b@/ inside b/")
	}
}
