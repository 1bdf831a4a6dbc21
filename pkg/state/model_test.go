package state

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// model is the reference for FuzzGraphModel: docs/SEMANTICS.md §3–5 written
// again, as plainly as possible, on maps. It knows nothing of stores,
// versions, sizes or tombstones: a distinct_id either has an owner (an
// explicit person) or belongs to its implicit person; persons are created,
// merged and deleted.
type model struct {
	maxMove int
	illegal map[string]bool
	owner   map[teamDID]unionfind.PersonID
	persons map[teamPerson]*modelPerson
}

type modelPerson struct {
	createdAt  int64
	identified bool
	props      map[string]modelProp
}

type modelProp struct {
	value string
	time  int64
}

func newModel(maxMove int, illegal map[string]bool) *model {
	return &model{maxMove: maxMove, illegal: illegal, owner: map[teamDID]unionfind.PersonID{}, persons: map[teamPerson]*modelPerson{}}
}

// find: the owner if any, else the implicit person (§3).
func (m *model) find(team, did string) (unionfind.PersonID, bool) {
	if id, ok := m.owner[teamDID{team, did}]; ok {
		return id, true
	}
	return unionfind.ImplicitPersonID(team, did), false
}

func (m *model) membersOf(team string, id unionfind.PersonID) []string {
	var out []string
	for k, v := range m.owner {
		if k.team == team && v == id {
			out = append(out, k.did)
		}
	}
	return out
}

// explicit makes the person of did explicit, created at ts (§3).
func (m *model) explicit(team, did string, ts int64) *modelPerson {
	id, ok := m.find(team, did)
	if ok {
		return m.persons[teamPerson{team, id}]
	}
	p := &modelPerson{createdAt: ts, props: map[string]modelProp{}}
	m.persons[teamPerson{team, id}] = p
	m.owner[teamDID{team, did}] = id
	return p
}

func (m *model) apply(op *unionfind.Op) {
	switch op.Kind {
	case unionfind.OpDeletePerson:
		k := teamPerson{op.Team, op.PersonID}
		if _, ok := m.persons[k]; !ok {
			return
		}
		for _, d := range m.membersOf(op.Team, op.PersonID) {
			delete(m.owner, teamDID{op.Team, d})
		}
		delete(m.persons, k)
		return
	}
	team, into, ts := op.Team, op.DistinctID, op.Timestamp
	identify := false
	if op.Merge != nil && op.Merge.Other != into { // §4 step 1: self-merge is ordinary
		other := op.Merge.Other
		if !m.illegal[into] && !m.illegal[other] { // step 2
			identify = m.merge(team, other, into, op.Merge.Guarded, ts)
		}
	}
	p := m.explicit(team, into, ts)
	if identify {
		p.identified = true
	}
	// created_at is the earliest event time the person has seen (unionfind
	// 6e72e36: replicas fed in different orders agree).
	p.createdAt = min(p.createdAt, ts)
	// §5, in the order $set_once, $set, $unset.
	for _, kv := range op.SetOnce {
		if _, ok := p.props[kv.Key]; !ok {
			p.props[kv.Key] = modelProp{string(kv.Value), ts}
		}
	}
	for _, kv := range op.Set {
		cur, ok := p.props[kv.Key]
		if !ok || cur.time <= ts && cur.value != string(kv.Value) { // equal values write nothing
			p.props[kv.Key] = modelProp{string(kv.Value), ts}
		}
	}
	for _, k := range op.Unset {
		if cur, ok := p.props[k]; ok && cur.time <= ts {
			delete(p.props, k)
		}
	}
}

// merge is §4 step 3; it reports whether the event's person becomes
// identified.
func (m *model) merge(team, other, into string, guarded bool, ts int64) bool {
	oID, oExp := m.find(team, other)
	tID, tExp := m.find(team, into)
	if oID == tID {
		return true
	}
	if guarded && oExp && m.persons[teamPerson{team, oID}].identified {
		return true // refused; T still becomes identified
	}
	// Survivor: T if explicit, else O (explicit or not).
	survDID, goneDID, goneID, goneExp := into, other, oID, oExp
	if !tExp {
		survDID, goneDID, goneID, goneExp = other, into, tID, tExp
	}
	goneIDs := []string{goneDID}
	if goneExp {
		goneIDs = m.membersOf(team, goneID)
	}
	if len(goneIDs) > m.maxMove {
		return false
	}
	surv := m.explicit(team, survDID, ts)
	survID, _ := m.find(team, survDID)
	goneCreated := ts
	if goneExp {
		gone := m.persons[teamPerson{team, goneID}]
		goneCreated = gone.createdAt
		for k, gp := range gone.props { // later time wins; tie: survivor's
			if sp, ok := surv.props[k]; !ok || gp.time > sp.time {
				surv.props[k] = gp
			}
		}
		delete(m.persons, teamPerson{team, goneID})
	}
	for _, d := range goneIDs {
		m.owner[teamDID{team, d}] = survID
	}
	surv.createdAt = min(surv.createdAt, goneCreated)
	surv.identified = true
	return true
}

