package oplog

import (
	"encoding/json"
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

func opCases() map[string]unionfind.Op {
	return map[string]unionfind.Op{
		"pageview": {Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 42},
			Team: "1", DistinctID: "anon-1", EventUUID: "0190f3a4-1111-7000-8000-000000000001", Timestamp: 1_767_225_600_000},
		"identify with properties": {Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: 0, Offset: 7, Index: 2},
			Team: "phc_abc", DistinctID: "user@example.com", EventUUID: "u", Timestamp: 1,
			Merge:   &unionfind.Merge{Other: "anon-1", Guarded: true},
			Set:     []unionfind.KV{{Key: "email", Value: json.RawMessage(`"user@example.com"`)}, {Key: "n", Value: json.RawMessage(`1.50`)}},
			SetOnce: []unionfind.KV{{Key: "", Value: json.RawMessage(`{"a":[1,2]}`)}},
			Unset:   []string{"", "old"}},
		"merge_dangerously to the empty id": {Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", Merge: &unionfind.Merge{}},
		"negative numbers":                  {Kind: unionfind.OpEvent, Source: unionfind.Source{Partition: -1, Offset: -5}, Team: "1", DistinctID: "a", Timestamp: -1000},
		"delete person": {Kind: unionfind.OpDeletePerson, Source: unionfind.Source{Topic: "admin", Offset: 9},
			Team: "1", PersonID: uuid.MustParse("5f1b3c2e-8d4a-5b6c-9e0f-1a2b3c4d5e6f")},
		"unicode and NUL": {Kind: unionfind.OpEvent, Team: "1", DistinctID: "caf\u00e9\x00\uFFFD",
			Set: []unionfind.KV{{Key: "k\u2028", Value: json.RawMessage(`"\u0000"`)}}},
		"alias with its rule": {Kind: unionfind.OpEvent, Team: "1", DistinctID: "a",
			Merge: &unionfind.Merge{Other: "b", Guarded: true, Rule: unionfind.RuleAlias}},
		"delete by distinct_id, blocked": {Kind: unionfind.OpDeletePerson, Source: unionfind.Source{Topic: "identity_commands", Partition: 1, Offset: 4},
			Team: "1", DistinctID: "user:1", Block: true},
		"split": {Kind: unionfind.OpSplit, Source: unionfind.Source{Topic: "identity_commands", Offset: 5},
			Team: "1", DistinctID: "a", SplitIDs: []string{"b", "", "c:d"}, NoProperties: true},
		"split keeping properties": {Kind: unionfind.OpSplit, Team: "1", DistinctID: "a", SplitIDs: []string{"b"}},
		"generation, values in clear": {Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", Gen: 7,
			Set: []unionfind.KV{{Key: "k", Value: json.RawMessage(`1`)}}},
	}
}

// sealedCases are ops whose values are sealed (ciphertext, not JSON): they
// exist in version 2 only.
func sealedCases() map[string]unionfind.Op {
	return map[string]unionfind.Op{
		"sealed values": {Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Offset: 1}, Team: "1", DistinctID: "a",
			Gen: math.MaxUint32, KeyID: math.MaxUint64, Sealed: true,
			Set:     []unionfind.KV{{Key: "email", Value: json.RawMessage("\x00\xff{not json")}},
			SetOnce: []unionfind.KV{{Key: "first", Value: json.RawMessage{}}}, Unset: []string{"u"}},
		"sealed, generation 0": {Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", KeyID: 1, Sealed: true,
			Set: []unionfind.KV{{Key: "k", Value: json.RawMessage{0x01}}}},
	}
}

func TestOpRoundTrip(t *testing.T) {
	cases := opCases()
	maps.Copy(cases, sealedCases())
	for name, op := range cases {
		t.Run(name, func(t *testing.T) {
			b := Encode(&op)
			want := byte(VersionProto)
			if op.KeyID != 0 || op.Kind == unionfind.OpSplit || op.Kind == unionfind.OpDeletePerson && op.DistinctID != "" {
				want = VersionLifecycle // what a version-2 reader would misapply
			}
			if len(b) < 2 || b[0] != 0x08 || b[1] != want {
				t.Fatalf("record starts % x, want 08 %02x (field 1 = version %d)", b[:min(len(b), 2)], want, want)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(normOp(got), normOp(op)) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, op)
			}
		})
	}
}

