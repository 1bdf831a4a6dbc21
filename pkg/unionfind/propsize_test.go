package unionfind_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// FuzzPropertiesJSONSize: the size the cap measures is exactly the length
// of the person_properties a stamped event carries (AppendPropertiesJSON),
// for any keys: HTML characters, control characters, U+2028, invalid
// UTF-8; and those bytes are the keys as json.Marshal writes them (they are
// stored: changing their spelling would change rows and the cap).
func FuzzPropertiesJSONSize(f *testing.F) {
	for _, s := range []string{"", "a", `"\`, "<>&", "\x00\x1f\b\f\n\r\t", "\u2028\u2029", "\xff\xfe", "é😀", "\xed\xa0\x80"} {
		f.Add(s, "b", []byte(`1`))
	}
	f.Fuzz(func(t *testing.T, k1, k2 string, v []byte) {
		p := unionfind.Person{}
		for _, k := range []string{k1, k2} {
			if _, ok := p.Prop(k); !ok {
				p.Props = append(p.Props, unionfind.Property{Key: k, Value: v})
			}
		}
		slices.SortFunc(p.Props, func(a, b unionfind.Property) int { return strings.Compare(a.Key, b.Key) })
		if got, want := p.PropertiesJSONSize(), len(p.AppendPropertiesJSON(nil)); got != want {
			t.Fatalf("PropertiesJSONSize %d, AppendPropertiesJSON %d bytes, keys %q %q", got, want, k1, k2)
		}
		want := []byte{'{'}
		for i, pr := range p.Props {
			if i > 0 {
				want = append(want, ',')
			}
			k, err := json.Marshal(pr.Key)
			require.NoError(t, err)
			want = append(append(append(want, k...), ':'), pr.Value...)
		}
		want = append(want, '}')
		if got := p.AppendPropertiesJSON(nil); string(got) != string(want) {
			t.Fatalf("AppendPropertiesJSON = %s, keys by json.Marshal %s", got, want)
		}
	})
}

func TestPropertiesJSONSize(t *testing.T) {
	for _, props := range [][]unionfind.Property{
		nil,
		{{Key: "a", Value: json.RawMessage(`1`)}},
		{{Key: "<a>", Value: json.RawMessage(`"x"`)}, {Key: "b\n", Value: json.RawMessage(`{"c":[1,2]}`)}},
	} {
		p := unionfind.Person{Props: props}
		assert.Equal(t, len(p.AppendPropertiesJSON(nil)), p.PropertiesJSONSize(), "%s", p.AppendPropertiesJSON(nil))
	}
}

// applyAll applies ops in order to a fresh in-memory store with g and
// returns every op's result and the final person of team "1", distinct_id
// "u".
func applyAll(t *testing.T, g *unionfind.Graph, ops ...unionfind.Op) ([]unionfind.Result, unionfind.Person) {
	t.Helper()
	mem := state.NewMemory()
	t.Cleanup(func() { _ = mem.Close() })
	var results []unionfind.Result
	require.NoError(t, mem.Update(func(tx state.Tx) error {
		for i := range ops {
			res, err := g.Apply(tx, &ops[i])
			if err != nil {
				return err
			}
			results = append(results, res)
		}
		return nil
	}))
	p, _, err := mem.Find("1", "u")
	require.NoError(t, err)
	return results, p
}

func ev(did string, ts int64, set, setOnce []unionfind.KV) unionfind.Op {
	return unionfind.Op{Kind: unionfind.OpEvent, Team: "1", DistinctID: did, Timestamp: ts, Set: set, SetOnce: setOnce}
}

func propsJSON(p unionfind.Person) string { return string(p.AppendPropertiesJSON(nil)) }

func sizeWarnings(res unionfind.Result) []string {
	var out []string
	for _, w := range res.Warnings {
		if w.Type == unionfind.WarnPropertiesSize {
			out = append(out, w.Details)
		}
	}
	return out
}

// TestSizeCap: docs/SEMANTICS.md §5 "Size cap", one rule per case. A member
// "k":"1234567890" is 16 bytes, 17 with its separator; an object of n such
// members is 1 + 17n bytes.
func TestSizeCap(t *testing.T) {
	ten := `"1234567890"`
	tests := []struct {
		name      string
		limit     int
		ops       []unionfind.Op
		want      string   // final properties of u
		warnings  []string // size warning details of the last op
		otherWarn int      // warnings of other types on the last op
	}{
		{
			name: "all fit", limit: 52,
			ops:  []unionfind.Op{ev("u", 1, kvs("a", ten, "b", ten, "c", ten), nil)},
			want: `{"a":"1234567890","b":"1234567890","c":"1234567890"}`,
		},
		{
			name: "one byte short: the last key in sorted order is dropped", limit: 51,
			ops:      []unionfind.Op{ev("u", 1, kvs("a", ten, "b", ten, "c", ten), nil)},
			want:     `{"a":"1234567890","b":"1234567890"}`,
			warnings: []string{`{"dropped_keys":1,"max_person_properties_bytes":51}`},
		},
		{
			name: "a big key is dropped, later smaller keys still fit", limit: 40,
			ops:      []unionfind.Op{ev("u", 1, kvs("a", ten, "b", `"`+strings.Repeat("x", 100)+`"`, "c", ten), nil)},
			want:     `{"a":"1234567890","c":"1234567890"}`,
			warnings: []string{`{"dropped_keys":1,"max_person_properties_bytes":40}`},
		},
		{
			name: "$set and $set_once are taken together in key order", limit: 35,
			ops:      []unionfind.Op{ev("u", 1, kvs("b", ten, "d", ten), kvs("a", ten, "c", ten))},
			want:     `{"a":"1234567890","b":"1234567890"}`,
			warnings: []string{`{"dropped_keys":2,"max_person_properties_bytes":35}`},
		},
		{
			name: "a replacement that grows past the cap keeps the old value", limit: 35,
			ops: []unionfind.Op{
				ev("u", 1, kvs("a", ten, "b", ten), nil),
				ev("u", 2, kvs("a", `"12345678901"`, "b", `"1"`), nil),
			},
			want:     `{"a":"1234567890","b":"1"}`,
			warnings: []string{`{"dropped_keys":1,"max_person_properties_bytes":35}`},
		},
		{
			name: "key order decides: a shrinking b after a growing a does not help a", limit: 35,
			ops: []unionfind.Op{
				ev("u", 1, kvs("a", ten, "b", ten), nil),
				ev("u", 2, kvs("a", `"123456789012"`, "b", `"1"`), nil),
			},
			want:     `{"a":"1234567890","b":"1"}`,
			warnings: []string{`{"dropped_keys":1,"max_person_properties_bytes":35}`},
		},
		{
			name: "an equal value is no write, so never dropped", limit: 18,
			ops: []unionfind.Op{
				ev("u", 1, kvs("a", ten), nil),
				ev("u", 2, kvs("a", ten), nil),
			},
			want: `{"a":"1234567890"}`,
		},
		{
			name: "an older $set loses on time, not on size", limit: 18,
			ops: []unionfind.Op{
				ev("u", 5, kvs("a", ten), nil),
				ev("u", 2, kvs("a", `"`+strings.Repeat("y", 50)+`"`), nil),
			},
			want: `{"a":"1234567890"}`,
		},
		{
			name: "a person over a lowered cap may still shrink, never grow", limit: 20,
			ops: []unionfind.Op{
				// Applied with the default cap (see below), then the cap is 20.
				ev("u", 1, kvs("a", ten, "b", ten), nil),
				ev("u", 2, kvs("a", `"1"`, "c", `1`), nil),
			},
			want:     `{"a":"1","b":"1234567890"}`,
			warnings: []string{`{"dropped_keys":1,"max_person_properties_bytes":20}`},
		},
		{
			name: "merge: the absorbed person's keys are added in key order while they fit", limit: 52,
			ops: []unionfind.Op{
				ev("u", 1, kvs("a", ten, "d", ten), nil),
				ev("v", 2, kvs("b", ten, "c", ten, "e", `1`), nil),
				{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 3, Merge: &unionfind.Merge{Other: "v", Guarded: true}},
			},
			// b fits (35 → 52), c does not, e ("e":1 is 6 bytes) does not either.
			want:     `{"a":"1234567890","b":"1234567890","d":"1234567890"}`,
			warnings: []string{`{"dropped_keys":2,"max_person_properties_bytes":52}`},
		},
		{
			name: "merge and $set of one event: one warning counting both", limit: 35,
			ops: []unionfind.Op{
				ev("u", 1, kvs("a", ten, "b", ten), nil),
				ev("v", 2, kvs("c", ten), nil),
				{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 3, Merge: &unionfind.Merge{Other: "v", Guarded: true}, Set: kvs("d", `1`)},
			},
			want:     `{"a":"1234567890","b":"1234567890"}`,
			warnings: []string{`{"dropped_keys":2,"max_person_properties_bytes":35}`},
		},
		{
			// {"\u003c":1,"a":1} is 18 bytes; with "b":1 it would be 24.
			name: "escaped keys are measured as written", limit: 23,
			ops:      []unionfind.Op{ev("u", 1, kvs("<", `1`, "a", `1`, "b", `1`), nil)},
			want:     `{"\u003c":1,"a":1}`,
			warnings: []string{`{"dropped_keys":1,"max_person_properties_bytes":23}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &unionfind.Graph{MaxPersonPropertiesBytes: tt.limit}
			ops := tt.ops
			if strings.Contains(tt.name, "lowered cap") {
				// The person was written before the cap was lowered.
				mem := state.NewMemory()
				defer mem.Close()
				var last unionfind.Result
				require.NoError(t, mem.Update(func(tx state.Tx) error {
					if _, err := (&unionfind.Graph{}).Apply(tx, &ops[0]); err != nil {
						return err
					}
					var err error
					last, err = g.Apply(tx, &ops[1])
					return err
				}))
				p, _, err := mem.Find("1", "u")
				require.NoError(t, err)
				assert.Equal(t, tt.want, propsJSON(p))
				assert.Equal(t, tt.warnings, sizeWarnings(last))
				return
			}
			results, p := applyAll(t, g, ops...)
			assert.Equal(t, tt.want, propsJSON(p))
			assert.LessOrEqual(t, p.PropertiesJSONSize(), tt.limit)
			last := results[len(results)-1]
			assert.Equal(t, tt.warnings, sizeWarnings(last))
			for _, w := range last.Warnings {
				assert.Equal(t, "u", w.DistinctID)
				assert.False(t, unionfind.IsMergeRefusal(w.Type), "%s", w.Type)
			}
			// Deterministic: the same ops again give the same state.
			_, p2 := applyAll(t, g, ops...)
			assert.Equal(t, propsJSON(p), propsJSON(p2))
		})
	}
}

