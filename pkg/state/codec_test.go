package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// personFrom builds a valid Person from fuzz input: properties sorted and
// unique, as unionfind keeps them.
func personFrom(id []byte, created int64, version, size uint64, flags uint8, keys []string, val []byte, tm int64) unionfind.Person {
	p := unionfind.Person{CreatedAt: created, Version: version, Size: size,
		Identified: flags&1 != 0, Deleted: flags&2 != 0}
	copy(p.ID[:], id)
	seen := map[string]bool{}
	for i, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		v := val
		if i%2 == 1 {
			v = nil
		}
		p.Props = append(p.Props, unionfind.Property{Key: k, Value: json.RawMessage(v), Time: tm + int64(i)})
	}
	sort.Slice(p.Props, func(i, j int) bool { return p.Props[i].Key < p.Props[j].Key })
	return p
}

func samePerson(a, b unionfind.Person) bool {
	if a.ID != b.ID || a.CreatedAt != b.CreatedAt || a.Identified != b.Identified || a.Deleted != b.Deleted ||
		a.Version != b.Version || a.Size != b.Size || len(a.Props) != len(b.Props) {
		return false
	}
	for i := range a.Props {
		x, y := a.Props[i], b.Props[i]
		if x.Key != y.Key || !bytes.Equal(x.Value, y.Value) || x.Time != y.Time {
			return false
		}
	}
	return true
}