// opSize is an upper bound: Encode allocates once.
func TestOpSizeBoundsEncoding(t *testing.T) {
	cases := opCases()
	maps.Copy(cases, sealedCases())
	cases["every number at its longest"] = unionfind.Op{Kind: 255, Source: unionfind.Source{Topic: strings.Repeat("t", 249), Partition: -1, Offset: -1, Index: math.MaxUint32},
		Team: strings.Repeat("x", 200), DistinctID: strings.Repeat("d", 800), EventUUID: strings.Repeat("u", 64), Timestamp: -1,
		Merge: &unionfind.Merge{Other: strings.Repeat("o", 20_000), Guarded: true, Rule: 255},
		Block: true, NoProperties: true, Gen: math.MaxUint32, KeyID: math.MaxUint64, SplitIDs: []string{strings.Repeat("s", 800), ""},
		Set: []unionfind.KV{{Key: strings.Repeat("k", 20_000), Value: make(json.RawMessage, 20_000)}}, Unset: []string{strings.Repeat("k", 20_000)}}
	cases["numbers only, at their longest"] = unionfind.Op{Kind: 255, Source: unionfind.Source{Partition: -1, Offset: -1, Index: math.MaxUint32},
		Team: "t", DistinctID: "d", EventUUID: "u", Timestamp: -1, Block: true, NoProperties: true, Gen: math.MaxUint32, KeyID: math.MaxUint64}
	for name, op := range cases {
		if n, size := len(Encode(&op)), opSize(&op); n > size {
			t.Errorf("%s: encoded %d bytes, opSize %d", name, n, size)
		}
	}
}

// Decode says an op is sealed exactly when it names a key id, whatever
// the caller had set on the op it encoded (Sealed is not encoded), in both
// versions.
func TestOpSealedFollowsKeyID(t *testing.T) {
	for _, c := range []struct {
		kid    uint64
		sealed bool
	}{{0, false}, {0, true}, {5, false}, {5, true}} {
		op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", KeyID: c.kid, Sealed: c.sealed}
		got, err := Decode(Encode(&op))
		if err != nil {
			t.Fatal(err)
		}
		if got.Sealed != (c.kid != 0) || got.KeyID != c.kid {
			t.Errorf("kid %d, sealed %v: decoded kid %d, sealed %v", c.kid, c.sealed, got.KeyID, got.Sealed)
		}
		v1, err := json.Marshal(opRecord{V: VersionJSON, Op: op})
		if err != nil {
			t.Fatal(err)
		}
		if got, err = Decode(v1); err != nil || got.Sealed != (c.kid != 0) {
			t.Errorf("version 1 %s: sealed %v, %v", v1, got.Sealed, err)
		}
	}
}

