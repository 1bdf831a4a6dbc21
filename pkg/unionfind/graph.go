package unionfind

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// DefaultMaxMergeMove is the default of identity.max_merge_move.
const DefaultMaxMergeMove = 10000

// Graph applies ops to a Store. It holds no state of its own besides its
// parameters, so one Graph may serve any number of Stores.
type Graph struct {
	// MaxMergeMove is the most distinct_ids one merge may move
	// (identity.max_merge_move). Zero means DefaultMaxMergeMove.
	MaxMergeMove int
	// MaxPersonPropertiesBytes bounds a person's properties as JSON
	// (Person.PropertiesJSONSize, the person_properties of a stamped
	// event), in bytes (identity.max_person_properties_bytes). A write
	// that would pass it is dropped with a warning (docs/SEMANTICS.md §5, "Size
	// cap"). Zero means DefaultMaxPersonPropertiesBytes. Every replica must
	// use the same value: it decides what state an op leaves.
	MaxPersonPropertiesBytes int
}

// ref is a person as the graph sees it during an op: explicit (stored and
// live) or implicit (no stored state).
type ref struct {
	p        Person
	explicit bool
	// mapping of the distinct_id this ref was found from, if stored.
	m   Mapping
	mOK bool
}

// Find returns the person a distinct_id belongs to: its stored person if it
// has a live mapping, else its implicit person. explicit reports which.
func Find(s Store, team, distinctID string) (Person, bool, error) {
	r, err := find(s, team, distinctID)
	return r.p, r.explicit, err
}

func find(s Store, team, did string) (ref, error) {
	m, ok, err := s.Mapping(team, did)
	if err != nil {
		return ref{}, err
	}
	if ok && !m.Deleted {
		p, pok, err := s.Person(team, m.PersonID)
		if err != nil {
			return ref{}, err
		}
		if !pok || p.Deleted {
			// The distinct_id is personal data: the error names the person only.
			return ref{}, fmt.Errorf("unionfind: team %q: a distinct_id maps to missing person %s", team, m.PersonID)
		}
		return ref{p: p, explicit: true, m: m, mOK: true}, nil
	}
	id := ImplicitPersonID(team, did)
	if ok && m.Fresh != (PersonID{}) {
		id = m.Fresh
	}
	return ref{p: Person{ID: id, Size: 1}, m: m, mOK: ok}, nil
}

// Apply applies one op to s and returns the feed rows and warnings it
// produced. It is deterministic: the result and the writes depend only on
// the op and the contents of s.
//
// An op that is not valid (Op.Validate), or whose values are still sealed
// (KeyID != 0), is refused with an error wrapping ErrInvalidOp before
// anything is read or written, so that no op can make the store refuse a
// key; every replica refuses it alike. Any other error comes from the store.
func (g *Graph) Apply(s Store, op *Op) (Result, error) {
	if err := op.validateApply(); err != nil {
		return Result{}, err
	}
	a := applier{g: g, s: s, op: op}
	var err error
	switch op.Kind {
	case OpEvent:
		err = a.event()
	case OpDeletePerson:
		err = a.deletePerson()
	case OpSplit:
		err = a.split()
	}
	if err != nil {
		return Result{}, err
	}
	return a.res, nil
}

// applier carries one op's application.
type applier struct {
	g   *Graph
	s   Store
	op  *Op
	res Result
	// dropped counts the property writes the size cap refused.
	dropped int
}

func (a *applier) maxPropsBytes() int {
	if a.g.MaxPersonPropertiesBytes <= 0 {
		return DefaultMaxPersonPropertiesBytes
	}
	return a.g.MaxPersonPropertiesBytes
}

func (a *applier) maxMove() uint64 {
	if a.g.MaxMergeMove <= 0 {
		return DefaultMaxMergeMove
	}
	return uint64(a.g.MaxMergeMove)
}

func (a *applier) warn(typ, details string) {
	a.res.Warnings = append(a.res.Warnings, Warning{
		Team: a.op.Team, Type: typ, EventUUID: a.op.EventUUID, DistinctID: a.op.DistinctID,
		Details: details, Timestamp: a.op.Timestamp,
	})
}

func mergeDetails(other, into string) string {
	b, _ := json.Marshal(struct {
		Other string `json:"other"`
		Into  string `json:"into"`
	}{other, into})
	return string(b)
}

// mergeRow appends a lineage record of the op (docs/SEMANTICS.md §8).
func (a *applier) mergeRow(rule Rule, refused string, surv, gone PersonID, moved []string, other, into string) {
	a.res.Merges = append(a.res.Merges, MergeRow{
		Team: a.op.Team, Survivor: surv, Absorbed: gone, Moved: moved, Rule: rule, Refused: refused,
		Other: other, Into: into, EventUUID: a.op.EventUUID, Timestamp: a.op.Timestamp,
		Source: a.op.Source, Log: a.op.Log,
	})
}

