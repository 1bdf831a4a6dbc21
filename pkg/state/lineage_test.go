package state

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

func sampleRow() unionfind.MergeRow {
	return unionfind.MergeRow{
		Team:      "1",
		Survivor:  unionfind.ImplicitPersonID("1", "user"),
		Absorbed:  unionfind.ImplicitPersonID("1", "anon"),
		Moved:     []string{"anon", "anon:2"},
		Rule:      unionfind.RuleIdentify,
		Other:     "anon",
		Into:      "user",
		EventUUID: "e-1",
		Timestamp: 1_795_857_400_000,
		Source:    unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 7, Index: 1},
		Log:       unionfind.LogPos{Partition: 0, Offset: 12, Time: 1_795_857_401_000},
	}
}

// appendMergeRowV1 is the l/ value written before 2026-12-07, which
// replicas of then still hold.
func appendMergeRowV1(b []byte, row *unionfind.MergeRow) []byte {
	return appendMoved(appendMergeHead(append(b, codecV1), row), row.Moved)
}

// appendMergeRow is the l/ value written from 2026-12-07 to 2026-12-08
// (v2), which replicas of then still hold: v3's body without links.
func appendMergeRow(b []byte, row *unionfind.MergeRow) []byte {
	return appendMergeBody(append(b, codecV2), row)
}

// rowPos is row's l/ position at index 0.
func rowPos(row *unionfind.MergeRow) lpos {
	return lpos{part: row.Log.Partition, off: row.Log.Offset}
}

// identifyRow is an $identify as the applier writes it: a canonical event
// uuid, one id moved, the one the request named.
func identifyRow() unionfind.MergeRow {
	row := sampleRow()
	row.EventUUID = "0190c2a4-7b3e-7c1d-9f2e-4a5b6c7d8e9f"
	row.Moved = []string{"anon"}
	return row
}

func TestMergeRowRoundTrip(t *testing.T) {
	intoMoved := identifyRow()
	intoMoved.Moved = []string{"user"}
	upper := identifyRow()
	upper.EventUUID = strings.ToUpper(upper.EventUUID) // not canonical: kept as a string
	otherMoved := identifyRow()
	otherMoved.Moved = []string{"someone-else"}
	rows := []unionfind.MergeRow{sampleRow(), identifyRow(), intoMoved, upper, otherMoved, {},
		{Team: "t", Rule: unionfind.RuleDelete, Refused: unionfind.RefuseUnknownDistinctID, Into: "x", Timestamp: -5,
			Source: unionfind.Source{Partition: -1, Offset: -2}, Log: unionfind.LogPos{Partition: 1 << 30, Offset: 1 << 40, Time: -1}}}
	for _, row := range rows {
		at2 := lpos{part: row.Log.Partition, off: row.Log.Offset, index: 2}
		for _, enc := range []struct {
			name string
			b    []byte
			at   lpos
		}{
			{"v3", appendLinkedRow(nil, rowPos(&row), lineageLinks{}, appendMergeBody(nil, &row)), rowPos(&row)},
			{"v3 linked", appendLinkedRow(nil, at2, lineageLinks{
				survivor: lpos{part: row.Log.Partition, off: row.Log.Offset, index: 1}, hasSurvivor: true,
				absorbed: lpos{part: row.Log.Partition - 1, off: 1 << 41, index: 7}, hasAbsorbed: row.Log.Partition > 0}, appendMergeBody(nil, &row)), at2},
			{"v2", appendMergeRow(nil, &row), rowPos(&row)}, {"v1", appendMergeRowV1(nil, &row), rowPos(&row)}} {
			got, total, err := decodeMergeRow(row.Team, enc.at, enc.b, MaxLineageMovedKept)
			if err != nil {
				t.Fatalf("%s: %v", enc.name, err)
			}
			if total != uint64(len(row.Moved)) {
				t.Fatalf("%s: total %d", enc.name, total)
			}
			want := row
			if len(want.Moved) == 0 {
				want.Moved = nil
			}
			if len(got.Moved) == 0 {
				got.Moved = nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s round trip:\n got %+v\nwant %+v", enc.name, got, want)
			}
		}
	}
	// keepMoved cuts what is returned, not what is checked.
	row := sampleRow()
	got, total, err := decodeMergeRow("1", rowPos(&row), appendMergeRow(nil, &row), 1)
	if err != nil || total != 2 || !slices.Equal(got.Moved, []string{"anon"}) {
		t.Fatalf("keep 1: %v %d %v", got.Moved, total, err)
	}
	row = identifyRow()
	got, total, err = decodeMergeRow("1", rowPos(&row), appendMergeRow(nil, &row), 0)
	if err != nil || total != 1 || len(got.Moved) != 0 {
		t.Fatalf("keep 0: %v %d %v", got.Moved, total, err)
	}
}

// v2 leaves out what the key holds and writes an identify's uuid and moved
// id in fewer bytes: exactly these.
func TestMergeRowV2Size(t *testing.T) {
	row := identifyRow()
	v1, v2 := appendMergeRowV1(nil, &row), appendMergeRow(nil, &row)
	saved := 1 + len(row.Team) + // bytes team
		2 + // varint log partition (0) and offset (12): one byte each
		1 + 36 - 16 + // the uuid: 16 bytes, not bytes of 36 characters
		1 + 1 + 1 + len("anon") - // the moved list: total, n, bytes anon
		1 // v2's flags
	if len(v1)-len(v2) != saved {
		t.Fatalf("v1 %d bytes, v2 %d: saved %d, want %d", len(v1), len(v2), len(v1)-len(v2), saved)
	}
}

// A deletion of a person above MaxLineageMovedKept ids keeps the first ones
// and the total.
func TestMergeRowKeepsBoundedMoved(t *testing.T) {
	row := unionfind.MergeRow{Team: "1", Rule: unionfind.RuleDelete}
	for i := range MaxLineageMovedKept + 5 {
		row.Moved = append(row.Moved, "id-"+strconv.Itoa(100000+i))
	}
	slices.Sort(row.Moved)
	b := appendMergeRow(nil, &row)
	got, total, err := decodeMergeRow("1", lpos{}, b, MaxLineageMovedKept+10)
	if err != nil || total != MaxLineageMovedKept+5 || len(got.Moved) != MaxLineageMovedKept {
		t.Fatalf("got %d of %d: %v", len(got.Moved), total, err)
	}
}

