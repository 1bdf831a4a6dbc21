package oplog

import (
	"encoding/json"
	"errors"
	"reflect"
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
	}
}

func TestOpRoundTrip(t *testing.T) {
	for name, op := range opCases() {
		t.Run(name, func(t *testing.T) {
			b := Encode(&op)
			if len(b) < 2 || b[0] != 0x08 || b[1] != VersionProto {
				t.Fatalf("record starts % x, want 08 02 (field 1 = version 2)", b[:min(len(b), 2)])
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !reflect.DeepEqual(got, op) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, op)
			}
		})
	}
}

// Version-1 records (JSON) written before version 2 stay readable: a replay
// of an old identity_log must give the same ops.
func TestOpDecodesVersion1(t *testing.T) {
	for name, op := range opCases() {
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
	v3 := protowire.AppendVarint(protowire.AppendTag(nil, fVersion, protowire.VarintType), 3)
	valid := Encode(&unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a"})
	for name, c := range map[string]struct {
		b       []byte
		version bool // refused as an unknown version (not as malformed)
	}{
		"json version 3":   {[]byte(`{"v":3,"kind":1}`), true},
		"json version 255": {[]byte(`{"v":255}`), true},
		"proto version 3":  {v3, true},
		"proto version 3, then fields of another shape": {protowire.AppendVarint(protowire.AppendTag(append([]byte(nil), v3...), fTeam, protowire.VarintType), 7), true},
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
	return op
}