// blocked reports whether did was deleted with --block.
func (a *applier) blocked(did string) (bool, error) {
	m, ok, err := a.s.Mapping(a.op.Team, did)
	return ok && m.Deleted && m.Blocked, err
}

// hasValues reports whether the op carries $set or $set_once values.
func (op *Op) hasValues() bool { return len(op.Set) > 0 || len(op.SetOnce) > 0 }

// openValues decides whether the op's values count (docs/SEMANTICS.md §8,
// "Erasure"): values sealed under a key the store knows to be erased are
// dropped, as if the applier had found the key erased (it asks the same
// store first, so this only guards against an applier that did not), and
// an op the applier applies without its values marks its key erased, so
// that a rebuild, which learns of an erasure from identity_keys before it
// replays the deletion, records the key as the live replicas did.
func (a *applier) openValues() error {
	op := a.op
	if !op.Sealed {
		return nil
	}
	k := KeyRef{DistinctID: op.DistinctID, Gen: op.Gen}
	st, ok, err := a.s.Key(op.Team, k)
	if err != nil {
		return err
	}
	switch {
	case op.ValuesErased:
		if !st.Erased {
			return a.s.PutKey(op.Team, k, KeyState{Holders: st.Holders, Erased: true})
		}
	case ok && st.Erased && op.hasValues():
		c := *op
		c.Set, c.SetOnce, c.ValuesErased = nil, nil, true
		a.op = &c
	}
	return nil
}

// event applies an OpEvent: docs/SEMANTICS.md §4 (merge request), §3 (implicit
// becomes explicit) and §5 (properties). An event of a blocked id changes
// nothing (docs/SEMANTICS.md §8, "Deletion").
func (a *applier) event() error {
	op := a.op
	into := op.DistinctID
	if b, err := a.blocked(into); err != nil || b {
		return err
	}
	if err := a.openValues(); err != nil {
		return err
	}
	op = a.op
	identify := false // the resulting person becomes identified
	if mr := op.Merge; mr != nil && mr.Other != into {
		other := mr.Other
		rule := RuleOf(mr)
		// Legality is judged before any Store call names other: an illegal
		// id (over 400 characters, say) is never read or written as a key.
		if IsIllegal(into) || IsIllegal(other) {
			a.warn(WarnIllegalMerge, mergeDetails(other, into))
			a.mergeRow(rule, WarnIllegalMerge, PersonID{}, PersonID{}, nil, other, into)
		} else {
			ident, err := a.merge(other, into, mr.Guarded, rule)
			if err != nil {
				return err
			}
			identify = ident
		}
	}
	// The event's own person: explicit from now on, then its properties.
	t, err := find(a.s, op.Team, into)
	if err != nil {
		return err
	}
	before := t.p
	after := t.p.clone()
	isNew := !t.explicit
	// An id that had no mapping has had no op applied: no key of it has a
	// record or a holder yet (only its own ops and copies of their refs
	// make one).
	unseen := !t.mOK
	if isNew {
		after = Person{ID: t.p.ID, CreatedAt: op.Timestamp, Size: 1}
		if err := a.putMapping(into, t, after.ID); err != nil {
			return err
		}
		if err := a.s.PutMember(op.Team, after.ID, into); err != nil {
			return err
		}
		// A tombstone under this id: carry its version on. (An unseen id
		// has none: see continueTombstone.)
		if !unseen {
			if err := a.continueTombstone(&after); err != nil {
				return err
			}
		}
	}
	if identify {
		after.Identified = true
	}
	// created_at is the earliest event time the person has seen: a late
	// event with an older timestamp moves it back. This keeps created_at
	// independent of the order in which partitions' ops reach the log.
	if op.Timestamp < after.CreatedAt {
		after.CreatedAt = op.Timestamp
	}
	a.applyProps(&after)
	if a.dropped > 0 {
		a.warn(WarnPropertiesSize, fmt.Sprintf(`{"dropped_keys":%d,"max_person_properties_bytes":%d}`, a.dropped, a.maxPropsBytes()))
	}
	if op.Sealed && !op.ValuesErased && op.hasValues() {
		// The person's state may now depend on the values: it holds the
		// key. The id's mapping says when it does already (Held), which
		// saves reading the ref for every op with values.
		m, ok, err := a.s.Mapping(op.Team, into)
		if err != nil {
			return err
		}
		own := ok && !m.Deleted && m.PersonID == after.ID && m.Gen == op.Gen
		k := KeyRef{DistinctID: into, Gen: op.Gen}
		switch {
		case own && m.Held:
		case unseen:
			if err := a.newRef(after.ID, k); err != nil {
				return err
			}
		default:
			if err := a.addRef(after.ID, k); err != nil {
				return err
			}
		}
		if own && !m.Held {
			m.Held = true
			if err := a.s.PutMapping(op.Team, into, m); err != nil {
				return err
			}
		}
	}
	return a.putPerson(&before, &after, isNew)
}