// The fields of issue 14 are written after every field a reader of before
// knows (which skips them, as unknown fields), in field order, and the
// merge rule as a varint of Merge.
func TestOpNewFieldsWrittenLast(t *testing.T) {
	op := sealedCases()["sealed values"]
	op.Merge = &unionfind.Merge{Other: "b", Rule: unionfind.RuleMergeDangerously}
	op.Block, op.SplitIDs, op.NoProperties = true, []string{"x"}, true
	var old []protowire.Number
	err := eachField(Encode(&op), func(f field) error {
		if f.num >= fBlock {
			old = append(old, f.num)
		}
		if f.num == fMerge {
			return eachField(f.b, func(g field) error {
				if g.num == fMergeRule && (g.typ != protowire.VarintType || g.u != uint64(unionfind.RuleMergeDangerously)) {
					t.Errorf("merge rule written as %+v", g)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []protowire.Number{fBlock, fSplitIDs, fNoProperties, fGen, fKeyID}; !slices.Equal(old, want) {
		t.Fatalf("fields after person_id written %v, want %v (in order, after every field an old reader knows)", old, want)
	}
}

// Version-1 records (JSON) written before version 2 stay readable: a replay
// of an old identity_log must give the same ops.
func TestOpDecodesVersion1(t *testing.T) {
	for name, op := range opCases() { // sealed values are not JSON: version 2 only
		t.Run(name, func(t *testing.T) {
			v1, err := json.Marshal(opRecord{V: VersionJSON, Op: op})
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(v1)
			if err != nil {
				t.Fatalf("decode %s: %v", v1, err)
			}
			v2 := Encode(&op)
			want, _ := Decode(v2)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("version 1 and version 2 of one op decode differently:\nv1 %+v\nv2 %+v", got, want)
			}
		})
	}
	// A literal record as the version-1 writer wrote it.
	lit := `{"v":1,"kind":1,"src":{"t":"events_raw","p":3,"o":42},"team":"1","did":"a","uuid":"x","ts":1700000000000,"merge":{"other":"b","guarded":true},"set":[{"k":"email","v":"x@y"}],"unset":["z"]}`
	got, err := Decode([]byte(lit))
	if err != nil {
		t.Fatal(err)
	}
	want := unionfind.Op{Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 42}, Team: "1", DistinctID: "a", EventUUID: "x",
		Timestamp: 1_700_000_000_000, Merge: &unionfind.Merge{Other: "b", Guarded: true},
		Set: []unionfind.KV{{Key: "email", Value: json.RawMessage(`"x@y"`)}}, Unset: []string{"z"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("literal version-1 record:\n got %+v\nwant %+v", got, want)
	}
}

func TestOpRefusesUnknownOrMalformed(t *testing.T) {
	v3 := protowire.AppendVarint(protowire.AppendTag(nil, fVersion, protowire.VarintType), 4)
	valid := Encode(&unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a"})
	for name, c := range map[string]struct {
		b       []byte
		version bool // refused as an unknown version (not as malformed)
	}{
		"json version 4":   {[]byte(`{"v":4,"kind":1}`), true},
		"json version 255": {[]byte(`{"v":255}`), true},
		"proto version 4":  {v3, true},
		"proto version 4, then fields of another shape": {protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), v3...), fTeam, protowire.VarintType), 7), true},
		// Not a later version: no version, a version out of range, a known
		// version in the other encoding. Rejected, never a pause.
		"json without version":  {[]byte(`{"kind":1}`), false},
		"json version 0":        {[]byte(`{"v":0}`), false},
		"json version 2":        {[]byte(`{"v":2}`), false},
		"json version 256":      {[]byte(`{"v":256}`), false},
		"json version -3":       {[]byte(`{"v":-3}`), false},
		"json version as text":  {[]byte(`{"v":"3"}`), false},
		"proto without version": {protowire.AppendString(protowire.AppendTag(nil, fTeam, protowire.BytesType), "1"), false},
		"proto version last":    {protowire.AppendVarint(protowire.AppendTag(protowire.AppendString(protowire.AppendTag(nil, fTeam, protowire.BytesType), "1"), fVersion, protowire.VarintType), 3), false},
		"proto version 1":       {protowire.AppendVarint(protowire.AppendTag(nil, fVersion, protowire.VarintType), 1), false},
		"proto version 2^40":    {protowire.AppendVarint(protowire.AppendTag(nil, fVersion, protowire.VarintType), 1<<40), false},
		"proto version twice":   {protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), valid...), fVersion, protowire.VarintType), 3), false},
		"empty":                 {nil, false},
		"tombstone-like zero":   {[]byte{0}, false},
		"truncated":             {valid[:len(valid)-1], false},
		"person id of 3 bytes":  {protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), valid...), fPersonID, protowire.BytesType), []byte{1, 2, 3}), false},
		"team as a varint":      {protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), valid...), fTeam, protowire.VarintType), 1), false},
		"broken json":           {[]byte(`{"v":1,`), false},
		"garbage":               {[]byte{0xff, 0xff, 0xff}, false},
		"kind out of range":     {protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), valid...), fKind, protowire.VarintType), 300), false},
		"generation over 2^32":  {protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), valid...), fGen, protowire.VarintType), 1<<32), false},
		"key id as bytes":       {protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), valid...), fKeyID, protowire.BytesType), []byte{1}), false},
		"split id as a varint":  {protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), valid...), fSplitIDs, protowire.VarintType), 1), false},
		"block as bytes":        {protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), valid...), fBlock, protowire.BytesType), nil), false},
		"merge rule over 255": {protowire.AppendBytes(protowire.AppendTag(append([]byte(nil), valid...), fMerge, protowire.BytesType),
			protowire.AppendVarint(protowire.AppendTag(nil, fMergeRule, protowire.VarintType), 256)), false},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Decode(c.b)
			if err == nil {
				t.Fatalf("decoded % x", c.b)
			}
			if got := errors.Is(err, ErrVersion); got != c.version {
				t.Fatalf("errors.Is(%v, ErrVersion) = %v, want %v", err, got, c.version)
			}
		})
	}
	// Unknown fields of version 2 are skipped: a later writer may add some.
	extra := protowire.AppendString(protowire.AppendTag(append([]byte(nil), valid...), 99, protowire.BytesType), "future")
	if _, err := Decode(extra); err != nil {
		t.Fatalf("an unknown field: %v", err)
	}
}