// FuzzCodecRoundTrip: for any Mapping and Person, decode(encode(x)) == x,
// and encoding is deterministic (encode(decode(encode(x))) == encode(x)),
// in each encoding: a person in v1 (outbox results) and as a p/ value
// (v2), a mapping as a d/ value (v3 when it names the id's implicit
// person) and in its full form (what Fingerprint hashes).
func FuzzCodecRoundTrip(f *testing.F) {
	f.Add([]byte("0123456789abcdef"), int64(0), uint64(0), uint64(1), uint8(0), "", []byte(nil), int64(0))
	f.Add([]byte("\xff\xff"), int64(-1), uint64(1<<63), uint64(1<<40), uint8(3), "email\x00name\x00plan", []byte(`"x@y.z"`), int64(-5))
	f.Add([]byte{}, int64(1<<62), uint64(7), uint64(2), uint8(1), "a\x00a\x00\xff", []byte(`{"nested":[1,2]}`), int64(1<<50))
	f.Fuzz(func(t *testing.T, id []byte, created int64, version, size uint64, flags uint8, keys string, val []byte, tm int64) {
		var ks []string
		for _, k := range bytes.Split([]byte(keys), []byte{0}) {
			ks = append(ks, string(k))
		}
		p := personFrom(id, created, version, size, flags, ks, val, tm)
		for _, enc := range []struct {
			name   string
			encode func(*unionfind.Person) []byte
			decode func([]byte) (unionfind.Person, error)
		}{
			{"v1", func(p *unionfind.Person) []byte { return appendPerson(nil, p) }, decodePerson},
			{"p/ value", func(p *unionfind.Person) []byte { return encodePersonValue(p, personMeta{}) }, func(b []byte) (unionfind.Person, error) { return decodePersonValue(p.ID, b) }},
			{"p/ value with a founder", func(p *unionfind.Person) []byte { return encodePersonValue(p, founderMeta(keys+"f")) }, func(b []byte) (unionfind.Person, error) {
				q, founder, err := decodeFounder(p.ID, b)
				if err == nil && founder != keys+"f" {
					t.Fatalf("founder %q, want %q", founder, keys+"f")
				}
				return q, err
			}},
			{"p/ value with a UUID founder", func(p *unionfind.Person) []byte { return encodePersonValue(p, founderMeta(uuid.UUID(p.ID).String())) }, func(b []byte) (unionfind.Person, error) {
				q, founder, err := decodeFounder(p.ID, b)
				if err == nil && founder != uuid.UUID(p.ID).String() {
					t.Fatalf("founder %q, want %q", founder, uuid.UUID(p.ID).String())
				}
				return q, err
			}},
		} {
			b := enc.encode(&p)
			got, err := enc.decode(b)
			if err != nil {
				t.Fatalf("decode person %s: %v", enc.name, err)
			}
			if !samePerson(p, got) {
				t.Fatalf("person %s round trip:\n got %+v\nwant %+v", enc.name, got, p)
			}
			if again := enc.encode(&got); !bytes.Equal(again, b) {
				t.Fatalf("person %s encoding not deterministic", enc.name)
			}
		}

		team, did := keys, string(val)
		m := unionfind.Mapping{PersonID: p.ID, Version: version, Deleted: flags&4 != 0,
			Blocked: flags&8 != 0, Gen: uint32(size)}
		if flags&16 != 0 {
			copy(m.Fresh[:], val)
			m.Fresh[15] |= 1 // never zero
		}
		if flags&128 != 0 {
			m.PersonID = unionfind.ImplicitPersonID(team, did)
		}
		mb := appendMapping(nil, team, did, m)
		if (mb[0] == codecV3) != (m.PersonID == unionfind.ImplicitPersonID(team, did)) {
			t.Fatalf("mapping %+v of (%q, %q) encoded as version %d", m, team, did, mb[0])
		}
		gm, err := decodeMapping(team, did, mb)
		if err != nil || gm != m {
			t.Fatalf("mapping round trip: %+v %v, want %+v", gm, err, m)
		}
		if again := appendMapping(nil, team, did, gm); !bytes.Equal(again, mb) {
			t.Fatalf("mapping encoding not deterministic")
		}
		full := appendMappingFull(nil, m)
		if gm, err := decodeMapping(team, did, full); err != nil || gm != m || full[0] == codecV3 {
			t.Fatalf("full mapping round trip: %+v %v, want %+v", gm, err, m)
		}
		kst := unionfind.KeyState{Holders: version, Erased: flags&32 != 0}
		if gk, err := decodeKeyState(appendKeyState(nil, kst)); err != nil || gk != kst {
			t.Fatalf("key state round trip: %+v %v, want %+v", gk, err, kst)
		}

		r := unionfind.Result{
			Persons:     []unionfind.PersonRow{{Team: keys, Person: p}},
			DistinctIDs: []unionfind.DistinctIDRow{{Team: "1", DistinctID: string(val), PersonID: p.ID, Version: version, Deleted: flags&1 != 0}},
			Warnings:    []unionfind.Warning{{Team: "1", Type: "t", EventUUID: "u", DistinctID: keys, Details: string(val), Timestamp: tm}},
		}
		if flags&64 != 0 {
			r.Merges = []unionfind.MergeRow{{Team: keys, Survivor: p.ID, Absorbed: m.Fresh, Moved: ks2(kst),
				Rule: unionfind.Rule(flags), Refused: string(val), Other: keys, Into: "i", EventUUID: "u", Timestamp: tm,
				Source: unionfind.Source{Topic: keys, Partition: int32(created), Offset: created, Index: uint32(version)},
				Log:    unionfind.LogPos{Partition: -int32(tm), Offset: -created, Time: tm}}}
			r.Erased = []unionfind.KeyRef{{DistinctID: keys, Gen: uint32(version)}, {}}
		}
		gr, err := decodeResult(encodeResult(&r))
		if err != nil {
			t.Fatalf("decode result: %v", err)
		}
		if !samePerson(gr.Persons[0].Person, p) || gr.Persons[0].Team != keys ||
			!reflect.DeepEqual(gr.DistinctIDs, r.DistinctIDs) || !reflect.DeepEqual(gr.Warnings, r.Warnings) ||
			!reflect.DeepEqual(gr.Merges, r.Merges) || !reflect.DeepEqual(gr.Erased, r.Erased) {
			t.Fatalf("result round trip:\n got %+v\nwant %+v", gr, r)
		}
	})
}

