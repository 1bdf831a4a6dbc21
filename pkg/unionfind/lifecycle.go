package unionfind

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"

	"github.com/google/uuid"
)

// This file is docs/SEMANTICS.md §8: deletion, split, and the key refs that
// make erasure exact.
//
// The invariant the refs keep: every person whose state depends on the
// values sealed under a data key holds a ref to that key, and a key is
// erased only when the last person holding it is deleted. Tombstones of
// persons absorbed into a person are listed under it (Store.Absorbed) and
// erased with it. So when a key is erased, nothing stored depends on its
// values any more, and a rebuild that replays the log without them (the
// key is gone from identity_keys) ends in the same state, byte for byte,
// as the replicas that applied them.

// tombstoneVersion is the version of a person deleted by the op at log
// offset off: 101 × (off + 1). One op raises a person id's version by at
// most 101 (absorbed: +100, then re-created: +1), so this is above every
// version the id had before, whatever values the deleted person's ops
// carried — a rebuild that replays them without their values counts fewer
// changes and still reaches the same number. floor keeps it above the
// current version when the offsets are not a log's (an op applied with a
// zero LogPos).
func tombstoneVersion(off int64, floor uint64) uint64 {
	v := uint64(math.MaxUint64)
	if off < 0 {
		off = 0
	}
	if uint64(off) < math.MaxUint64/101-1 {
		v = 101 * (uint64(off) + 1)
	}
	return max(v, floor)
}

// addRef makes person id hold key k (a set: holding it twice is once).
func (a *applier) addRef(id PersonID, k KeyRef) error {
	team := a.op.Team
	has, err := a.s.HasRef(team, id, k)
	if err != nil || has {
		return err
	}
	if err := a.s.PutRef(team, id, k); err != nil {
		return err
	}
	st, _, err := a.s.Key(team, k)
	if err != nil {
		return err
	}
	st.Holders++
	return a.s.PutKey(team, k, st)
}

// newRef is addRef for a key that has no record yet (of an id no op had
// reached before): nothing to read.
func (a *applier) newRef(id PersonID, k KeyRef) error {
	if err := a.s.PutRef(a.op.Team, id, k); err != nil {
		return err
	}
	return a.s.PutKey(a.op.Team, k, KeyState{Holders: 1})
}

// absorbedBy lists the tombstones absorbed into person id.
func (a *applier) absorbedBy(id PersonID) ([]PersonID, error) {
	var ids []PersonID
	err := a.s.Absorbed(a.op.Team, id, func(g PersonID) error {
		ids = append(ids, g)
		return nil
	})
	return ids, err
}

// refsOf lists the refs of person id.
func (a *applier) refsOf(id PersonID) ([]KeyRef, error) {
	var refs []KeyRef
	err := a.s.Refs(a.op.Team, id, func(k KeyRef) error {
		refs = append(refs, k)
		return nil
	})
	return refs, err
}

// absorbRefs moves what gone's state depended on to surv, which absorbed
// it: gone's refs (a key both held loses one holder) and gone's absorbed
// tombstones, then gone's own tombstone.
func (a *applier) absorbRefs(gone, surv PersonID) error {
	team := a.op.Team
	refs, err := a.refsOf(gone)
	if err != nil {
		return err
	}
	for _, k := range refs {
		if err := a.s.DeleteRef(team, gone, k); err != nil {
			return err
		}
		has, err := a.s.HasRef(team, surv, k)
		if err != nil {
			return err
		}
		if !has {
			if err := a.s.PutRef(team, surv, k); err != nil {
				return err
			}
			continue
		}
		st, _, err := a.s.Key(team, k)
		if err != nil {
			return err
		}
		if st.Holders > 0 {
			st.Holders--
		}
		if err := a.s.PutKey(team, k, st); err != nil {
			return err
		}
	}
	absorbed, err := a.absorbedBy(gone)
	if err != nil {
		return err
	}
	for _, id := range absorbed {
		if err := a.s.DeleteAbsorbed(team, gone, id); err != nil {
			return err
		}
		if err := a.s.PutAbsorbed(team, surv, id); err != nil {
			return err
		}
	}
	return a.s.PutAbsorbed(team, surv, gone)
}

// members lists the distinct_ids of person id in byte order.
func (a *applier) members(id PersonID) ([]string, error) {
	var ms []string
	err := a.s.Members(a.op.Team, id, func(d string) error {
		ms = append(ms, d)
		return nil
	})
	return ms, err
}

// freshPersonID is the person a deleted id's next event starts when its
// implicit person lives on with other ids.
func freshPersonID(team, did string, gen uint32) PersonID {
	b := make([]byte, 0, len(team)+len(did)+16)
	b = append(b, team...)
	b = append(b, ':')
	b = append(b, did...)
	b = append(b, ":gen:"...)
	b = strconv.AppendUint(b, uint64(gen), 10)
	return uuid.NewSHA1(PersonNamespace, b)
}

