package shred_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/shred"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

func kvs(pairs ...string) []unionfind.KV {
	var out []unionfind.KV
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, unionfind.KV{Key: pairs[i], Value: json.RawMessage(pairs[i+1])})
	}
	return out
}

// testOp is a typical event op: three properties of about 30 bytes.
func testOp() unionfind.Op {
	return unionfind.Op{
		Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: 2, Offset: 40},
		Team: "phc_abc", DistinctID: "user:42", EventUUID: "0190c1a2-0000-7000-8000-000000000001", Timestamp: 1000,
		Gen:     3,
		Set:     kvs("email", `"secret-person@example.com"`, "name", `"Ada Lovelace of Byron, Esq."`),
		SetOnce: kvs("first_seen_url", `"https://example.com/signup"`),
		Unset:   []string{"old"},
	}
}

func mustKey(t testing.TB) shred.Key {
	t.Helper()
	k, err := shred.NewKey()
	require.NoError(t, err)
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	key := mustKey(t)
	op := testOp()
	orig := testOp()
	setBefore := op.Set
	require.NoError(t, shred.Seal(&op, 77, key))

	assert.Equal(t, uint64(77), op.KeyID)
	assert.True(t, op.Sealed)
	assert.Equal(t, orig.Set, setBefore, "Seal leaves the caller's slices alone")
	require.Len(t, op.Set, 2)
	require.Len(t, op.SetOnce, 1)
	for i, kv := range append(append([]unionfind.KV(nil), op.Set...), op.SetOnce...) {
		plain := append(append([]unionfind.KV(nil), orig.Set...), orig.SetOnce...)[i]
		assert.Equal(t, plain.Key, kv.Key, "keys stay in clear")
		assert.Len(t, kv.Value, len(plain.Value)+shred.Overhead)
		assert.False(t, bytes.Contains(kv.Value, plain.Value[1:len(plain.Value)-1]), "no plaintext in the ciphertext")
	}
	assert.Equal(t, orig.Unset, op.Unset)
	require.NoError(t, op.Validate(), "a sealed op is valid (its values are not JSON-checked)")

	// The record round trip, as the applier sees it.
	dec, err := oplog.Decode(oplog.Encode(&op))
	require.NoError(t, err)
	assert.True(t, dec.Sealed)
	require.NoError(t, shred.Open(&dec, key))
	assert.Zero(t, dec.KeyID)
	assert.True(t, dec.Sealed)
	want := orig
	want.Sealed = true
	assert.Equal(t, want, dec)
}

// Sealing the same op twice gives different ciphertexts (a fresh nonce
// per value), each opening to the same values.
func TestSealFreshNonces(t *testing.T) {
	key := mustKey(t)
	a, b := testOp(), testOp()
	require.NoError(t, shred.Seal(&a, 1, key))
	require.NoError(t, shred.Seal(&b, 1, key))
	for i := range a.Set {
		assert.NotEqual(t, a.Set[i].Value, b.Set[i].Value)
	}
	// Two equal values within one op differ too.
	c := testOp()
	c.Set = kvs("a", `"same"`, "b", `"same"`)
	require.NoError(t, shred.Seal(&c, 1, key))
	assert.NotEqual(t, c.Set[0].Value, c.Set[1].Value)
}