func TestDecodeMergeRowRejects(t *testing.T) {
	row := sampleRow()
	good := appendMergeRow(nil, &row)
	unsorted := row
	unsorted.Moved = []string{"b", "a"}
	id := identifyRow()
	flagged := appendMergeRow(nil, &id)
	// A row whose other and into are one id, flagged as moving into: the
	// encoder flags other, so this is a second encoding of a row.
	sameIDs := id
	sameIDs.Into = sameIDs.Other
	intoForOther := appendMergeRow(nil, &sameIDs)
	if intoForOther[1]&lineageMovedOther == 0 {
		t.Fatal("the encoder did not flag other")
	}
	intoForOther[1] = intoForOther[1]&^lineageMovedOther | lineageMovedInto
	// The same identify with its flags cleared, each field written in full:
	// a second encoding of one row, which v2 refuses.
	unflagged := func(flags byte) []byte {
		r := id
		b := append([]byte{codecV2, flags, byte(r.Rule)}, r.Survivor[:]...)
		b = append(b, r.Absorbed[:]...)
		for _, s := range []string{r.Refused, r.Other, r.Into} {
			b = appendBytes(b, s)
		}
		if flags&lineageUUID != 0 {
			u, _ := parseCanonicalUUID(r.EventUUID)
			b = append(b, u[:]...)
		} else {
			b = appendBytes(b, r.EventUUID)
		}
		b = appendSource(binary.AppendVarint(b, r.Timestamp), r.Source)
		b = binary.AppendVarint(b, r.Log.Time)
		if flags&lineageMovedOther == 0 {
			b = append(b, 1, 1)
			b = appendBytes(b, "anon")
		}
		return b
	}
	if _, _, err := decodeMergeRow("1", lpos{}, unflagged(lineageUUID|lineageMovedOther), 10); err != nil {
		t.Fatalf("the helper's canonical encoding: %v", err)
	}
	cases := map[string][]byte{
		"empty":              {},
		"version":            append([]byte{9}, good[1:]...),
		"truncated":          good[:len(good)-1],
		"trailing":           append(append([]byte(nil), good...), 0),
		"unsorted":           appendMergeRow(nil, &unsorted),
		"unknown flag":       append([]byte{codecV2, flagged[1] | 1<<7}, flagged[2:]...),
		"both moved flags":   append([]byte{codecV2, flagged[1] | lineageMovedInto}, flagged[2:]...),
		"into for other":     intoForOther,
		"uuid as a string":   unflagged(lineageMovedOther),
		"moved other listed": unflagged(lineageUUID),
		"v1 truncated":       appendMergeRowV1(nil, &row)[:20],
		// v3 links (the row is at offset 0 here): each must name an
		// earlier row, in one form.
		"link to itself":       append([]byte{codecV3, linkSamePart, 0, 0, linkNone}, good[1:]...),
		"link before the log":  append([]byte{codecV3, linkSamePart, 1, 0, linkNone}, good[1:]...),
		"link to a later part": append([]byte{codecV3, linkNone, linkOtherPart, 1, 0, 0}, good[1:]...),
		"long form, same part": append([]byte{codecV3, linkOtherPart, 0, 0, 0, linkNone}, good[1:]...),
		"unknown link":         append([]byte{codecV3, 3, linkNone}, good[1:]...),
		"links truncated":      {codecV3, linkSamePart},
		"overlong link":        append([]byte{codecV3, linkSamePart, 0x80, 0, 0, linkNone}, good[1:]...),
	}
	for name, b := range cases {
		if _, _, err := decodeMergeRow("1", lpos{}, b, 10); !isCorrupt(err) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// Under a person's key an h/ value leaves that person out; under a
// distinct_id's it keeps both. Long values (older replicas) are read
// under both.
func TestHistValues(t *testing.T) {
	row := sampleRow()
	p := lpos{part: 0, off: 12, index: 1}
	for _, tc := range []struct {
		role byte
		key  *unionfind.PersonID
		len  int
	}{
		{roleSurvivor, &row.Survivor, 2 + 16 + 6},
		{roleAbsorbed, &row.Absorbed, 2 + 16 + 6},
		{roleMoved, nil, histValueLen + 6},
		{roleNamed, nil, histValueLen + 6},
	} {
		v := appendHist(nil, &row, tc.role)
		if len(v) != tc.len {
			t.Fatalf("role %d: %d bytes, want %d", tc.role, len(v), tc.len)
		}
		e, err := decodeHist(p, v, tc.key)
		want := histEntry{pos: p, rule: row.Rule, role: tc.role, survivor: row.Survivor, absorbed: row.Absorbed, time: row.Log.Time}
		if err != nil || e != want {
			t.Fatalf("role %d: %+v %v", tc.role, e, err)
		}
		// The long form, as before 2026-12-07, under the same key.
		long := append([]byte{byte(row.Rule), tc.role}, row.Survivor[:]...)
		long = binary.AppendVarint(append(long, row.Absorbed[:]...), row.Log.Time)
		if e, err := decodeHist(p, long, tc.key); err != nil || e != want {
			t.Fatalf("role %d, long value: %+v %v", tc.role, e, err)
		}
	}
	short := appendHist(nil, &row, roleSurvivor)
	bad := map[string]struct {
		v   []byte
		key *unionfind.PersonID
	}{
		"short without a person key":  {short, nil},
		"short of a distinct_id role": {append([]byte{short[0], roleMoved}, short[2:]...), &row.Survivor},
		"truncated":                   {short[:18], &row.Survivor},
		"trailing":                    {append(append([]byte(nil), short...), 0), &row.Survivor},
		"one byte":                    {short[:1], &row.Survivor},
	}
	for name, tc := range bad {
		if _, err := decodeHist(p, tc.v, tc.key); !isCorrupt(err) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
}

// FuzzDecodeMergeRow: the lineage decoders never panic; what they accept
// re-encodes to the same bytes (v2 has one encoding per row).
func FuzzDecodeMergeRow(f *testing.F) {
	row := sampleRow()
	id := identifyRow()
	f.Add(appendMergeRow(nil, &row))
	f.Add(appendMergeRow(nil, &id))
	f.Add(appendMergeRowV1(nil, &row))
	f.Add(appendLinkedRow(nil, lpos{off: 12}, lineageLinks{survivor: lpos{off: 3, index: 1}, hasSurvivor: true}, appendMergeBody(nil, &id)))
	f.Add(appendHist(nil, &row, roleMoved))
	f.Add(appendHist(nil, &row, roleSurvivor))
	f.Add([]byte{1})
	key := unionfind.ImplicitPersonID("1", "key")
	f.Fuzz(func(t *testing.T, b []byte) {
		at := lpos{off: 12}
		r, total, err := decodeMergeRow("1", at, b, MaxLineageMovedKept)
		if err == nil && total == uint64(len(r.Moved)) {
			again := appendMergeRow(nil, &r)
			switch b[0] {
			case codecV1:
				again = appendMergeRowV1(nil, &r)
			case codecV3:
				d := decoder{b: b[1:]}
				again = appendLinkedRow(nil, at, readLinks(&d, at), appendMergeBody(nil, &r))
			}
			if string(again) != string(b) {
				t.Fatalf("re-encode differs:\n%x\n%x", again, b)
			}
		}
		decodeHist(lpos{}, b, nil)
		if e, err := decodeHist(lpos{}, b, &key); err == nil && len(b) <= histValueLen {
			h := unionfind.MergeRow{Rule: e.rule, Survivor: e.survivor, Absorbed: e.absorbed, Log: unionfind.LogPos{Time: e.time}}
			if again := appendHist(nil, &h, e.role); string(again) != string(b) {
				t.Fatalf("index value re-encodes differently:\n%x\n%x", again, b)
			}
		}
		readPos(b)
		describeKey(append([]byte("h/"), b...))
		describeKey(append([]byte("l/"), b...))
	})
}

// A replica of before 2026-12-07 holds v1 rows: they read as before, and
// an op retried after the upgrade (the same row again) is not stored a
// second time.
func TestLineageV1RowsAfterUpgrade(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			row := identifyRow()
			k := lineageKey(nil, row.Team, rowPos(&row))
			must(t, s.eng.update(func(w kvWriter) error { return w.set(k, appendMergeRowV1(nil, &row)) }))
			must(t, s.Update(func(tx Tx) error { return tx.PutLineage(row) }))
			var rows []unionfind.MergeRow
			must(t, s.EachLineage(func(r unionfind.MergeRow, _ uint64) error { rows = append(rows, r); return nil }))
			if len(rows) != 1 || !reflect.DeepEqual(rows[0], row) {
				t.Fatalf("rows after the retry: %+v", rows)
			}
			other := row
			other.Timestamp++ // a different row at the same op: stored next
			must(t, s.Update(func(tx Tx) error { return tx.PutLineage(other) }))
			rows = rows[:0]
			must(t, s.EachLineage(func(r unionfind.MergeRow, _ uint64) error { rows = append(rows, r); return nil }))
			if len(rows) != 2 || !reflect.DeepEqual(rows[1], other) {
				t.Fatalf("rows: %+v", rows)
			}
		})
	}
}