// SplitPersonID is the id of the person a split makes:
// UUIDv5(PersonNamespace, "<team>:<first named id>:split:<log offset>")
// (docs/SEMANTICS.md §8, "Split").
func SplitPersonID(team, firstID string, logOffset int64) PersonID {
	b := make([]byte, 0, len(team)+len(firstID)+28)
	b = append(b, team...)
	b = append(b, ':')
	b = append(b, firstID...)
	b = append(b, ":split:"...)
	b = strconv.AppendInt(b, logOffset, 10)
	return uuid.NewSHA1(PersonNamespace, b)
}

// deletePerson applies an OpDeletePerson (docs/SEMANTICS.md §8, "Deletion"):
// the person of DistinctID (of PersonID, in version-1 ops) becomes a
// tombstone without properties, every mapping of it a tombstone (blocked
// with Block), its members' generations rise, its keys are released (those
// it held last are erased, Result.Erased) and the tombstones absorbed into
// it lose their properties too.
func (a *applier) deletePerson() error {
	op := a.op
	team := op.Team
	id := op.PersonID
	if op.DistinctID != "" {
		m, ok, err := a.s.Mapping(team, op.DistinctID)
		if err != nil {
			return err
		}
		if !ok || m.Deleted {
			a.mergeRow(RuleDelete, RefuseUnknownDistinctID, PersonID{}, PersonID{}, nil, "", op.DistinctID)
			return nil
		}
		id = m.PersonID
	}
	p, ok, err := a.s.Person(team, id)
	if err != nil {
		return err
	}
	if !ok || p.Deleted {
		if op.DistinctID != "" {
			_, err := find(a.s, team, op.DistinctID) // the corruption error
			return err
		}
		return nil // a version-1 op naming no live person changes nothing
	}
	ver := tombstoneVersion(op.Log.Offset, p.Version+1)
	erasedRows := map[PersonID]bool{id: true} // the person's own row comes last
	members, err := a.members(id)
	if err != nil {
		return err
	}
	for _, d := range members {
		m, _, err := a.s.Mapping(team, d)
		if err != nil {
			return err
		}
		m.Version++
		m.Deleted = true
		m.Blocked = op.Block
		m.Gen++
		m.Held = false
		m.Fresh = PersonID{}
		if imp := ImplicitPersonID(team, d); imp != id {
			ip, ok, err := a.s.Person(team, imp)
			if err != nil {
				return err
			}
			switch {
			case ok && !ip.Deleted:
				// d was split out of its implicit person, which lives on:
				// d's next event must not fall back into it.
				m.Fresh = freshPersonID(team, d, m.Gen)
			case ok && ip.Version < ver:
				// A re-created implicit person continues from the same
				// number live and rebuilt; the tombstone keeps no values.
				ip.Version, ip.Props = ver, nil
				if err := a.s.PutPerson(team, ip); err != nil {
					return err
				}
				a.erasedRow(ip, erasedRows)
			}
		}
		a.res.DistinctIDs = append(a.res.DistinctIDs, DistinctIDRow{Team: team, DistinctID: d, PersonID: id, Version: m.Version, Deleted: true})
		if err := a.s.PutMapping(team, d, m); err != nil {
			return err
		}
		if err := a.s.DeleteMember(team, id, d); err != nil {
			return err
		}
	}
	// Erase the tombstones absorbed into the person.
	absorbed, err := a.absorbedBy(id)
	if err != nil {
		return err
	}
	for _, g := range absorbed {
		if err := a.s.DeleteAbsorbed(team, id, g); err != nil {
			return err
		}
		t, ok, err := a.s.Person(team, g)
		if err != nil {
			return err
		}
		if !ok || !t.Deleted {
			continue // re-created since (a live person is never erased here)
		}
		t.Props = nil
		t.Version = max(t.Version, ver)
		if err := a.s.PutPerson(team, t); err != nil {
			return err
		}
		a.erasedRow(t, erasedRows)
	}
	// Release the keys; the last holder erases.
	refs, err := a.refsOf(id)
	if err != nil {
		return err
	}
	for _, k := range refs {
		if err := a.s.DeleteRef(team, id, k); err != nil {
			return err
		}
		st, _, err := a.s.Key(team, k)
		if err != nil {
			return err
		}
		if st.Holders > 0 {
			st.Holders--
		}
		if st.Holders == 0 && !st.Erased {
			st.Erased = true
			a.res.Erased = append(a.res.Erased, k)
		}
		if err := a.s.PutKey(team, k, st); err != nil {
			return err
		}
	}
	p.Deleted = true
	p.Props = nil
	p.Size = 0
	p.Version = ver
	a.res.Persons = append(a.res.Persons, PersonRow{Team: team, Person: p.clone()})
	a.mergeRow(RuleDelete, "", PersonID{}, id, members, "", op.DistinctID)
	return a.s.PutPerson(team, p)
}