// A sealed value is bound to its op's team, distinct_id and generation, to
// the key id, its list and its property key: moved anywhere else it does
// not open. Open then changes nothing and its error names no value.
func TestOpenRefusesMovedValues(t *testing.T) {
	key := mustKey(t)
	for _, tt := range []struct {
		name   string
		change func(*unionfind.Op)
	}{
		{"another team", func(o *unionfind.Op) { o.Team = "phc_abd" }},
		{"another distinct_id", func(o *unionfind.Op) { o.DistinctID = "user:43" }},
		{"another generation", func(o *unionfind.Op) { o.Gen = 4 }},
		{"another key id", func(o *unionfind.Op) { o.KeyID = 78 }},
		{"another property key", func(o *unionfind.Op) { o.Set[0].Key = "emai" }},
		{"values swapped between keys", func(o *unionfind.Op) { o.Set[0].Value, o.Set[1].Value = o.Set[1].Value, o.Set[0].Value }},
		{"$set_once value moved to $set", func(o *unionfind.Op) {
			o.Set = append(o.Set, unionfind.KV{Key: o.SetOnce[0].Key, Value: o.SetOnce[0].Value})
			o.SetOnce = nil
		}},
		{"value from another op of the same id", func(o *unionfind.Op) {
			other := testOp()
			other.Set = kvs("email", `"x"`)
			require.NoError(t, shred.Seal(&other, 77, key))
			o.Set[1].Value = other.Set[0].Value
		}},
		{"one bit flipped", func(o *unionfind.Op) {
			v := append(json.RawMessage(nil), o.SetOnce[0].Value...)
			v[len(v)/2] ^= 1
			o.SetOnce[0].Value = v
		}},
		{"truncated", func(o *unionfind.Op) { o.Set[0].Value = o.Set[0].Value[:shred.Overhead-1] }},
		{"empty", func(o *unionfind.Op) { o.Set[1].Value = nil }},
		{"tag cut off", func(o *unionfind.Op) { o.Set[0].Value = o.Set[0].Value[:len(o.Set[0].Value)-16] }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			op := testOp()
			require.NoError(t, shred.Seal(&op, 77, key))
			tt.change(&op)
			before := cloneOp(op)
			err := shred.Open(&op, key)
			require.ErrorIs(t, err, shred.ErrOpen)
			assert.Equal(t, before, op, "a failed Open changes nothing")
			for _, v := range []string{"secret-person", "Ada", "signup"} {
				assert.NotContains(t, err.Error(), v)
			}
			assert.Contains(t, err.Error(), "key id")
		})
	}
	t.Run("another data key", func(t *testing.T) {
		op := testOp()
		require.NoError(t, shred.Seal(&op, 77, key))
		err := shred.Open(&op, mustKey(t))
		require.ErrorIs(t, err, shred.ErrOpen)
		assert.Contains(t, err.Error(), `$set value of key "email", key id 77`)
	})
}

func cloneOp(op unionfind.Op) unionfind.Op {
	c := op
	clone := func(in []unionfind.KV) []unionfind.KV {
		if in == nil {
			return nil
		}
		out := make([]unionfind.KV, len(in))
		for i, kv := range in {
			out[i] = unionfind.KV{Key: kv.Key, Value: json.RawMessage(bytes.Clone(kv.Value))}
		}
		return out
	}
	c.Set, c.SetOnce = clone(op.Set), clone(op.SetOnce)
	return c
}