func TestPutLineageIndexAndIdempotence(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			a := sampleRow()
			b := sampleRow()
			b.Rule, b.Refused, b.Moved = unionfind.RuleAlias, unionfind.WarnAlreadyIdentified, nil
			err := s.Update(func(tx Tx) error {
				for _, r := range []unionfind.MergeRow{a, b, a} { // the third is a repeat: nothing
					if err := tx.PutLineage(r); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Update(func(tx Tx) error { return tx.PutLineage(b) }); err != nil {
				t.Fatal(err)
			}
			var n int
			err = s.View(func(v Tx) error {
				r, _ := v.(*tx).reader()
				return r.scan(tagLineage, nil, true, func(k, _ []byte) (bool, error) { n++; return true, nil })
			})
			if err != nil || n != 2 {
				t.Fatalf("%d rows stored (%v), want 2", n, err)
			}
			v, err := s.Lineage("1", "anon")
			if err != nil {
				t.Fatal(err)
			}
			if len(v.Moves) != 1 || v.Moves[0].LogIndex != 0 || v.Moves[0].Rule != "identify" {
				t.Fatalf("moves %+v", v.Moves)
			}
			if len(v.Refusals) != 1 || v.Refusals[0].LogIndex != 1 || v.Refusals[0].Refused != unionfind.WarnAlreadyIdentified {
				t.Fatalf("refusals %+v", v.Refusals)
			}
			if err := s.View(func(tx Tx) error { return tx.PutLineage(a) }); !errors.Is(err, ErrReadOnly) {
				t.Fatalf("PutLineage in View: %v", err)
			}
		})
	}
}

// Moved ids out of order or repeated are stored sorted and unique.
func TestPutLineageSortsMoved(t *testing.T) {
	s := NewMemory()
	row := sampleRow()
	row.Moved = []string{"c", "a", "c", "b"}
	if err := s.Update(func(tx Tx) error { return tx.PutLineage(row) }); err != nil {
		t.Fatal(err)
	}
	v, err := s.Lineage("1", "c")
	if err != nil || len(v.Moves) != 1 || !slices.Equal(v.Moves[0].DistinctIDsMoved, []string{"a", "b", "c"}) || v.Moves[0].DistinctIDsMovedCount != 3 {
		t.Fatalf("%+v %v", v.Moves, err)
	}
}