// erasedRow emits the row of a tombstone a deletion erased (no properties,
// the deletion's version), once per person: the warehouse's copy of an
// absorbed person's row, which still has the properties it had when it was
// absorbed, is replaced too (docs/SEMANTICS.md §8).
func (a *applier) erasedRow(t Person, done map[PersonID]bool) {
	if done[t.ID] {
		return
	}
	done[t.ID] = true
	a.res.Persons = append(a.res.Persons, PersonRow{Team: a.op.Team, Person: t.clone()})
}

// splitNamed is the ids a split names: DistinctID then SplitIDs, each once
// (the first naming kept).
func (op *Op) splitNamed() []string {
	named := make([]string, 0, 1+len(op.SplitIDs))
	seen := make(map[string]struct{}, 1+len(op.SplitIDs))
	for _, d := range append([]string{op.DistinctID}, op.SplitIDs...) {
		if _, dup := seen[d]; dup {
			continue
		}
		seen[d] = struct{}{}
		named = append(named, d)
	}
	return named
}

// refuseSplit records a refused split: a warning and a lineage row.
func (a *applier) refuseSplit(why string, person PersonID, other string) {
	details, _ := json.Marshal(struct {
		DistinctID string `json:"distinct_id"`
	}{other})
	a.warn(why, string(details))
	a.mergeRow(RuleSplit, why, PersonID{}, person, nil, other, a.op.DistinctID)
}

// split applies an OpSplit (docs/SEMANTICS.md §8, "Split").
func (a *applier) split() error {
	op := a.op
	team := op.Team
	named := op.splitNamed()
	first := named[0]
	m, ok, err := a.s.Mapping(team, first)
	if err != nil {
		return err
	}
	if !ok || m.Deleted {
		a.refuseSplit(RefuseUnknownDistinctID, PersonID{}, first)
		return nil
	}
	pid := m.PersonID
	for _, d := range named[1:] {
		md, ok, err := a.s.Mapping(team, d)
		if err != nil {
			return err
		}
		if !ok || md.Deleted || md.PersonID != pid {
			a.refuseSplit(RefuseSplitNotInPerson, pid, d)
			return nil
		}
	}
	p, ok, err := a.s.Person(team, pid)
	if err != nil {
		return err
	}
	if !ok || p.Deleted {
		_, err := find(a.s, team, first) // the corruption error
		return err
	}
	if uint64(len(named)) >= p.Size {
		a.refuseSplit(RefuseSplitAll, pid, first)
		return nil
	}
	nid := SplitPersonID(team, first, op.Log.Offset)
	old, oldOK, err := a.s.Person(team, nid)
	if err != nil {
		return err
	}
	if oldOK && !old.Deleted {
		// Only a log that reuses an offset gets here.
		a.refuseSplit(RefuseSplitIDTaken, pid, first)
		return nil
	}
	n := Person{ID: nid, CreatedAt: p.CreatedAt, Identified: p.Identified, Size: uint64(len(named))}
	if oldOK {
		n.Version = old.Version + 1
	}
	if !op.NoProperties {
		n.Props = append([]Property(nil), p.Props...)
	}
	moved := append([]string(nil), named...)
	sort.Strings(moved)
	for _, d := range moved {
		md, _, err := a.s.Mapping(team, d)
		if err != nil {
			return err
		}
		md.PersonID = nid
		md.Version++
		md.Gen++
		md.Held = false
		a.res.DistinctIDs = append(a.res.DistinctIDs, DistinctIDRow{Team: team, DistinctID: d, PersonID: nid, Version: md.Version})
		if err := a.s.PutMapping(team, d, md); err != nil {
			return err
		}
		if err := a.s.DeleteMember(team, pid, d); err != nil {
			return err
		}
		if err := a.s.PutMember(team, nid, d); err != nil {
			return err
		}
	}
	p.Size -= uint64(len(named))
	if err := a.s.PutPerson(team, p); err != nil {
		return err
	}
	if !op.NoProperties {
		// The copied properties depend on every key P's do.
		refs, err := a.refsOf(pid)
		if err != nil {
			return err
		}
		for _, k := range refs {
			if err := a.addRef(nid, k); err != nil {
				return err
			}
		}
	}
	a.res.Persons = append(a.res.Persons, PersonRow{Team: team, Person: n.clone()})
	a.mergeRow(RuleSplit, "", nid, pid, moved, "", first)
	return a.s.PutPerson(team, n)
}