// TestSizeCapDefault: with the default cap (512 KiB) a $set value of
// 600 kB is dropped, the event's other keys are written, and the person
// row carries them.
func TestSizeCapDefault(t *testing.T) {
	huge := `"` + strings.Repeat("x", 600_000) + `"`
	results, p := applyAll(t, &unionfind.Graph{}, ev("u", 1, kvs("big", huge, "email", `"a@b"`), kvs("plan", `"free"`)))
	assert.Equal(t, `{"email":"a@b","plan":"free"}`, propsJSON(p))
	assert.Equal(t, []string{fmt.Sprintf(`{"dropped_keys":1,"max_person_properties_bytes":%d}`, unionfind.DefaultMaxPersonPropertiesBytes)}, sizeWarnings(results[0]))
	require.Len(t, results[0].Persons, 1)
	assert.Equal(t, `{"email":"a@b","plan":"free"}`, propsJSON(results[0].Persons[0].Person))
	assert.Equal(t, 512<<10, unionfind.DefaultMaxPersonPropertiesBytes)
}

// TestSizeCapManyKeys: 60,000 small keys (issue 11 item 2's "event with
// 60k properties") stop at the cap, in key order.
func TestSizeCapManyKeys(t *testing.T) {
	var set []unionfind.KV
	for i := range 60_000 {
		set = append(set, unionfind.KV{Key: fmt.Sprintf("k%05d", i), Value: json.RawMessage(`"0123456789"`)})
	}
	results, p := applyAll(t, &unionfind.Graph{MaxPersonPropertiesBytes: 100_000}, ev("u", 1, set, nil))
	size := p.PropertiesJSONSize()
	assert.LessOrEqual(t, size, 100_000)
	assert.Greater(t, size, 100_000-22, "filled up to the last member that fits")
	n := len(p.Props)
	assert.Equal(t, "k00000", p.Props[0].Key)
	assert.Equal(t, fmt.Sprintf("k%05d", n-1), p.Props[n-1].Key, "a prefix in key order")
	assert.Equal(t, []string{fmt.Sprintf(`{"dropped_keys":%d,"max_person_properties_bytes":100000}`, 60_000-n)}, sizeWarnings(results[0]))
}