// compareModel checks the store against the model: the person of every
// distinct_id of the universe (through Store.Find and through a snapshot),
// and every live person's fields.
func compareModel(t testing.TB, s *Store, snap *snapshot, m *model, u universe) {
	t.Helper()
	snapFind := map[teamDID]unionfind.Person{}
	if err := s.View(func(tx Tx) error {
		for _, team := range u.teams {
			for _, did := range u.ids {
				p, _, err := unionfind.Find(tx, team, did)
				if err != nil {
					return err
				}
				snapFind[teamDID{team, did}] = p
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, team := range u.teams {
		for _, did := range u.ids {
			wantID, wantExp := m.find(team, did)
			got, gotExp, err := s.Find(team, did)
			if err != nil {
				t.Fatalf("Find(%s, %q): %v", team, did, err)
			}
			if got.ID != wantID || gotExp != wantExp {
				t.Fatalf("Find(%s, %q) = %s explicit=%v, model says %s explicit=%v", team, did, got.ID, gotExp, wantID, wantExp)
			}
			if sp := snapFind[teamDID{team, did}]; !samePerson(sp, got) {
				t.Fatalf("Find(%s, %q) through the cache %+v, in a snapshot %+v", team, did, got, sp)
			}
		}
	}
	stored := snap.persons
	live := 0
	for k, p := range stored {
		if p.Deleted {
			continue
		}
		live++
		mp, ok := m.persons[k]
		if !ok {
			t.Fatalf("store has live person %s/%s the model does not", k.team, k.id)
		}
		if p.CreatedAt != mp.createdAt || p.Identified != mp.identified {
			t.Fatalf("person %s/%s: created_at %d identified %v, model %d %v", k.team, k.id, p.CreatedAt, p.Identified, mp.createdAt, mp.identified)
		}
		if len(p.Props) != len(mp.props) {
			t.Fatalf("person %s/%s: props %+v, model %+v", k.team, k.id, p.Props, mp.props)
		}
		for _, pr := range p.Props {
			want, ok := mp.props[pr.Key]
			if !ok || want.value != string(pr.Value) || want.time != pr.Time {
				t.Fatalf("person %s/%s prop %q = %s@%d, model %+v", k.team, k.id, pr.Key, pr.Value, pr.Time, want)
			}
		}
	}
	if live != len(m.persons) {
		t.Fatalf("store has %d live persons, model %d", live, len(m.persons))
	}
}

// checkResult checks the rows an op emitted against the state after it:
// every distinct-id row is the mapping as stored, every person row the
// person as stored (same id, version, deletion); and rows were emitted if
// and only if the identity state changed (docs/SEMANTICS.md §4 idempotence).
func checkResult(t testing.TB, snap *snapshot, res unionfind.Result, changed bool) {
	t.Helper()
	maps, persons := snap.maps, snap.persons
	for _, r := range res.DistinctIDs {
		m, ok := maps[r.Team][r.DistinctID]
		if !ok || m.PersonID != r.PersonID || m.Version != r.Version || m.Deleted != r.Deleted {
			t.Fatalf("distinct-id row %+v, stored %+v (ok=%v)", r, m, ok)
		}
	}
	for _, r := range res.Persons {
		p, ok := persons[teamPerson{r.Team, r.Person.ID}]
		if !ok || p.Version != r.Person.Version || p.Deleted != r.Person.Deleted {
			t.Fatalf("person row %+v, stored %+v (ok=%v)", r.Person, p, ok)
		}
		if !p.Deleted && !samePersonRow(p, r.Person) {
			t.Fatalf("person row %+v, stored %+v", r.Person, p)
		}
	}
	rows := len(res.DistinctIDs)+len(res.Persons) > 0
	if rows != changed {
		t.Fatalf("rows emitted: %v, identity state changed: %v (%+v)", rows, changed, res)
	}
}

func samePersonRow(a, b unionfind.Person) bool {
	a.Size, b.Size = 0, 0
	return samePerson(a, b)
}

// FuzzGraphModel applies random op sequences through unionfind.Graph to a
// Badger store and to the reference model above. After every op:
//   - every distinct_id of the universe has the same person (id and
//     explicitness) in both, through Store.Find (the cache) and a snapshot;
//   - the live persons are the same, with the same created_at,
//     is_identified and properties (values and times);
//   - the store is consistent: each id in exactly one person, d/ ↔ m/ both
//     ways, Size equals the member count, no live id on a deleted person;
//   - no mapping or person version ever decreases;
//   - the feed rows match the stored state, and are emitted iff it changed.
//
// At the end the same ops applied to a Memory store give the same
// fingerprint. The universe is 3 teams × 12 distinct_ids, one of them
// illegal; max_merge_move is 3 so that the limit is hit.
//
// Each input opens a Badger store, so fuzzing runs a few inputs per second;
// use -parallel 1 -fuzzminimizetime 5s, or minimising a new input can
// outlast the fuzz engine's patience on a busy machine.
func FuzzGraphModel(f *testing.F) {
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 1))
		b := make([]byte, 600+int(seed)*200)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		u := fuzzUniverse()
		const maxMove = 3
		g := unionfind.Graph{MaxMergeMove: maxMove}
		o := testOptions(t)
		o.CacheBytes = 16 << 10 // small: evictions happen
		s, _ := openTest(t, o)
		// piped applies the same ops as stream.Rebuild does: pipelined
		// commits (each Update reads the last one's writes from the
		// overlay, pipelined.go) and the replay filter (replayfilter.go).
		piped := openReplay(t, o)
		mem := NewMemory()
		m := newModel(maxMove, u.illegal)
		vw := newVersionWatch()
		c := &byteChooser{b: in}
		resolve := func(team, did string) unionfind.PersonID { id, _ := m.find(team, did); return id }
		fp, _ := s.Fingerprint()
		var ops []unionfind.Op
		defer func() {
			if t.Failed() { // t.Fatal ran: show the history
				for i := range ops {
					t.Logf("op %d: %s", i, describeOp(&ops[i]))
				}
			}
		}()
		for i := 0; !c.empty() && i < 300; i++ {
			op := genOp(c, u, unionfind.Source{Topic: "ev", Offset: int64(i)}, resolve)
			ops = append(ops, op)
			apply := func(st *Store, which string) (res unionfind.Result) {
				if err := st.Update(func(tx Tx) (err error) {
					res, err = g.Apply(tx, &op)
					return err
				}); err != nil {
					t.Fatalf("op %d %s%s: %v", i, describeOp(&op), which, err)
				}
				return res
			}
			res := apply(s, "")
			pres := apply(piped, ", pipelined")
			if !reflect.DeepEqual(pres, res) {
				t.Fatalf("op %d %s: pipelined result %+v, synchronous %+v", i, describeOp(&op), pres, res)
			}
			m.apply(&op)
			after, err := s.Fingerprint()
			if err != nil {
				t.Fatal(err)
			}
			if pfp, err := piped.Fingerprint(); err != nil || pfp != after {
				t.Fatalf("op %d %s: pipelined fingerprint %s (%v), synchronous %s", i, describeOp(&op), pfp, err, after)
			}
			snap := takeSnapshot(t, s)
			checkInvariants(t, snap)
			vw.check(t, snap)
			checkResult(t, snap, res, after != fp)
			compareModel(t, s, snap, m, u)
			fp = after
		}
		if err := mem.Update(func(tx Tx) error {
			for i := range ops {
				if _, err := g.Apply(tx, &ops[i]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if mfp, _ := mem.Fingerprint(); mfp != fp {
			t.Fatalf("memory fingerprint %s, badger %s", mfp, fp)
		}
	})
}

func describeOp(op *unionfind.Op) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s team=%s did=%q ts=%d", op.Kind, op.Team, op.DistinctID, op.Timestamp)
	if op.Merge != nil {
		fmt.Fprintf(&b, " merge(other=%q guarded=%v)", op.Merge.Other, op.Merge.Guarded)
	}
	if op.Kind == unionfind.OpDeletePerson {
		fmt.Fprintf(&b, " person=%s", op.PersonID)
	}
	for _, kv := range op.Set {
		fmt.Fprintf(&b, " set %s=%s", kv.Key, kv.Value)
	}
	for _, kv := range op.SetOnce {
		fmt.Fprintf(&b, " set_once %s=%s", kv.Key, kv.Value)
	}
	for _, k := range op.Unset {
		fmt.Fprintf(&b, " unset %s", k)
	}
	return b.String()
}