func TestPutLineageRefusesUnbounded(t *testing.T) {
	long := strings.Repeat("x", 1025)
	cases := map[string]func(r *unionfind.MergeRow){
		"long team":      func(r *unionfind.MergeRow) { r.Team = long },
		"long moved id":  func(r *unionfind.MergeRow) { r.Moved = []string{long} },
		"long other":     func(r *unionfind.MergeRow) { r.Other = long },
		"long uuid":      func(r *unionfind.MergeRow) { r.EventUUID = long },
		"negative":       func(r *unionfind.MergeRow) { r.Log.Offset = -1 },
		"refused moving": func(r *unionfind.MergeRow) { r.Refused = unionfind.WarnIllegalMerge },
	}
	s := NewMemory()
	for name, mut := range cases {
		row := sampleRow()
		mut(&row)
		err := s.Update(func(tx Tx) error { return tx.PutLineage(row) })
		if !errors.Is(err, ErrInvalidLineage) {
			t.Errorf("%s: %v, want ErrInvalidLineage", name, err)
		}
	}
	fp, err := s.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	empty, _ := NewMemory().Fingerprint()
	if fp != empty {
		t.Fatal("a refused row wrote something")
	}
}

// lineageScenario applies ops through unionfind.Graph and, for each, writes
// the lineage row the op implies (built by hand from the persons before and
// after: Graph.Apply does not yet produce them), recording where every id
// was after each op.
type lineageScenario struct {
	t     *testing.T
	s     *Store
	g     unionfind.Graph
	ids   []string
	off   int64
	after []map[string]unionfind.PersonID // per op
	times []int64
	rows  []unionfind.MergeRow
}

func (sc *lineageScenario) find(id string) unionfind.PersonID {
	p, _, err := sc.s.Find("1", id)
	if err != nil {
		sc.t.Fatal(err)
	}
	return p.ID
}

// apply applies op at log time tm; row (if not nil) is completed with the
// log position and stored.
func (sc *lineageScenario) apply(op unionfind.Op, tm int64, row func(before, after map[string]unionfind.PersonID) *unionfind.MergeRow) unionfind.Result {
	sc.t.Helper()
	before := map[string]unionfind.PersonID{}
	for _, id := range sc.ids {
		before[id] = sc.find(id)
	}
	op.Team = "1"
	op.Source = unionfind.Source{Topic: "events_raw", Offset: sc.off}
	op.Log = unionfind.LogPos{Offset: sc.off, Time: tm}
	var res unionfind.Result
	err := sc.s.Update(func(tx Tx) error {
		var err error
		if res, err = sc.g.Apply(tx, &op); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		sc.t.Fatal(err)
	}
	after := map[string]unionfind.PersonID{}
	for _, id := range sc.ids {
		after[id] = sc.find(id)
	}
	if row != nil {
		if r := row(before, after); r != nil {
			r.Team, r.Log, r.Source, r.EventUUID, r.Timestamp = "1", op.Log, op.Source, op.EventUUID, op.Timestamp
			// The applier stores an op's rows in the transaction that
			// applied it, which wrote the row's persons; so does this.
			if err := sc.s.Update(func(tx Tx) error { return putLineageWithPersons(tx, *r) }); err != nil {
				sc.t.Fatal(err)
			}
			sc.rows = append(sc.rows, *r)
		}
	}
	sc.after = append(sc.after, after)
	sc.times = append(sc.times, tm)
	sc.off++
	return res
}

// moved builds the row of a merge from where the ids were before and after.
func moved(rule unionfind.Rule, other, into string, deleted unionfind.PersonID) func(before, after map[string]unionfind.PersonID) *unionfind.MergeRow {
	return func(before, after map[string]unionfind.PersonID) *unionfind.MergeRow {
		r := &unionfind.MergeRow{Rule: rule, Other: other, Into: into}
		for id, p := range after {
			if rule == unionfind.RuleDelete && before[id] == deleted || rule != unionfind.RuleDelete && before[id] != p {
				r.Moved = append(r.Moved, id)
				r.Survivor, r.Absorbed = p, before[id]
			}
		}
		slices.Sort(r.Moved)
		if rule == unionfind.RuleDelete {
			r.Survivor, r.Absorbed = unionfind.PersonID{}, deleted
		}
		return r
	}
}

func TestLineageScenario(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) { lineageScenarioRun(t, ec.make(t)) })
	}
}