// FuzzApply applies arbitrary ops to an in-memory store that already holds
// a few persons.
//
// Invariants: Apply never panics; it returns nil or an error wrapping
// ErrInvalidOp (the memory store itself never fails), exactly when
// Op.Validate fails or the op's values are still sealed (KeyID != 0); an
// invalid op makes no Store call at all; after a
// valid op every live person it emits is within the properties cap (all
// persons start within it).
func FuzzApply(f *testing.F) {
	f.Add(uint8(1), "1", "u", "a", true, true, "k", []byte(`1`), "j", []byte(`"x"`), []byte(`{"kind":1,"team":"1","did":"u"}`))
	f.Add(uint8(1), "1", "b", "u", true, false, "k", []byte(`"0123456789012345678901234567890123456789"`), "", []byte(`[]`), []byte(`{}`))
	f.Add(uint8(2), "1", "", "", false, false, "", []byte(``), "", []byte(``), []byte(`{"kind":2,"team":"1","person":"8c7b4d4e-0000-5000-8000-000000000000"}`))
	f.Add(uint8(1), strings.Repeat("T", 70_000), "u", "", false, false, "", []byte(nil), "", []byte(nil), []byte(nil))
	f.Add(uint8(1), "1", strings.Repeat("d", 300), strings.Repeat("o", 70_000), true, true, "", []byte(nil), "", []byte(nil), []byte(nil))
	f.Add(uint8(1), "1\x00", "\xff", "null", true, true, "k", []byte(`{`), "k", []byte(`1`), []byte(`{"kind":1,"team":"1","did":"u","set":[{"k":"b","v":1},{"k":"a","v":2}]}`))
	f.Add(uint8(1), "1", "u", "", false, false, "", []byte(nil), "", []byte(nil), []byte(`{"kind":1,"team":"1","did":"u","kid":1,"set":[{"k":"a","v":"x"}]}`))
	f.Add(uint8(3), "1", "u", "", false, false, "", []byte(nil), "", []byte(nil), []byte(`{"kind":3,"team":"1","did":"u","split":["v",""]}`))
	f.Add(uint8(3), "1", "b", "", false, false, "", []byte(nil), "", []byte(nil), []byte(`{"kind":3,"team":"1","did":"a","split":["b","b","u"],"no_props":true}`))
	f.Add(uint8(3), "1", "a", "", false, false, "", []byte(nil), "", []byte(nil), []byte(`{"kind":2,"team":"1","did":"b","block":true}`))
	f.Add(uint8(1), "1", "a", "", false, false, "k", []byte(`1`), "", []byte(nil), []byte(`{"kind":1,"team":"1","did":"a","kid":3}`))
	const limit = 64
	f.Fuzz(func(t *testing.T, kind uint8, team, did, other string, merge, guarded bool, k1 string, v1 []byte, k2 string, v2 []byte, opJSON []byte) {
		mem := state.NewMemory()
		defer mem.Close()
		g := &unionfind.Graph{MaxMergeMove: 3, MaxPersonPropertiesBytes: limit}
		require.NoError(t, mem.Update(func(tx state.Tx) error {
			for _, op := range []unionfind.Op{
				ev("a", 1, kvs("k", `"v"`), nil),
				ev("u", 2, kvs("j", `1`), nil),
				{Kind: unionfind.OpEvent, Team: "1", DistinctID: "b", Timestamp: 3, Merge: &unionfind.Merge{Other: "a", Guarded: true}},
			} {
				if _, err := g.Apply(tx, &op); err != nil {
					return err
				}
			}
			return nil
		}))
		ops := []unionfind.Op{{
			Kind: unionfind.OpKind(kind), Source: unionfind.Source{Topic: "events_raw"}, Team: team, DistinctID: did, Timestamp: 10,
			Set: []unionfind.KV{{Key: k1, Value: v1}}, SetOnce: []unionfind.KV{{Key: k2, Value: v2}}, Unset: []string{k1},
		}}
		if merge {
			ops[0].Merge = &unionfind.Merge{Other: other, Guarded: guarded}
		}
		if kind == uint8(unionfind.OpDeletePerson) {
			ops[0].PersonID = unionfind.ImplicitPersonID(team, did)
		}
		var fromJSON unionfind.Op
		if json.Unmarshal(opJSON, &fromJSON) == nil {
			ops = append(ops, fromJSON)
		}
		for i := range ops {
			op := &ops[i]
			before, err := mem.Fingerprint()
			require.NoError(t, err)
			var res unionfind.Result
			var calls int
			err = mem.Update(func(tx state.Tx) error {
				cs := &countingStore{Store: tx}
				var err error
				res, err = g.Apply(cs, op)
				calls = cs.calls
				return err
			})
			verr := op.Validate()
			if err != nil {
				if !errors.Is(err, unionfind.ErrInvalidOp) {
					t.Fatalf("Apply: %v (op %+v)", err, op)
				}
				if verr == nil && op.KeyID == 0 {
					t.Fatalf("Apply refused an op Validate accepts: %v", err)
				}
				if calls != 0 {
					t.Fatalf("an invalid op made %d store calls", calls)
				}
				after, ferr := mem.Fingerprint()
				require.NoError(t, ferr)
				if after != before {
					t.Fatal("an invalid op changed the state")
				}
				continue
			}
			if verr != nil || op.KeyID != 0 {
				t.Fatalf("Apply accepted an op Validate refuses, or a sealed one: %v", verr)
			}
			for _, row := range res.Persons {
				if !row.Person.Deleted && row.Person.PropertiesJSONSize() > limit {
					t.Fatalf("person over the cap: %s", row.Person.AppendPropertiesJSON(nil))
				}
			}
		}
	})
}