// continueTombstone makes a person re-created under the id of a deleted one
// start above the tombstone's version.
//
// Callers skip it for an id without a mapping: a person is only ever
// stored under the id of a distinct_id by an op that maps that distinct_id
// in the same write, and mappings are never removed (deletion tombstones
// them), so such an id has no tombstone. The read it saves is a miss of
// every level of the store, once per new person.
func (a *applier) continueTombstone(p *Person) error {
	old, ok, err := a.s.Person(a.op.Team, p.ID)
	if err != nil {
		return err
	}
	if ok {
		p.Version = old.Version + 1
	}
	return nil
}

// putPerson stores after and emits its row if it differs from before (or is
// new). Version rises by one per visible change, and at most once per op: a
// person changed twice by one op (merged, then its properties set) gives one
// row. Size alone is stored silently.
func (a *applier) putPerson(before, after *Person, isNew bool) error {
	for i := range a.res.Persons {
		if row := &a.res.Persons[i]; row.Person.ID == after.ID && !row.Person.Deleted {
			after.Version = row.Person.Version
			row.Person = after.clone()
			return a.s.PutPerson(a.op.Team, *after)
		}
	}
	switch {
	case isNew:
		a.res.Persons = append(a.res.Persons, PersonRow{Team: a.op.Team, Person: after.clone()})
	case !before.sameRow(after):
		after.Version = before.Version + 1
		a.res.Persons = append(a.res.Persons, PersonRow{Team: a.op.Team, Person: after.clone()})
	case before.Size == after.Size:
		return nil // nothing changed: write nothing
	}
	return a.s.PutPerson(a.op.Team, *after)
}

// putMapping points did (found as r) at person, with the version rule of
// docs/SEMANTICS.md §6, and emits the distinct-id row.
func (a *applier) putMapping(did string, r ref, person PersonID) error {
	var v uint64
	switch {
	case r.mOK:
		v = r.m.Version + 1
	case person != ImplicitPersonID(a.op.Team, did):
		v = 1 // it leaves its implicit person
	}
	m := Mapping{PersonID: person, Version: v, Gen: r.m.Gen}
	a.res.DistinctIDs = append(a.res.DistinctIDs, DistinctIDRow{Team: a.op.Team, DistinctID: did, PersonID: person, Version: v})
	return a.s.PutMapping(a.op.Team, did, m)
}