func lineageScenarioRun(t *testing.T, s *Store) {
	sc := &lineageScenario{t: t, s: s, ids: []string{"anon1", "anon2", "user1", "user2"}}
	ev := func(did string) unionfind.Op {
		return unionfind.Op{Kind: unionfind.OpEvent, DistinctID: did, EventUUID: "e-" + did, Timestamp: 1}
	}
	// 1000: anon1's first event (not a merge: no row).
	sc.apply(ev("anon1"), 1000, nil)
	// 2000: user1 $identify anon1: user1 (implicit) moves into anon1's person.
	op := ev("user1")
	op.Merge = &unionfind.Merge{Other: "anon1", Guarded: true, Rule: unionfind.RuleIdentify}
	sc.apply(op, 2000, moved(unionfind.RuleIdentify, "anon1", "user1", unionfind.PersonID{}))
	pUser1 := sc.find("user1")
	if pUser1 != unionfind.ImplicitPersonID("1", "anon1") {
		t.Fatal("identify did not merge")
	}
	// 3000: user1 $merge_dangerously anon2 (implicit): anon2 moves.
	op = ev("user1")
	op.Merge = &unionfind.Merge{Other: "anon2", Rule: unionfind.RuleMergeDangerously}
	sc.apply(op, 3000, moved(unionfind.RuleMergeDangerously, "anon2", "user1", unionfind.PersonID{}))
	// 4000: user2 $identify user1: refused, user1's person is identified.
	sc.apply(ev("user2"), 3500, nil)
	op = ev("user2")
	op.Merge = &unionfind.Merge{Other: "user1", Guarded: true, Rule: unionfind.RuleIdentify}
	res := sc.apply(op, 4000, func(before, _ map[string]unionfind.PersonID) *unionfind.MergeRow {
		return &unionfind.MergeRow{Rule: unionfind.RuleIdentify, Refused: unionfind.WarnAlreadyIdentified, Other: "user1", Into: "user2",
			Survivor: before["user2"], Absorbed: before["user1"]}
	})
	if len(res.Warnings) == 0 || res.Warnings[0].Type != unionfind.WarnAlreadyIdentified {
		t.Fatalf("the identify was not refused: %+v", res.Warnings)
	}

	// Same person: the chains of both, and the step that joined them.
	pv, err := s.Path("1", "anon1", "anon2")
	if err != nil {
		t.Fatal(err)
	}
	if !pv.SamePerson || pv.Joined == nil || pv.Joined.Rule != "merge_dangerously" || len(pv.MovesA) != 0 || len(pv.MovesB) != 1 {
		t.Fatalf("path anon1–anon2: %+v", pv)
	}
	if len(pv.Refusals) != 0 || pv.Separated != nil {
		t.Fatalf("path of one person has refusals: %+v", pv)
	}
	// Apart: the refusal between user2 and an id of user1's person (anon2
	// was never named: found through its person).
	pv, err = s.Path("1", "anon2", "user2")
	if err != nil {
		t.Fatal(err)
	}
	if pv.SamePerson || len(pv.Refusals) != 1 || pv.Refusals[0].Refused != unionfind.WarnAlreadyIdentified || pv.Separated != nil || pv.Joined != nil {
		t.Fatalf("path anon2–user2: %+v", pv)
	}

	lv, err := s.Lineage("1", "anon2")
	if err != nil {
		t.Fatal(err)
	}
	if lv.Implicit || lv.PersonID != pUser1.String() || len(lv.Moves) != 1 || lv.Moves[0].Rule != "merge_dangerously" ||
		!slices.Equal(lv.Moves[0].DistinctIDsMoved, []string{"anon2"}) || lv.Moves[0].SurvivorPersonID != pUser1.String() {
		t.Fatalf("lineage anon2: %+v", lv)
	}
	if len(lv.Grew) != 2 || lv.Grew[0].LogOffset != 1 || lv.Grew[1].LogOffset != 2 {
		t.Fatalf("grew: %+v", lv.Grew)
	}
	if lv.Moves[0].SourceTopic != "events_raw" || lv.Moves[0].LogTime != "1970-01-01T00:00:03.000Z" || lv.Moves[0].EventUUID != "e-user1" {
		t.Fatalf("step fields: %+v", lv.Moves[0])
	}
	lv, err = s.Lineage("1", "user1")
	if err != nil {
		t.Fatal(err)
	}
	if len(lv.Refusals) != 1 || len(lv.Grew) != 2 {
		t.Fatalf("lineage user1: %+v", lv)
	}

	// 6000: delete user1's person (a version-1 delete names the person).
	sc.apply(unionfind.Op{Kind: unionfind.OpDeletePerson, PersonID: pUser1}, 6000, moved(unionfind.RuleDelete, "", "", pUser1))
	pv, err = s.Path("1", "anon1", "user1")
	if err != nil {
		t.Fatal(err)
	}
	if pv.SamePerson || pv.Separated == nil || pv.Separated.Rule != "delete" {
		t.Fatalf("path after delete: %+v", pv)
	}
	// The deleted person's lineage ends: its id, if re-created, grows anew.
	lv, err = s.Lineage("1", "user1")
	if err != nil {
		t.Fatal(err)
	}
	if !lv.Implicit || len(lv.Moves) != 2 || lv.Moves[1].Rule != "delete" || lv.Moves[1].DistinctIDsMovedCount != 3 || len(lv.Grew) != 0 {
		t.Fatalf("lineage after delete: %+v", lv)
	}

	// AsOf agrees with where every id was after each op, at that op's time
	// and until the next one; before the first, every id is implicit.
	for _, id := range sc.ids {
		v, err := s.AsOf("1", id, time.UnixMilli(999))
		if err != nil {
			t.Fatal(err)
		}
		if v.PersonID != unionfind.ImplicitPersonID("1", id).String() || !v.ImplicitID {
			t.Fatalf("%s before everything: %+v", id, v)
		}
		for i, tm := range sc.times {
			for _, at := range []int64{tm, tm + 1} {
				if i+1 < len(sc.times) && at >= sc.times[i+1] {
					continue
				}
				v, err := s.AsOf("1", id, time.UnixMilli(at))
				if err != nil {
					t.Fatal(err)
				}
				if want := sc.after[i][id].String(); v.PersonID != want {
					t.Fatalf("%s as of %d: %s (%s), want %s", id, at, v.PersonID, v.Basis, want)
				}
			}
		}
	}
}