func TestSealOpenMisuse(t *testing.T) {
	key := mustKey(t)
	op := testOp()
	require.ErrorIs(t, shred.Seal(&op, 0, key), shred.ErrKeyID)
	require.ErrorIs(t, shred.Open(&op, key), shred.ErrNotSealed)
	assert.Equal(t, testOp(), op)
	require.NoError(t, shred.Seal(&op, 5, key))
	sealed := cloneOp(op)
	require.ErrorIs(t, shred.Seal(&op, 6, key), shred.ErrSealed)
	assert.Equal(t, sealed, op)

	// An op without values: sealed and opened as a mark only.
	empty := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a"}
	require.NoError(t, shred.Seal(&empty, 9, key))
	assert.Nil(t, empty.Set)
	assert.Nil(t, empty.SetOnce)
	require.NoError(t, shred.Open(&empty, key))
	assert.Equal(t, unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", Sealed: true}, empty)
}

// Erase is the applier's path for an erased key: values dropped, the rest
// of the op applied.
func TestEraseThenApply(t *testing.T) {
	key := mustKey(t)
	op := testOp()
	require.NoError(t, shred.Seal(&op, 5, key))

	mem := state.NewMemory()
	defer mem.Close()
	require.NoError(t, mem.Update(func(tx state.Tx) error {
		_, err := (&unionfind.Graph{}).Apply(tx, &op)
		require.ErrorIs(t, err, unionfind.ErrInvalidOp, "still sealed: refused")

		shred.Erase(&op)
		assert.True(t, op.ValuesErased)
		assert.True(t, op.Sealed)
		assert.Zero(t, op.KeyID)
		assert.Nil(t, op.Set)
		assert.Nil(t, op.SetOnce)
		assert.Equal(t, []string{"old"}, op.Unset)
		res, err := (&unionfind.Graph{}).Apply(tx, &op)
		require.NoError(t, err)
		require.Len(t, res.Persons, 1)
		assert.Empty(t, res.Persons[0].Person.Props)
		return nil
	}))

	plain := testOp()
	shred.Erase(&plain) // not sealed: untouched
	assert.Equal(t, testOp(), plain)
}

// Keys never print.
func TestKeyRedacted(t *testing.T) {
	var key shred.Key
	for i := range key {
		key[i] = 0xab
	}
	m, err := shred.ParseMasterKey(strings.Repeat("ab", 32))
	require.NoError(t, err)
	for _, f := range []string{"%v", "%s", "%x", "%X", "%d", "%#v", "%+v", "%q"} {
		for _, v := range []any{key, &key, m, struct{ K shred.Key }{key}} {
			s := fmt.Sprintf(f, v)
			assert.NotContains(t, strings.ToLower(s), "abab", "%s of %T: %s", f, v, s)
			assert.NotContains(t, s, "171", "%s of %T: %s", f, v, s)
		}
	}
}

// Whatever a hostile op holds — any team, id, generation, key id, keys and
// value bytes, any data key — Open returns nil or an error wrapping
// ErrOpen, never panics, and leaves the op unchanged when it fails. A value
// it opens was sealed under that key and binding (the fuzzer cannot forge
// one): sealing fuzzed plaintext and flipping any byte never opens.
func FuzzOpen(f *testing.F) {
	key, _ := shred.NewKey()
	op := testOp()
	_ = shred.Seal(&op, 77, key)
	f.Add("phc_abc", "user:42", uint32(3), uint64(77), "email", []byte(op.Set[0].Value), key[:], 0)
	f.Add("", "", uint32(0), uint64(1), "", []byte{}, []byte{}, 3)
	f.Fuzz(func(t *testing.T, team, did string, gen uint32, kid uint64, pk string, value, keyBytes []byte, flip int) {
		var k shred.Key
		copy(k[:], keyBytes)
		hostile := unionfind.Op{Kind: unionfind.OpEvent, Team: team, DistinctID: did, Gen: gen, KeyID: kid,
			Set: []unionfind.KV{{Key: pk, Value: value}}, SetOnce: []unionfind.KV{{Key: pk + "x", Value: value}}}
		before := cloneOp(hostile)
		if err := shred.Open(&hostile, k); err != nil {
			if !errors.Is(err, shred.ErrOpen) && !errors.Is(err, shred.ErrNotSealed) {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(before, hostile) {
				t.Fatal("a failed Open changed the op")
			}
		}

		if kid == 0 {
			return
		}
		plain := unionfind.Op{Kind: unionfind.OpEvent, Team: team, DistinctID: did, Gen: gen, Set: []unionfind.KV{{Key: pk, Value: value}}}
		if err := shred.Seal(&plain, kid, k); err != nil {
			t.Fatal(err)
		}
		sealed := cloneOp(plain)
		v := plain.Set[0].Value
		v[(flip%len(v)+len(v))%len(v)] ^= 0x80
		if shred.Open(&plain, k) == nil {
			t.Fatal("a value with a flipped byte opened")
		}
		if err := shred.Open(&sealed, k); err != nil || !bytes.Equal(sealed.Set[0].Value, value) {
			t.Fatalf("sealed value did not open to itself: %v", err)
		}
	})
}