// merge resolves a legal merge request of other into into (docs/SEMANTICS.md §4
// step 3). It reports whether the event's resulting person becomes
// identified.
func (a *applier) merge(other, into string, guarded bool, rule Rule) (identify bool, err error) {
	team := a.op.Team
	o, err := find(a.s, team, other)
	if err != nil {
		return false, err
	}
	t, err := find(a.s, team, into)
	if err != nil {
		return false, err
	}
	if o.mOK && o.m.Deleted && o.m.Blocked {
		a.warn(WarnMergeBlocked, mergeDetails(other, into))
		a.mergeRow(rule, WarnMergeBlocked, t.p.ID, o.p.ID, nil, other, into)
		return false, nil
	}
	if o.p.ID == t.p.ID {
		return true, nil
	}
	if guarded && o.explicit && o.p.Identified {
		a.warn(WarnAlreadyIdentified, mergeDetails(other, into))
		a.mergeRow(rule, WarnAlreadyIdentified, t.p.ID, o.p.ID, nil, other, into)
		return true, nil
	}
	// Survivor: T if explicit; else O if explicit; else O (both implicit),
	// so the anonymous side's already-stamped events keep their person.
	surv, gone, survDID, goneDID := t, o, into, other
	if !t.explicit {
		surv, gone, survDID, goneDID = o, t, other, into
	}
	if gone.p.Size > a.maxMove() {
		a.warn(WarnMergeMoveLimit, fmt.Sprintf(`{"other":%q,"into":%q,"move":%d,"limit":%d}`, other, into, gone.p.Size, a.maxMove()))
		a.mergeRow(rule, WarnMergeMoveLimit, surv.p.ID, gone.p.ID, nil, other, into)
		return false, nil
	}

	ts := a.op.Timestamp
	before := surv.p
	after := surv.p.clone()
	isNew := !surv.explicit
	if isNew {
		after = Person{ID: surv.p.ID, CreatedAt: ts, Size: 1}
		if surv.mOK { // an unseen id has no tombstone: see continueTombstone
			if err := a.continueTombstone(&after); err != nil {
				return false, err
			}
		}
		if err := a.putMapping(survDID, surv, after.ID); err != nil {
			return false, err
		}
		if err := a.s.PutMember(team, after.ID, survDID); err != nil {
			return false, err
		}
	}
	after.Identified = true
	goneCreated := ts // an implicit person is created by the event that merges it
	if gone.explicit {
		goneCreated = gone.p.CreatedAt
	}
	if goneCreated < after.CreatedAt {
		after.CreatedAt = goneCreated
	}

	// Relabel the absorbed person's members.
	if gone.explicit {
		var members []string
		if err := a.s.Members(team, gone.p.ID, func(d string) error {
			members = append(members, d)
			return nil
		}); err != nil {
			return false, err
		}
		for _, d := range members {
			m, _, err := a.s.Mapping(team, d)
			if err != nil {
				return false, err
			}
			if err := a.putMapping(d, ref{m: m, mOK: true}, after.ID); err != nil {
				return false, err
			}
			if err := a.s.DeleteMember(team, gone.p.ID, d); err != nil {
				return false, err
			}
			if err := a.s.PutMember(team, after.ID, d); err != nil {
				return false, err
			}
		}
		after.Size += uint64(len(members))
		a.mergeProps(&after, &gone.p)
		if err := a.absorbRefs(gone.p.ID, after.ID); err != nil {
			return false, err
		}
		a.mergeRow(rule, "", after.ID, gone.p.ID, members, other, into)
		tomb := gone.p.clone()
		tomb.Deleted = true
		tomb.Version += 100
		tomb.Size = 0
		a.res.Persons = append(a.res.Persons, PersonRow{Team: team, Person: tomb.clone()})
		if err := a.s.PutPerson(team, tomb); err != nil {
			return false, err
		}
	} else {
		if err := a.putMapping(goneDID, gone, after.ID); err != nil {
			return false, err
		}
		if err := a.s.PutMember(team, after.ID, goneDID); err != nil {
			return false, err
		}
		after.Size++
		a.mergeRow(rule, "", after.ID, gone.p.ID, []string{goneDID}, other, into)
	}
	return true, a.putPerson(&before, &after, isNew)
}

// mergeProps folds gone's properties into surv: per key the later stored
// time wins; on a tie, the survivor's (docs/SEMANTICS.md §5). Keys are taken in
// sorted order, each only while the result stays within the size cap.
func (a *applier) mergeProps(surv, gone *Person) {
	if len(gone.Props) == 0 {
		return
	}
	b := newPropBudget(surv, a.maxPropsBytes())
	for _, g := range gone.Props {
		if s, ok := surv.Prop(g.Key); (!ok || g.Time > s.Time) && b.write(g.Key, g.Value, ok, s.Value) {
			surv.setProp(g)
		}
	}
	a.dropped += b.dropped
}

// applyProps applies the op's $set_once, $set and $unset (docs/SEMANTICS.md §5).
// The $set and $set_once keys (disjoint, each list sorted) are taken
// together in sorted key order, each written only while the properties stay
// within the size cap; $unset comes last.
func (a *applier) applyProps(p *Person) {
	op := a.op
	if len(op.Set) > 0 || len(op.SetOnce) > 0 {
		t := op.Timestamp
		b := newPropBudget(p, a.maxPropsBytes())
		set, once := op.Set, op.SetOnce
		for len(set) > 0 || len(once) > 0 {
			if len(once) > 0 && (len(set) == 0 || once[0].Key < set[0].Key) {
				kv := once[0]
				once = once[1:]
				if _, ok := p.Prop(kv.Key); !ok && b.write(kv.Key, kv.Value, false, nil) {
					p.setProp(Property{Key: kv.Key, Value: kv.Value, Time: t})
				}
				continue
			}
			kv := set[0]
			set = set[1:]
			cur, ok := p.Prop(kv.Key)
			if (!ok || cur.Time <= t && !bytes.Equal(cur.Value, kv.Value)) && b.write(kv.Key, kv.Value, ok, cur.Value) {
				p.setProp(Property{Key: kv.Key, Value: kv.Value, Time: t})
			}
		}
		a.dropped += b.dropped
	}
	for _, k := range op.Unset {
		if cur, ok := p.Prop(k); ok && cur.Time <= op.Timestamp {
			p.delProp(k)
		}
	}
}