// Split and delete steps, written directly: AsOf follows the rule
// documented on Store.AsOf, for every basis.
func TestAsOfRule(t *testing.T) {
	s := NewMemory()
	P := unionfind.ImplicitPersonID("1", "user")
	S := unionfind.ImplicitPersonID("1", "split-person")
	X := unionfind.ImplicitPersonID("1", "x")
	F := unionfind.ImplicitPersonID("1", "fresh")
	rows := []unionfind.MergeRow{
		{Rule: unionfind.RuleIdentify, Survivor: P, Absorbed: X, Moved: []string{"x"}, Log: unionfind.LogPos{Offset: 10, Time: 100}},
		{Rule: unionfind.RuleSplit, Survivor: S, Absorbed: P, Moved: []string{"x", "y"}, Log: unionfind.LogPos{Offset: 20, Time: 200}},
		{Rule: unionfind.RuleDelete, Absorbed: S, Moved: []string{"x", "y"}, Log: unionfind.LogPos{Offset: 30, Time: 300}},
		// x's next event started F (a fresh person); then F merged into P.
		{Rule: unionfind.RuleAlias, Survivor: P, Absorbed: F, Moved: []string{"x"}, Log: unionfind.LogPos{Offset: 40, Time: 400}},
		// A record time going backwards: the prefix rule stops before it.
		{Rule: unionfind.RuleDelete, Absorbed: P, Moved: []string{"x"}, Log: unionfind.LogPos{Offset: 50, Time: 350}},
	}
	err := s.Update(func(tx Tx) error {
		for _, r := range rows {
			r.Team = "1"
			if err := tx.PutLineage(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		at    int64
		want  unionfind.PersonID
		basis string
	}{
		{50, X, BasisBeforeNext},
		{100, P, BasisMoved},
		{250, S, BasisMoved},
		{320, F, BasisBeforeNext}, // after a deletion: the person its next event started
		{360, F, BasisBeforeNext}, // offset 50 (time 350) is after offset 40 (time 400): not yet
		{399, F, BasisBeforeNext},
		{400, X, BasisCurrent}, // after the last deletion: its person now (implicit)
	}
	for _, c := range cases {
		v, err := s.AsOf("1", "x", time.UnixMilli(c.at))
		if err != nil {
			t.Fatal(err)
		}
		if v.PersonID != c.want.String() || v.Basis != c.basis {
			t.Errorf("as of %d: %s (%s), want %s (%s)", c.at, v.PersonID, v.Basis, c.want, c.basis)
		}
	}
	v, err := s.AsOf("1", "never-moved", time.UnixMilli(500))
	if err != nil || v.Basis != BasisImplicit || !v.ImplicitID || v.Step != nil {
		t.Fatalf("never moved: %+v %v", v, err)
	}
	// S grew by the split and ended with its deletion: nothing since.
	lv, err := s.Lineage("1", "y")
	if err != nil {
		t.Fatal(err)
	}
	if len(lv.Moves) != 2 || lv.Moves[0].Rule != "split" || lv.Moves[1].Rule != "delete" {
		t.Fatalf("lineage y: %+v", lv.Moves)
	}
}

// Lineage keys are not identity state: storing rows leaves Fingerprint
// as it was.
func TestLineageNotFingerprinted(t *testing.T) {
	s := NewMemory()
	before, _ := s.Fingerprint()
	if err := s.Update(func(tx Tx) error { return tx.PutLineage(sampleRow()) }); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Fingerprint()
	if before != after {
		t.Fatal("lineage changed the fingerprint")
	}
}

func TestLineageKeysDescribed(t *testing.T) {
	p := lpos{part: 1, off: 2, index: 3}
	for _, k := range [][]byte{
		lineageKey(nil, "1", p),
		appendPos(histIDPrefix(nil, "1", histMoved, "secret-id"), p),
		appendPos(histPersonPrefix(nil, "1", unionfind.ImplicitPersonID("1", "x")), p),
	} {
		d := describeKey(k)
		if strings.Contains(d, "malformed") || strings.Contains(d, "secret-id") {
			t.Errorf("%q", d)
		}
	}
}

// The lineage keys and values depend only on the rows, not on how they
// were batched into transactions or on the engine.
func TestLineageDeterministic(t *testing.T) {
	rows := make([]unionfind.MergeRow, 0, 40)
	for i := range 40 {
		r := sampleRow()
		r.Log.Offset = int64(i / 2) // two rows per op
		r.Moved = []string{"id-" + strconv.Itoa(i), "id-" + strconv.Itoa(i+1)}
		if i%5 == 0 {
			r.Refused, r.Moved = unionfind.WarnMergeMoveLimit, nil
		}
		rows = append(rows, r)
	}
	dump := func(s *Store) map[string]string {
		out := map[string]string{}
		err := s.View(func(v Tx) error {
			r, _ := v.(*tx).reader()
			for _, tag := range [][]byte{tagLineage, tagHistory} {
				err := r.scan(tag, nil, false, func(k, val []byte) (bool, error) {
					out[string(k)] = string(val)
					return true, nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var want map[string]string
	for _, ec := range engineCases() {
		for _, batch := range []int{1, 7, len(rows)} {
			s := ec.make(t)
			for i := 0; i < len(rows); i += batch {
				err := s.Update(func(tx Tx) error {
					for _, r := range rows[i:min(i+batch, len(rows))] {
						if err := tx.PutLineage(r); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			got := dump(s)
			if want == nil {
				want = got
				if len(want) < 40 {
					t.Fatalf("only %d keys", len(want))
				}
			} else if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s, batches of %d: lineage keys differ", ec.name, batch)
			}
		}
	}
}

// putLineageWithPersons writes row's persons again (those that exist),
// then the row: what the applier's transaction of an op does, where the
// op wrote them.
func putLineageWithPersons(tx Tx, row unionfind.MergeRow) error {
	for _, id := range []unionfind.PersonID{row.Survivor, row.Absorbed} {
		p, ok, err := tx.Person(row.Team, id)
		if err != nil {
			return err
		}
		if ok {
			if err := tx.PutPerson(row.Team, p); err != nil {
				return err
			}
		}
	}
	return tx.PutLineage(row)
}

// A person grown by more than 500 steps shows the newest 500, marked
// truncated.
func TestLineageTruncates(t *testing.T) {
	s := NewMemory()
	P := unionfind.ImplicitPersonID("1", "big")
	err := s.Update(func(tx Tx) error {
		if err := tx.PutPerson("1", unionfind.Person{ID: P, Size: 1}); err != nil {
			return err
		}
		for i := range maxViewSteps + 100 {
			id := "a-" + strconv.Itoa(i)
			err := tx.PutLineage(unionfind.MergeRow{Team: "1", Rule: unionfind.RuleAlias, Survivor: P,
				Absorbed: unionfind.ImplicitPersonID("1", id), Moved: []string{id}, Log: unionfind.LogPos{Offset: int64(i)}})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	grew, cut, err := func() (g []histEntry, cut bool, err error) {
		err = s.View(func(v Tx) error {
			g, cut, err = v.(*tx).growth("1", P)
			return err
		})
		return
	}()
	if err != nil || !cut || len(grew) != maxViewSteps || grew[0].pos.off != 100 || grew[len(grew)-1].pos.off != maxViewSteps+99 {
		t.Fatalf("growth: %d entries, cut %v, first %+v: %v", len(grew), cut, grew[0].pos, err)
	}
	for i := 1; i < len(grew); i++ {
		if grew[i-1].pos.cmp(grew[i].pos) >= 0 {
			t.Fatal("growth out of log order")
		}
	}
}

func TestEachLineage(t *testing.T) {
	st := NewMemory()
	rows := []unionfind.MergeRow{
		{Team: "1", Rule: unionfind.RuleIdentify, Moved: []string{"b", "a"}, Log: unionfind.LogPos{Partition: 0, Offset: 3}},
		{Team: "1", Rule: unionfind.RuleAlias, Refused: unionfind.WarnAlreadyIdentified, Other: "x", Into: "y", Log: unionfind.LogPos{Partition: 0, Offset: 1}},
		{Team: "2", Rule: unionfind.RuleDelete, Moved: []string{"c"}, Log: unionfind.LogPos{Partition: 1, Offset: 0}},
	}
	if err := st.Update(func(tx Tx) error {
		for _, r := range rows {
			if err := tx.PutLineage(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.EachLineage(func(r unionfind.MergeRow, moved uint64) error {
		got = append(got, r.Team+"@"+strconv.FormatInt(r.Log.Offset, 10)+" "+r.Rule.String()+" "+strings.Join(r.Moved, ",")+" "+strconv.FormatUint(moved, 10))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"1@1 alias  0", "1@3 identify a,b 2", "2@0 delete c 1"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// chainHistory is the log offsets of person id's growth, and whether it
// was cut.
func chainHistory(t *testing.T, s *Store, id unionfind.PersonID) (offs []int64, cut bool) {
	t.Helper()
	must(t, s.View(func(v Tx) error {
		g, c, err := v.(*tx).growth("1", id)
		for _, e := range g {
			offs = append(offs, e.pos.off)
		}
		cut = c
		return err
	}))
	return offs, cut
}

// TestLineageChainAfterUpgrade: a replica of before lineage chains holds
// h/ rows for its persons' history; rows written since are chained from
// the persons' values. A person's growth reads both, in log order, and
// honours an end (absorbed, deleted) in either.
func TestLineageChainAfterUpgrade(t *testing.T) {
	P := unionfind.ImplicitPersonID("1", "p")
	other := func(i int) unionfind.PersonID { return unionfind.ImplicitPersonID("1", "o-"+strconv.Itoa(i)) }
	grow := func(off int64) unionfind.MergeRow {
		id := "a-" + strconv.Itoa(int(off))
		return unionfind.MergeRow{Team: "1", Rule: unionfind.RuleAlias, Survivor: P, Absorbed: other(int(off)),
			Moved: []string{id}, Other: id, Into: "p", Log: unionfind.LogPos{Offset: off}}
	}
	end := func(off int64) unionfind.MergeRow {
		return unionfind.MergeRow{Team: "1", Rule: unionfind.RuleMergeDangerously, Survivor: other(int(off)), Absorbed: P,
			Moved: []string{"p"}, Other: "p", Into: "x", Log: unionfind.LogPos{Offset: off}}
	}
	// oldRow writes row as a replica of before did: a v2 l/ value and the
	// person index rows.
	oldRow := func(w kvWriter, row unionfind.MergeRow) error {
		p := rowPos(&row)
		if err := w.set(lineageKey(nil, "1", p), appendMergeRow(nil, &row)); err != nil {
			return err
		}
		for _, r := range []struct {
			id   unionfind.PersonID
			role byte
		}{{row.Survivor, roleSurvivor}, {row.Absorbed, roleAbsorbed}} {
			if err := w.set(appendPos(histPersonPrefix(nil, "1", r.id), p), appendHist(nil, &row, r.role)); err != nil {
				return err
			}
		}
		return nil
	}
	newRow := func(s *Store, row unionfind.MergeRow) {
		must(t, s.Update(func(tx Tx) error {
			if err := tx.PutPerson("1", unionfind.Person{ID: P, Size: 2}); err != nil {
				return err
			}
			return tx.PutLineage(row)
		}))
	}
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			// Old rows 1, 2 (growth), then new rows 3, 4: all four.
			s := ec.make(t)
			must(t, s.Update(func(tx Tx) error { return tx.PutPerson("1", unionfind.Person{ID: P, Size: 1}) }))
			must(t, s.eng.update(func(w kvWriter) error {
				return errors.Join(oldRow(w, grow(1)), oldRow(w, grow(2)))
			}))
			newRow(s, grow(3))
			newRow(s, grow(4))
			offs, cut := chainHistory(t, s, P)
			require.Equal(t, []int64{1, 2, 3, 4}, offs)
			require.False(t, cut)

			// An old end: old rows 1, end 2, 3; new 4: 3 and 4.
			s = ec.make(t)
			must(t, s.eng.update(func(w kvWriter) error {
				return errors.Join(oldRow(w, grow(1)), oldRow(w, end(2)), oldRow(w, grow(3)))
			}))
			newRow(s, grow(4))
			offs, _ = chainHistory(t, s, P)
			require.Equal(t, []int64{3, 4}, offs)

			// A new end: old 1; new 2, end 3, 4: only 4 (the chain stops at
			// the end and reads no h/ row).
			s = ec.make(t)
			must(t, s.eng.update(func(w kvWriter) error { return oldRow(w, grow(1)) }))
			newRow(s, grow(2))
			newRow(s, end(3))
			newRow(s, grow(4))
			offs, _ = chainHistory(t, s, P)
			require.Equal(t, []int64{4}, offs)

			// A split takes ids out and does not end the person: it is
			// passed over.
			s = ec.make(t)
			newRow(s, grow(1))
			split := end(2)
			split.Rule = unionfind.RuleSplit
			newRow(s, split)
			newRow(s, grow(3))
			offs, _ = chainHistory(t, s, P)
			require.Equal(t, []int64{1, 3}, offs)
		})
	}
}

// TestLineageChainCorrupt: a person's head or a link that leads to a
// missing row or to a row of another person is reported as corrupt, never
// followed elsewhere.
func TestLineageChainCorrupt(t *testing.T) {
	P := unionfind.ImplicitPersonID("1", "p")
	Q := unionfind.ImplicitPersonID("1", "q")
	s := NewMemory()
	// P's head names offset 9, where no row is.
	must(t, s.eng.update(func(w kvWriter) error {
		return w.set(personKey(nil, "1", P), encodePersonValue(&unionfind.Person{ID: P, Size: 1}, personMeta{head: lpos{off: 9}, linked: true}))
	}))
	_, err := func() (any, error) {
		return nil, s.View(func(v Tx) error { _, _, err := v.(*tx).growth("1", P); return err })
	}()
	require.True(t, isCorrupt(err), "%v", err)
	// P's head names a row of Q.
	row := unionfind.MergeRow{Team: "1", Rule: unionfind.RuleAlias, Survivor: Q, Moved: []string{"x"}, Other: "x", Into: "q", Log: unionfind.LogPos{Offset: 9}}
	must(t, s.eng.update(func(w kvWriter) error {
		return w.set(lineageKey(nil, "1", rowPos(&row)), appendLinkedRow(nil, rowPos(&row), lineageLinks{}, appendMergeBody(nil, &row)))
	}))
	err = s.View(func(v Tx) error { _, _, err := v.(*tx).growth("1", P); return err })
	require.True(t, isCorrupt(err), "%v", err)
	require.ErrorContains(t, err, "another person")
}

// TestLineageChainHopBound: a walk reads at most maxChainHops rows of a
// chain; a person whose growth steps lie beyond more splits than that
// shows those it reached, marked truncated.
func TestLineageChainHopBound(t *testing.T) {
	P := unionfind.ImplicitPersonID("1", "p")
	s := NewMemory()
	row := func(off int64, rule unionfind.Rule) unionfind.MergeRow {
		id := "a-" + strconv.Itoa(int(off))
		r := unionfind.MergeRow{Team: "1", Rule: rule, Survivor: P, Absorbed: unionfind.ImplicitPersonID("1", id),
			Moved: []string{id}, Other: id, Into: "p", Log: unionfind.LogPos{Offset: off}}
		if rule == unionfind.RuleSplit {
			r.Survivor, r.Absorbed, r.Other = r.Absorbed, P, ""
		}
		return r
	}
	must(t, s.Update(func(tx Tx) error {
		if err := tx.PutPerson("1", unionfind.Person{ID: P, Size: 1}); err != nil {
			return err
		}
		rows := []unionfind.MergeRow{row(0, unionfind.RuleAlias)}
		for i := range maxChainHops {
			rows = append(rows, row(int64(1+i), unionfind.RuleSplit))
		}
		rows = append(rows, row(maxChainHops+1, unionfind.RuleAlias))
		for _, r := range rows {
			if err := tx.PutLineage(r); err != nil {
				return err
			}
		}
		return nil
	}))
	offs, cut := chainHistory(t, s.Store, P)
	require.Equal(t, []int64{maxChainHops + 1}, offs)
	require.True(t, cut)
}

// TestLineageChainsModel: over random ops of every kind — merges of each
// rule, deletions, splits, persons made again under their ids — applied
// as the applier does (an op's rows stored in its own transaction, a few
// ops to a transaction), every person's growth read through its chain
// equals what the person index of before gave: the rows that moved ids
// into it since the last row that ended it.
func TestLineageChainsModel(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			g := unionfind.Graph{MaxMergeMove: 200}
			c := randChooser{rand.New(rand.NewPCG(5, 6))}
			u := universe{teams: []string{"1", "2"}, illegal: map[string]bool{}}
			for i := range 40 {
				u.ids = append(u.ids, "id-"+strconv.Itoa(i))
			}
			resolve := func(team, did string) unionfind.PersonID {
				p, _, err := s.Find(team, did)
				must(t, err)
				return p.ID
			}
			off := int64(0)
			for range 600 {
				ops := make([]unionfind.Op, 1+c.intn(4))
				for j := range ops {
					src := unionfind.Source{Topic: "events_raw", Offset: off}
					ops[j] = genOp(c, u, src, resolve)
					if m := ops[j].Merge; m != nil && m.Guarded && c.intn(2) == 0 {
						m.Rule = unionfind.RuleAlias // genOp's aliases are identifies for the graph
					}
					if c.intn(8) == 0 {
						ops[j] = unionfind.Op{Kind: unionfind.OpSplit, Source: src, Team: ops[j].Team, DistinctID: u.ids[c.intn(len(u.ids))],
							SplitIDs: []string{u.ids[c.intn(len(u.ids))]}, Timestamp: ops[j].Timestamp}
					}
					ops[j].Log = unionfind.LogPos{Offset: off, Time: off}
					off++
				}
				must(t, s.Update(func(tx Tx) error {
					for j := range ops {
						res, err := g.Apply(tx, &ops[j])
						if err != nil {
							return err
						}
						for _, m := range res.Merges {
							if err := tx.PutLineage(m); err != nil {
								return err
							}
						}
					}
					return nil
				}))
			}
			type person struct {
				team string
				id   unionfind.PersonID
			}
			want := map[person][]int64{}
			rules := map[unionfind.Rule]int{}
			regrown := 0 // persons ended after growing, then grown again
			ended := map[person]bool{}
			must(t, s.EachLineage(func(row unionfind.MergeRow, _ uint64) error {
				if row.Refused != "" {
					return nil
				}
				rules[row.Rule]++
				if row.Absorbed != (unionfind.PersonID{}) && row.Absorbed != row.Survivor && row.Rule != unionfind.RuleSplit {
					k := person{row.Team, row.Absorbed}
					if len(want[k]) > 0 {
						ended[k] = true
					}
					want[k] = []int64{}
				}
				if row.Survivor != (unionfind.PersonID{}) {
					k := person{row.Team, row.Survivor}
					if ended[k] && len(want[k]) == 0 {
						regrown++
					}
					want[k] = append(want[k], row.Log.Offset)
				}
				return nil
			}))
			for _, r := range []unionfind.Rule{unionfind.RuleIdentify, unionfind.RuleAlias, unionfind.RuleMergeDangerously, unionfind.RuleSplit, unionfind.RuleDelete} {
				require.NotZero(t, rules[r], "no %v row: the model test does not exercise it", r)
			}
			long := 0
			for _, offs := range want {
				if len(offs) >= 3 {
					long++
				}
			}
			require.Positive(t, regrown, "no person grew again after it ended")
			require.Positive(t, long, "no person grew three times")
			for k, offs := range want {
				var got []int64
				must(t, s.View(func(v Tx) error {
					ents, cut, err := v.(*tx).growth(k.team, k.id)
					require.False(t, cut)
					for _, e := range ents {
						got = append(got, e.pos.off)
					}
					return err
				}))
				if len(offs) == 0 {
					offs = nil
				}
				require.Equal(t, offs, got, "person %s of team %s", k.id, k.team)
			}
		})
	}
}