// Whatever bytes arrive on identity_log, Decode returns an op or an error
// (the applier logs and skips it), never panics; an op it returns
// re-encodes to a record that decodes to the same op; and it calls a record
// a later version (the applier pauses there) only when the record says so
// where every version keeps its number — a JSON "v" or a first protobuf
// field 1 — with a number from 3 to MaxVersion: garbage never pauses.
func FuzzDecodeOp(f *testing.F) {
	f.Add([]byte(`{"v":3}`))
	f.Add(protowire.AppendVarint(protowire.AppendTag(nil, fVersion, protowire.VarintType), 3))
	for _, op := range opCases() {
		b := Encode(&op)
		f.Add(b)
		j, _ := json.Marshal(opRecord{V: VersionJSON, Op: op})
		f.Add(j)
	}
	for _, op := range sealedCases() {
		f.Add(Encode(&op))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		op, err := Decode(b)
		var ve *VersionError
		if errors.As(err, &ve) {
			if ve.Version <= VersionProto || ve.Version > MaxVersion {
				t.Fatalf("version %d called a later version", ve.Version)
			}
			if len(b) > 0 && b[0] == '{' {
				var head struct{ V int64 }
				if json.Unmarshal(b, &head) != nil || uint64(head.V) != ve.Version {
					t.Fatalf("a JSON record without \"v\": %d called version %d", ve.Version, ve.Version)
				}
			} else if num, typ, n := protowire.ConsumeTag(b); n < 0 || num != fVersion || typ != protowire.VarintType {
				t.Fatalf("a protobuf record not led by its version called version %d", ve.Version)
			}
		}
		if err != nil {
			return
		}
		again := Encode(&op)
		op2, err := Decode(again)
		if err != nil {
			t.Fatalf("re-encoded op does not decode: %v", err)
		}
		if !reflect.DeepEqual(normOp(op), normOp(op2)) {
			t.Fatalf("re-encoding changed the op:\n%+v\n%+v", op, op2)
		}
		if op.Sealed != (op.KeyID != 0) || op2.Sealed != (op2.KeyID != 0) {
			t.Fatalf("sealed %v with key id %d", op.Sealed, op.KeyID)
		}
		if op.Merge != nil && op.Merge.Rule != op2.Merge.Rule {
			t.Fatalf("merge rule %d re-encoded as %d", op.Merge.Rule, op2.Merge.Rule)
		}
	})
}

// normOp makes empty and nil slices and values alike (protobuf does not
// tell them apart; the graph does not either).
func normOp(op unionfind.Op) unionfind.Op {
	norm := func(kvs []unionfind.KV) []unionfind.KV {
		if len(kvs) == 0 {
			return nil
		}
		out := make([]unionfind.KV, len(kvs))
		for i, kv := range kvs {
			out[i] = unionfind.KV{Key: kv.Key, Value: append(json.RawMessage{}, kv.Value...)}
		}
		return out
	}
	op.Set, op.SetOnce = norm(op.Set), norm(op.SetOnce)
	if len(op.Unset) == 0 {
		op.Unset = nil
	}
	if len(op.SplitIDs) == 0 {
		op.SplitIDs = nil
	}
	return op
}