// FuzzDecode: the decoders never panic on any bytes; whatever they accept
// re-encodes to a value that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	p := personFrom([]byte("id"), 5, 1, 2, 1, []string{"a", "b"}, []byte(`1`), 9)
	f.Add(appendPerson(nil, &p))
	f.Add(encodePersonValue(&p, personMeta{}))
	f.Add(encodePersonValue(&p, founderMeta("anon-1")))
	f.Add(encodePersonValue(&p, founderMeta("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")))
	f.Add(encodePersonValue(&p, personMeta{founder: "anon-1", head: lpos{part: 3, off: 1 << 40, index: 2}, linked: true}))
	f.Add(encodePersonValue(&p, personMeta{linked: true}))
	f.Add(appendMapping(nil, "1", "a", unionfind.Mapping{Version: 3}))
	f.Add(appendMapping(nil, "1", "a", unionfind.Mapping{PersonID: unionfind.ImplicitPersonID("1", "a"), Version: 3, Held: true}))
	f.Add(encodeResult(&unionfind.Result{Persons: []unionfind.PersonRow{{Team: "1", Person: p}}}))
	f.Add([]byte{1, 0})
	f.Add([]byte{})
	f.Add(appendMapping(nil, "1", "a", unionfind.Mapping{Version: 3, Deleted: true, Blocked: true, Gen: 2, Fresh: unionfind.ImplicitPersonID("1", "a")}))
	f.Add(appendMapping(nil, "1", "a", unionfind.Mapping{Version: 3, Held: true, Gen: 1}))
	f.Add(appendKeyState(nil, unionfind.KeyState{Holders: 2, Erased: true}))
	f.Add(encodeResult(&unionfind.Result{
		Merges: []unionfind.MergeRow{{Team: "1", Moved: []string{"a", "b"}, Rule: unionfind.RuleSplit, Refused: "x", Log: unionfind.LogPos{Offset: 4}}},
		Erased: []unionfind.KeyRef{{DistinctID: "a", Gen: 1}},
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := decodeKeyState(b); err == nil {
			// (Varints may be overlong in what is read; what is written is
			// one encoding per value.)
			again := appendKeyState(nil, k)
			if q, err := decodeKeyState(again); err != nil || q != k || !bytes.Equal(appendKeyState(nil, q), again) {
				t.Fatalf("key state re-encode: %+v %v", q, err)
			}
		}
		if p, err := decodePerson(b); err == nil {
			q, err := decodePerson(appendPerson(nil, &p))
			if err != nil || !samePerson(p, q) {
				t.Fatalf("person re-encode: %v", err)
			}
		}
		// A p/ value of the person "id…" (a v1 value must name it).
		var key unionfind.PersonID
		copy(key[:], "id")
		if p, meta, err := decodePersonRecord(key, b); err == nil {
			q, m2, err := decodePersonRecord(key, encodePersonValue(&p, meta))
			if err != nil || !samePerson(p, q) || p.ID != key || m2 != meta {
				t.Fatalf("person value re-encode: %v", err)
			}
			// v2 and v3 values have one encoding each: what is accepted is
			// what the encoder writes (no long form of a UUID founder, no
			// flag set for nothing, no overlong lineage head).
			if len(b) > 0 && b[0] != codecV1 && !bytes.Equal(encodePersonValue(&p, meta), b) {
				t.Fatalf("p/ value %x decodes, but is written %x", b, encodePersonValue(&p, meta))
			}
			// A value relinked (relinkPersonValue) is the value written
			// with the new head.
			if len(b) > 0 && b[0] != codecV1 {
				head := lpos{part: 1, off: int64(len(b)), index: 3}
				got, err := relinkPersonValue(b, head)
				m := meta
				m.head, m.linked = head, true
				if err != nil || !bytes.Equal(got, encodePersonValue(&p, m)) {
					t.Fatalf("p/ value %x relinked to %x: %v", b, got, err)
				}
			}
		}
		// A d/ value of ("1", "a"): v1 and v2 values naming the implicit
		// person (written before v3) re-encode as v3.
		if m, err := decodeMapping("1", "a", b); err == nil {
			again := appendMapping(nil, "1", "a", m)
			q, err := decodeMapping("1", "a", again)
			if err != nil || q != m {
				t.Fatalf("mapping re-encode: %v", err)
			}
			if !bytes.Equal(appendMapping(nil, "1", "a", q), again) {
				t.Fatalf("mapping: encoding of %+v not stable", m)
			}
			if b[0] != codecV3 && !bytes.Equal(appendMappingFull(nil, m), b) {
				t.Fatalf("mapping: v%d value %x has another encoding %x", b[0], b, appendMappingFull(nil, m))
			}
		}
		if r, err := decodeResult(b); err == nil {
			if _, err := decodeResult(encodeResult(&r)); err != nil {
				t.Fatalf("result re-encode: %v", err)
			}
		}
		decodeHighWater(b)
		decodeI64("x", b)
	})
}

func isCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }

// ks2 turns a key state into a short list of ids (fuzz helper).
func ks2(k unionfind.KeyState) []string {
	if k.Erased {
		return []string{"a", ""}
	}
	return nil
}

// TestMappingCodecVersions: a mapping without the fields of
// docs/SEMANTICS.md §8 keeps its v1 bytes (so replicas written before keep
// their fingerprints, and the bytes below are what older versions wrote);
// one with them is v2; both decode; a v2 encoding of a v1 mapping is
// refused (one value, one encoding).
func TestMappingCodecVersions(t *testing.T) {
	id := unionfind.ImplicitPersonID("1", "a")
	plain := unionfind.Mapping{PersonID: id, Version: 300, Deleted: true}
	v1 := append(append([]byte{1, 1}, id[:]...), 0xac, 0x02)
	// id is "a"'s implicit person, not "b"'s: the mapping of "b" writes it.
	if got := appendMapping(nil, "1", "b", plain); !bytes.Equal(got, v1) {
		t.Fatalf("plain mapping encodes as %x, want the v1 bytes %x", got, v1)
	}
	for _, did := range []string{"a", "b"} {
		if m, err := decodeMapping("1", did, v1); err != nil || m != plain {
			t.Fatalf("v1 decode as %q's: %+v %v", did, m, err)
		}
	}
	// The mapping of "a" itself leaves its person out (v3); older v1
	// bytes of it still decode (above), and Fingerprint hashes those.
	v3 := []byte{3, 1, 0xac, 0x02, 0}
	if got := appendMapping(nil, "1", "a", plain); !bytes.Equal(got, v3) {
		t.Fatalf("implicit mapping encodes as %x, want the v3 bytes %x", got, v3)
	}
	if m, err := decodeMapping("1", "a", v3); err != nil || m != plain {
		t.Fatalf("v3 decode: %+v %v", m, err)
	}
	if m, err := decodeMapping("1", "b", v3); err != nil || m.PersonID != unionfind.ImplicitPersonID("1", "b") {
		t.Fatalf("v3 decode under another key: %+v %v, want that key's implicit person", m, err)
	}
	if got := appendMappingFull(nil, plain); !bytes.Equal(got, v1) {
		t.Fatalf("full form %x, want %x", got, v1)
	}
	fresh := unionfind.ImplicitPersonID("1", "b")
	for _, m := range []unionfind.Mapping{
		{PersonID: id, Version: 1, Gen: 1},
		{PersonID: id, Version: 2, Deleted: true, Blocked: true, Gen: 7},
		{PersonID: id, Version: 2, Deleted: true, Gen: 1, Fresh: fresh},
		{PersonID: id, Version: 2, Deleted: true, Gen: 1<<32 - 1},
		{PersonID: id, Version: 3, Held: true},
		{PersonID: id, Version: 3, Gen: 2, Held: true},
	} {
		b := appendMapping(nil, "1", "b", m)
		if b[0] != 2 {
			t.Fatalf("%+v encodes as version %d, want 2", m, b[0])
		}
		if got, err := decodeMapping("1", "b", b); err != nil || got != m {
			t.Fatalf("v2 round trip: %+v %v, want %+v", got, err, m)
		}
		b3 := appendMapping(nil, "1", "a", m)
		if b3[0] != 3 || len(b3) != len(b)-16 {
			t.Fatalf("%+v of its own id encodes as %x, want v3 without the person", m, b3)
		}
		if got, err := decodeMapping("1", "a", b3); err != nil || got != m {
			t.Fatalf("v3 round trip: %+v %v, want %+v", got, err, m)
		}
	}
	bad := map[string][]byte{
		"v2 of a v1 mapping":  append(append([]byte{2, 1}, id[:]...), 5, 0),
		"v1 with v2 flags":    append(append([]byte{1, 2}, id[:]...), 5),
		"v2 zero fresh":       append(append(append([]byte{2, 4}, id[:]...), 5, 1), make([]byte, 16)...),
		"v2 gen over 32 bits": append(append([]byte{2, 0}, id[:]...), 5, 0x80, 0x80, 0x80, 0x80, 0x10),
		"v2 truncated fresh":  append(append([]byte{2, 4}, id[:]...), 5, 1, 9),
		"version 4":           {4, 0, 5, 0},
		"v3 with a person":    append(append([]byte{3, 0}, id[:]...), 5, 0),
		"v3 unknown flag":     {3, 16, 5, 0},
		"v3 zero fresh":       append([]byte{3, 4, 5, 1}, make([]byte, 16)...),
		"v3 truncated":        {3, 0, 5},
		"v3 trailing":         {3, 0, 5, 0, 0},
		"v1 with held":        append(append([]byte{1, 8}, id[:]...), 5),
		"unknown flag":        append(append([]byte{2, 16}, id[:]...), 5, 1),
	}
	for name, b := range bad {
		if _, err := decodeMapping("1", "a", b); !isCorrupt(err) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	for name, b := range map[string][]byte{"flags": {1, 2, 0}, "trailing": {1, 0, 0, 0}, "version": {2, 0, 0}, "empty": {}} {
		if _, err := decodeKeyState(b); !isCorrupt(err) {
			t.Errorf("key state %s: %v, want ErrCorrupt", name, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	p := personFrom([]byte("id"), 5, 1, 2, 1, []string{"a", "b"}, []byte(`1`), 9)
	good := appendPerson(nil, &p)
	cases := map[string][]byte{
		"empty":           {},
		"version":         append([]byte{2}, good[1:]...),
		"flags":           append([]byte{1, 0x80}, good[2:]...),
		"truncated":       good[:len(good)-1],
		"trailing":        append(append([]byte(nil), good...), 0),
		"huge prop count": append(append([]byte(nil), good[:len(good)-1-3*4-4]...), 0xff, 0xff, 0xff, 0xff, 0x0f),
	}
	// properties out of order: swap the two keys' bytes.
	swapped := bytes.Replace(bytes.Replace(append([]byte(nil), good...), []byte{1, 'a'}, []byte{1, 'c'}, 1), []byte{1, 'b'}, []byte{1, 'a'}, 1)
	cases["order"] = swapped
	for name, b := range cases {
		if _, err := decodePerson(b); err == nil {
			t.Errorf("%s: decoded", name)
		} else if !isCorrupt(err) {
			t.Errorf("%s: %v is not ErrCorrupt", name, err)
		}
	}

	// p/ values: v2 (no id), or v1 naming the key's person.
	value := encodePersonValue(&p, personMeta{})
	if len(value) != len(good)-16 || value[0] != codecV2 {
		t.Fatalf("p/ value %x, want v2 without the id", value)
	}
	founded := encodePersonValue(&p, founderMeta("anon-1"))
	if len(founded) != len(value)+1+len("anon-1") || founded[0] != codecV3 {
		t.Fatalf("p/ value with a founder %x, want v3", founded)
	}
	for name, b := range map[string][]byte{"v1": good, "v2": value, "v3": founded} {
		if q, err := decodePersonValue(p.ID, b); err != nil || !samePerson(p, q) {
			t.Errorf("p/ value %s: %+v %v", name, q, err)
		}
	}
	if _, f, err := decodeFounder(p.ID, founded); err != nil || f != "anon-1" {
		t.Errorf("v3 founder %q, %v", f, err)
	}
	if _, f, err := decodeFounder(p.ID, value); err != nil || f != "" {
		t.Errorf("v2 founder %q, %v", f, err)
	}
	// A founder that is a canonical UUID is its 16 bytes; any other form
	// of a UUID is kept as written.
	const anon = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	short := encodePersonValue(&p, founderMeta(anon))
	if len(short) != len(value)+16 || short[0] != codecV3 || short[1]&personFounderUUID == 0 {
		t.Fatalf("p/ value with a UUID founder %x, want v3 with its 16 bytes", short)
	}
	for _, f := range []string{anon, strings.ToUpper(anon), "{" + anon + "}", anon[:35], "0190a1b2c3d47e5f8a9b0c1d2e3f4a5b"} {
		q, got, err := decodeFounder(p.ID, encodePersonValue(&p, founderMeta(f)))
		if err != nil || got != f || !samePerson(p, q) {
			t.Errorf("founder %q: got %q, %v", f, got, err)
		}
	}
	other := p.ID
	other[0] ^= 1
	for name, b := range map[string][]byte{
		"v1 of another person": good,
		"v4":                   append([]byte{4}, value[1:]...),
		"v3 empty founder":     append([]byte{3, value[1], 0}, value[2:]...),
		"v3 truncated founder": append([]byte{3, value[1], 100}, value[2:]...),
		"v3 without founder":   append([]byte{3}, value[1:2]...),
		"v3 trailing":          append(append([]byte(nil), founded...), 0),
		"v3 flags":             append([]byte{3, 0x80}, founded[2:]...),
		"v3 uuid truncated":    short[:2+15],
		"v3 uuid trailing":     append(append([]byte(nil), short...), 0),
		"v3 uuid not short":    append(append([]byte{3, short[1] &^ personFounderUUID, 36}, anon...), short[2+16:]...),
		"v2 uuid flag":         append([]byte{2, value[1] | personFounderUUID}, value[2:]...),
		"v2 flags":             append([]byte{2, 0x80}, value[2:]...),
		"v2 truncated":         value[:len(value)-1],
		"v2 trailing":          append(append([]byte(nil), value...), 0),
		"v2 with an id":        append(append([]byte{2, value[1]}, p.ID[:]...), value[2:]...),
	} {
		if _, err := decodePersonValue(other, b); !isCorrupt(err) && name == "v1 of another person" {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
		if _, err := decodePersonValue(p.ID, b); name != "v1 of another person" && !isCorrupt(err) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if _, err := decodePerson(value); !isCorrupt(err) {
		t.Errorf("a p/ value (v2) read as v1: %v, want ErrCorrupt", err)
	}
}

// appendPrefixed writes what appendBytes writes, for lengths on each side
// of a uvarint's size steps, after bytes already in the buffer.
func TestAppendPrefixed(t *testing.T) {
	for _, n := range []int{0, 1, 127, 128, 129, 16383, 16384, 70000} {
		x := strings.Repeat("p", n)
		want := appendBytes([]byte("head"), x)
		got := appendPrefixed([]byte("head"), func(b []byte) []byte { return append(b, x...) })
		if !bytes.Equal(got, want) {
			t.Fatalf("len %d: prefixed in place differs from appendBytes", n)
		}
	}
}

// TestRelinkPersonValue: moving a person's lineage head in the value a
// transaction wrote gives the value the encoder writes with that head,
// for every form of the value, with a head or none before.
func TestRelinkPersonValue(t *testing.T) {
	p := personFrom([]byte("id"), 5, 1, 2, 1, []string{"a", "b"}, []byte(`"x"`), 9)
	head := lpos{part: 2, off: 1 << 33, index: 4}
	for _, m := range []personMeta{
		{},
		{founder: "anon-1"},
		{founder: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"},
		{head: lpos{off: 7}, linked: true},
		{founder: "anon-1", head: lpos{part: 9, off: 1 << 50, index: 1 << 31}, linked: true},
	} {
		got, err := relinkPersonValue(encodePersonValue(&p, m), head)
		want := m
		want.head, want.linked = head, true
		if err != nil || !bytes.Equal(got, encodePersonValue(&p, want)) {
			t.Fatalf("%+v: %x %v", m, got, err)
		}
	}
	for name, v := range map[string][]byte{
		"v1":             appendPerson(nil, &p),
		"empty":          nil,
		"truncated head": {codecV2, personLinked, 0x80},
	} {
		if _, err := relinkPersonValue(v, head); !isCorrupt(err) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}
