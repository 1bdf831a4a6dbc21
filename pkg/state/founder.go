package state

import (
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Founders. A person's founder is the distinct_id whose implicit person it
// is (unionfind.ImplicitPersonID of the team and the distinct_id): the id
// that started it. Most persons have their founder among their members —
// every person an anonymous id started, and the survivors of its merges —
// and that one membership is kept in the person's p/ value (Person v3,
// codec.go) instead of as an m/ key, which would repeat the person id and
// the distinct_id once more: about 20 bytes on disk per id, and one row
// fewer per new person (BENCHMARKS.md §0, target 2).
//
// The membership is the same either way: Members gives the m/ keys and the
// founder, in distinct_id order; PutMember of a founder records it in the
// transaction and the person's next PutPerson writes it; DeleteMember of it
// clears it. Fingerprint hashes the m/ key a founder would have had, so a
// store that keeps founders in m/ keys (written before person v3, or
// upgraded midway) and one that keeps them in p/ values have equal
// fingerprints when their memberships are equal. An m/ key of a founder
// written before is read as before, and deleted when it leaves.
//
// Every op of unionfind.Graph that changes a person's founder also writes
// the person (PutPerson) in the same op. Should one not, flushPersons
// writes the person's value again when the transaction ends, or, for a
// person without a value, the membership as an m/ key.

// personState is what a transaction knows of one person's value beside
// the person: its founder, and the head of its lineage chain (lineage.go).
type personState struct {
	team    string
	id      unionfind.PersonID
	did     string // the founder among the members, "" for none
	head    lpos   // the person's lineage head, if linked
	linked  bool
	pending bool // changed since the person's value was last written
	written bool // the person's value was written in this transaction
	relink  bool // only head changed since then (relinkPerson)
}

// newPersonState is the state of person id as its value m says.
func newPersonState(team string, id unionfind.PersonID, m personMeta) *personState {
	return &personState{team: team, id: id, did: m.founder, head: m.head, linked: m.linked}
}

// meta is what st says the person's value keeps beside the person.
func (st *personState) meta() personMeta {
	return personMeta{founder: st.did, head: st.head, linked: st.linked}
}

// isFounder reports whether did is the founder of person id of team.
func isFounder(team string, id unionfind.PersonID, did string) bool {
	return id == unionfind.ImplicitPersonID(team, did)
}

// stateOf returns the transaction's state of person id's value beside
// the person (founder, lineage head), reading it from the value the first
// time.
func (t *tx) stateOf(team string, id unionfind.PersonID) (*personState, error) {
	k := personKey(t.kb[:0], team, id)
	t.kb = k
	if st, ok := t.persons[string(k)]; ok {
		return st, nil
	}
	key := string(k)
	_, m, _, err := t.personRecord(team, id)
	if err != nil {
		return nil, err
	}
	st := newPersonState(team, id, m)
	if t.persons == nil {
		t.persons = map[string]*personState{}
	}
	t.persons[key] = st
	return st, nil
}

// notePerson records m, just read from person id's value, unless the
// transaction knows the person's state already.
func (t *tx) notePerson(team string, id unionfind.PersonID, m personMeta) {
	k := personKey(t.kb[:0], team, id)
	t.kb = k
	if _, ok := t.persons[string(k)]; ok {
		return
	}
	if t.persons == nil {
		t.persons = map[string]*personState{}
	}
	t.persons[string(k)] = newPersonState(team, id, m)
}

// hasMemberKey reports whether the membership of did in person id is
// stored as an m/ key.
func (t *tx) hasMemberKey(team string, id unionfind.PersonID, did string) (bool, error) {
	r, err := t.reader()
	if err != nil {
		return false, err
	}
	k := memberKey(t.kb[:0], team, id, did)
	t.kb = k
	if t.filter != nil {
		prefix := k[:len(k)-len(did)]
		if !t.filter.mayHave(prefix) {
			return false, nil // the person's set was never written (replayfilter.go)
		}
		if has, listed := t.filter.hasMember(prefix, did); listed {
			return has, nil // the set's complete list (replayfilter.go)
		}
	}
	found, err := r.get(k, func([]byte) error { return nil })
	return found, wrapKey(err, k)
}

// setFounder records did ("" for none) as person id's founder, to be
// written with the person.
func (t *tx) setFounder(team string, id unionfind.PersonID, did string) {
	k := personKey(t.kb[:0], team, id)
	t.kb = k
	st, ok := t.persons[string(k)]
	if !ok {
		st = &personState{team: team, id: id}
		if t.persons == nil {
			t.persons = map[string]*personState{}
		}
		t.persons[string(k)] = st
	}
	st.did, st.pending = did, true
}

// personRecord reads person id with what its value keeps beside it: this
// transaction's own writes, then the cache, then the engine.
func (t *tx) personRecord(team string, id unionfind.PersonID) (p unionfind.Person, m personMeta, found bool, err error) {
	r, err := t.reader()
	if err != nil {
		return p, m, false, err
	}
	k := personKey(t.kb[:0], team, id)
	t.kb = k
	if t.c != nil {
		if v, ok := t.dirty[string(k)]; ok {
			p, m, err = decodePersonRecord(id, v)
			return p, m, err == nil, wrapKey(err, k)
		}
		if p, m, ok, hit := t.c.getPersonRecord(k); hit {
			return p, m, ok, nil
		}
	}
	found, err = r.get(k, func(v []byte) (err error) {
		p, m, err = decodePersonRecord(id, v)
		return err
	})
	if err != nil {
		return unionfind.Person{}, personMeta{}, false, wrapKey(err, k)
	}
	if t.c != nil {
		t.c.fillPerson(k, p, m, found, 0, false)
	}
	return p, m, found, nil
}

// flushPersons writes what PutMember and DeleteMember changed of a
// founder, and PutLineage of a lineage head, and no PutPerson wrote since:
// the person's value again, or, for a person without one, its founder as
// an m/ key. Update calls it after fn.
func (t *tx) flushPersons() error {
	for _, st := range t.persons {
		if !st.pending {
			if st.relink {
				if err := t.relinkPerson(st); err != nil {
					return err
				}
			}
			continue
		}
		p, _, found, err := t.personRecord(st.team, st.id)
		if err != nil {
			return err
		}
		if found {
			if err := t.PutPerson(st.team, p); err != nil {
				return err
			}
			continue
		}
		st.pending = false
		if st.did != "" {
			if err := t.putMemberKey(st.team, st.id, st.did); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeFounder calls fn for founder ("" for none) and every distinct_id
// next gives (in byte order), in byte order, founder once.
type founderMerge struct {
	founder string
	fn      func(string) error
}

func (m *founderMerge) next(d string) error {
	if m.founder != "" && m.founder <= d {
		f := m.founder
		m.founder = ""
		if f != d {
			if err := m.fn(f); err != nil {
				return err
			}
		}
	}
	return m.fn(d)
}

func (m *founderMerge) end() error {
	if m.founder == "" {
		return nil
	}
	f := m.founder
	m.founder = ""
	return m.fn(f)
}

// relinkPerson writes the value of st's person again with st's lineage
// head: the value this transaction wrote, with the head put in place of
// the one it had (codec.go), without decoding the person.
func (t *tx) relinkPerson(st *personState) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	st.relink = false
	k := personKey(make([]byte, 0, 24+len(st.team)), st.team, st.id)
	v, ok := t.dirty[string(k)]
	if !ok {
		if _, err := w.get(k, func(val []byte) error {
			v = val
			return nil
		}); err != nil {
			return wrapKey(err, k)
		}
	}
	nv, err := relinkPersonValue(v, st.head)
	if err != nil {
		return wrapKey(err, k)
	}
	if err := w.set(k, nv); err != nil {
		return wrapKey(err, k)
	}
	t.remember(k, nv)
	return nil
}
