package shred

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

func testRing(m *MasterKey) *Ring {
	return &Ring{topic: DefaultTopic, master: m, log: zap.NewNop(),
		keys: map[string][]kidEntry{}, pos: map[int32]int64{}, changed: make(chan struct{}), warned: map[string]bool{}}
}

// Whatever records identity_keys holds, the ring's reader never panics;
// every data record is either taken (a key or a tombstone, then what Get
// answers for it) or counted under exactly one reason and changes
// nothing; and the read position only moves forward.
func FuzzRingApply(f *testing.F) {
	m, _ := ParseMasterKey(hexKey)
	key := Key{1, 2, 3}
	rk := appendRecordKey(nil, "t", "a:b", 1, 9)
	f.Add(rk, encodeValue(nil, rk, key), false, int64(0))
	f.Add(rk, encodeValue(m, rk, key), true, int64(5))
	f.Add(rk, []byte(nil), false, int64(1))
	f.Add([]byte("t:a:1:1"), []byte{0}, true, int64(-1))
	f.Fuzz(func(t *testing.T, k, v []byte, withMaster bool, offset int64) {
		var mk *MasterKey
		if withMaster {
			mk = m
		}
		r := testRing(mk)
		r.apply(&kgo.Record{Topic: DefaultTopic, Partition: 0, Offset: 10})
		r.apply(&kgo.Record{Topic: DefaultTopic, Key: k, Value: v, Partition: 0, Offset: offset})
		s := r.stats
		// The first record (no key) is refused: one refusal more.
		refused := s.BadKey + s.BadValue + s.WrongSize + s.Unwrap - 1
		taken := int64(s.Present + s.Tombstoned)
		if s.Records != 2 || s.BadKey < 1 || refused+taken != 1 {
			t.Fatalf("stats %+v: a record neither taken nor refused once", s)
		}
		if r.pos[0] < 11 {
			t.Fatalf("position went back to %d", r.pos[0])
		}
		name, _, ok := parseRecordKey(k)
		if !ok {
			return
		}
		got, st := r.Get(name.team, name.did, name.gen, name.kid)
		switch {
		case len(v) == 0 && st != Tombstoned:
			t.Fatalf("a null value: %v", st)
		case len(v) > 0 && taken == 1 && st != Present:
			t.Fatalf("a taken key: %v", st)
		case taken == 0 && st != Unknown:
			t.Fatalf("a refused record changed the key: %v", st)
		case st == Present:
			if want, err := decodeValue(mk, k, v); err != nil || want != got {
				t.Fatalf("Get answered another key (%v)", err)
			}
		}
	})
}
