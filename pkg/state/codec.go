package state

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/google/uuid"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Value encodings. Every structured value starts with a version byte so the
// format can change without a rebuild; the rest is varints, raw UUID bytes
// and length-prefixed byte strings. Encoding is deterministic: a value has
// exactly one encoding (properties are kept sorted by key by
// unionfind.Person), which is what makes Fingerprint comparable across
// replicas and engines.
//
//	Mapping v1: 0x01 ‖ flags(1: bit0 deleted) ‖ person(16) ‖ uvarint version
//	Mapping v2: 0x02 ‖ flags(1: bit0 deleted, bit1 blocked, bit2 fresh, bit3 held) ‖ person(16) ‖
//	            uvarint version ‖ uvarint gen ‖ [fresh(16) when bit2]
//	            (v1 is written whenever blocked, held, gen and fresh are all zero — every
//	            mapping before docs/SEMANTICS.md §8 — so those keep their bytes and
//	            fingerprints; v2 otherwise. Both are read.)
//	Mapping v3: 0x03 ‖ flags as v2 ‖ uvarint version ‖ uvarint gen ‖ [fresh(16) when bit2]
//	            the person is the id's implicit one (unionfind.ImplicitPersonID of the
//	            key's team and distinct_id), so it is not written. Since 2026-12-07 it is
//	            written whenever that holds — most ids, whose person is the one they
//	            founded — and v1 or v2 otherwise; older v1 and v2 values naming the
//	            implicit person are still read.
//	KeyState v1: 0x01 ‖ flags(1: bit0 erased) ‖ uvarint holders
//	Person  v1: 0x01 ‖ flags(1: bit0 identified, bit1 deleted) ‖ id(16) ‖
//	            varint created_at ‖ uvarint version ‖ uvarint size ‖ uvarint n ‖
//	            n × (uvarint len ‖ key ‖ uvarint len ‖ value ‖ varint time)
//	Person  v2: 0x02 ‖ v1 without id(16): the value of a p/ key, which holds the id.
//	            Since 2026-12-07 p/ values are v2 (older v1 values are read);
//	            outbox results keep v1, as they have no key to take the id from.
//	Person  v3: 0x03 ‖ flags(v2's, bit2 founder uuid) ‖ founder ‖ what follows the flags
//	            in v2: a person whose founder (the distinct_id whose implicit person it is)
//	            is one of its members. That membership is kept here instead of as an m/ key
//	            (founder.go). founder is 16 bytes when bit2 is set (a canonical UUID, such
//	            as the anonymous ids of posthog-js: 20 bytes fewer), else bytes founder;
//	            written since 2026-12-07 (after v2) whenever it holds, v2 otherwise.
//	            Since 2026-12-08 a v2 or v3 value with flags bit3 (linked) has the head of
//	            the person's lineage chain (lineage.go) right after its flags: uvarint log
//	            partition ‖ uvarint log offset ‖ uvarint index; v1 has none.
//	Result  v1: 0x01 ‖ uvarint n ‖ n × (bytes team ‖ bytes Person v1)
//	            ‖ uvarint n ‖ n × (bytes team ‖ bytes distinct_id ‖ person(16) ‖ uvarint version ‖ deleted(1))
//	            ‖ uvarint n ‖ n × (bytes team ‖ bytes type ‖ bytes uuid ‖ bytes distinct_id ‖ bytes details ‖ varint time)
//	Result  v2: 0x02 ‖ the three lists of v1
//	            ‖ uvarint n ‖ n × MergeRow: rule(1) ‖ survivor(16) ‖ absorbed(16) ‖ bytes team ‖
//	              bytes refused ‖ bytes other ‖ bytes into ‖ bytes uuid ‖ varint time ‖
//	              bytes source topic ‖ varint source partition ‖ varint source offset ‖
//	              uvarint source index ‖ varint log partition ‖ varint log offset ‖
//	              varint log time (lineage.go's appendMergeHead) ‖ uvarint m ‖ m × bytes moved
//	            ‖ uvarint n ‖ n × (bytes distinct_id ‖ uvarint gen): Erased
//	            (v1 is written when Merges and Erased are empty; both are read)
//	outbox batch: 0x03 ‖ uvarint n ‖ n × (varint offset ‖ uvarint index ‖ bytes Result v1 or v2)
//	            (several sources of one partition in one row: outbox.go)
//	high water: i64 offset ‖ u32 index, big-endian (12 bytes)
//	int64 values (applied offsets, billing totals and offsets): 8 bytes big-endian
//
// where bytes x = uvarint len(x) ‖ x.
const (
	codecV1 = 1
	codecV2 = 2
	codecV3 = 3 // mappings and p/ values
	// outboxBatch is the first byte of an outbox row that holds the
	// results of several sources (outbox.go); a row of one source starts
	// with codecV1 or codecV2.
	outboxBatch = 3
)

const (
	mappingDeleted = 1 << 0
	mappingBlocked = 1 << 1
	mappingFresh   = 1 << 2
	mappingHeld    = 1 << 3

	keyErased = 1 << 0

	personIdentified = 1 << 0
	personDeleted    = 1 << 1
	// personFounderUUID (v3 only): the founder is a canonical UUID
	// (parseCanonicalUUID), written as its 16 bytes.
	personFounderUUID = 1 << 2
	// personLinked (v2 and v3 values, since 2026-12-08): the value holds
	// the head of the person's lineage chain (lineage.go) right after its
	// flags: uvarint log partition ‖ uvarint log offset ‖ uvarint index.
	personLinked = 1 << 3
)

// appendMapping appends the value of the mapping key of (team,
// distinctID): v3 when m names the id's implicit person, else
// appendMappingFull's.
func appendMapping(b []byte, team, distinctID string, m unionfind.Mapping) []byte {
	if m.PersonID != unionfind.ImplicitPersonID(team, distinctID) {
		return appendMappingFull(b, m)
	}
	flags := mappingFlags(m)
	b = append(b, codecV3, flags)
	b = binary.AppendUvarint(b, m.Version)
	b = binary.AppendUvarint(b, uint64(m.Gen))
	if flags&mappingFresh != 0 {
		b = append(b, m.Fresh[:]...)
	}
	return b
}

// mappingFlags is the flags byte of m's v2 and v3 encodings.
func mappingFlags(m unionfind.Mapping) byte {
	var flags byte
	if m.Deleted {
		flags |= mappingDeleted
	}
	if m.Blocked {
		flags |= mappingBlocked
	}
	if m.Fresh != (unionfind.PersonID{}) {
		flags |= mappingFresh
	}
	if m.Held {
		flags |= mappingHeld
	}
	return flags
}

// appendMappingFull appends the v1 or v2 encoding of m, which writes its
// person: every mapping before v3, and what Fingerprint hashes.
func appendMappingFull(b []byte, m unionfind.Mapping) []byte {
	var flags byte
	if m.Deleted {
		flags |= mappingDeleted
	}
	hasFresh := m.Fresh != (unionfind.PersonID{})
	if !m.Blocked && m.Gen == 0 && !hasFresh && !m.Held {
		b = append(b, codecV1, flags)
		b = append(b, m.PersonID[:]...)
		return binary.AppendUvarint(b, m.Version)
	}
	if m.Blocked {
		flags |= mappingBlocked
	}
	if hasFresh {
		flags |= mappingFresh
	}
	if m.Held {
		flags |= mappingHeld
	}
	b = append(b, codecV2, flags)
	b = append(b, m.PersonID[:]...)
	b = binary.AppendUvarint(b, m.Version)
	b = binary.AppendUvarint(b, uint64(m.Gen))
	if hasFresh {
		b = append(b, m.Fresh[:]...)
	}
	return b
}

// decodeMapping decodes the value of the mapping key of (team,
// distinctID), v1, v2 or v3. It does not keep v.
func decodeMapping(team, distinctID string, v []byte) (unionfind.Mapping, error) {
	d := decoder{b: v}
	ver := d.byte()
	if ver != codecV1 && ver != codecV2 && ver != codecV3 {
		return unionfind.Mapping{}, corrupt("mapping", "unknown version")
	}
	flags := d.byte()
	known := byte(mappingDeleted)
	if ver != codecV1 {
		known |= mappingBlocked | mappingFresh | mappingHeld
	}
	if flags&^known != 0 {
		return unionfind.Mapping{}, corrupt("mapping", "unknown flags")
	}
	var m unionfind.Mapping
	if ver == codecV3 {
		m.PersonID = unionfind.ImplicitPersonID(team, distinctID)
	} else {
		m.PersonID = d.uuid()
	}
	m.Version = d.uvarint()
	m.Deleted = flags&mappingDeleted != 0
	if ver != codecV1 {
		m.Blocked = flags&mappingBlocked != 0
		m.Held = flags&mappingHeld != 0
		gen := d.uvarint()
		if gen > 1<<32-1 {
			d.fail("generation over 32 bits")
		}
		m.Gen = uint32(gen)
		if flags&mappingFresh != 0 {
			m.Fresh = d.uuid()
			if m.Fresh == (unionfind.PersonID{}) {
				d.fail("zero fresh person")
			}
		}
		if ver == codecV2 && !m.Blocked && !m.Held && m.Gen == 0 && flags&mappingFresh == 0 && d.err == nil {
			d.fail("v2 encoding of a v1 mapping")
		}
	}
	if err := d.finish("mapping"); err != nil {
		return unionfind.Mapping{}, err
	}
	return m, nil
}

// appendKeyState appends the encoding of a data key's record.
func appendKeyState(b []byte, st unionfind.KeyState) []byte {
	var flags byte
	if st.Erased {
		flags |= keyErased
	}
	b = append(b, codecV1, flags)
	return binary.AppendUvarint(b, st.Holders)
}

// decodeKeyState decodes a data key's record. It does not keep v.
func decodeKeyState(v []byte) (unionfind.KeyState, error) {
	d := decoder{b: v}
	if d.byte() != codecV1 {
		return unionfind.KeyState{}, corrupt("key record", "unknown version")
	}
	flags := d.byte()
	if flags&^keyErased != 0 {
		return unionfind.KeyState{}, corrupt("key record", "unknown flags")
	}
	st := unionfind.KeyState{Erased: flags&keyErased != 0, Holders: d.uvarint()}
	if err := d.finish("key record"); err != nil {
		return unionfind.KeyState{}, err
	}
	return st, nil
}

// appendPerson appends the encoding of p.
func appendPerson(b []byte, p *unionfind.Person) []byte {
	b = append(b, codecV1, personFlags(p))
	b = append(b, p.ID[:]...)
	return appendPersonBody(b, p)
}

// personMeta is what a p/ value keeps beside the person itself: its
// founder member (founder.go; "" for none) and the head of its lineage
// chain (lineage.go; linked false for none).
type personMeta struct {
	founder string
	head    lpos
	linked  bool
}

// appendPersonValue appends the value of p's p/ key: Person v2, the id
// left to the key, or v3 with its founder member (founder.go) if there is
// one; either with the head of its lineage chain (personLinked) if it has
// one.
func appendPersonValue(b []byte, p *unionfind.Person, m personMeta) []byte {
	flags := personFlags(p)
	if m.linked {
		flags |= personLinked
	}
	u, uuidFounder := parseCanonicalUUID(m.founder)
	switch {
	case m.founder == "":
		b = append(b, codecV2, flags)
	case uuidFounder:
		b = append(b, codecV3, flags|personFounderUUID)
	default:
		b = append(b, codecV3, flags)
	}
	if m.linked {
		b = appendHead(b, m.head)
	}
	switch {
	case m.founder == "":
	case uuidFounder:
		b = append(b, u[:]...)
	default:
		b = binary.AppendUvarint(b, uint64(len(m.founder)))
		b = append(b, m.founder...)
	}
	return appendPersonBody(b, p)
}

// relinkPersonValue returns a copy of the v2 or v3 p/ value v with head
// as its lineage head, in place of the one it had if any.
func relinkPersonValue(v []byte, head lpos) ([]byte, error) {
	if len(v) < 2 || (v[0] != codecV2 && v[0] != codecV3) {
		return nil, corrupt("person", "no lineage head in this version")
	}
	rest := v[2:]
	if v[1]&personLinked != 0 {
		d := decoder{b: rest}
		d.head()
		if d.err != nil {
			return nil, corrupt("person", d.err.Error())
		}
		rest = d.b
	}
	b := make([]byte, 0, len(v)+3*binary.MaxVarintLen64)
	b = append(b, v[0], v[1]|personLinked)
	b = appendHead(b, head)
	return append(b, rest...), nil
}

// appendHead appends a lineage chain's head as a p/ value keeps it.
func appendHead(b []byte, p lpos) []byte {
	b = binary.AppendUvarint(b, uint64(p.part))
	b = binary.AppendUvarint(b, uint64(p.off))
	return binary.AppendUvarint(b, uint64(p.index))
}

// head reads what appendHead wrote.
func (d *decoder) head() lpos {
	part, off, index := d.uvarint(), d.uvarint(), d.u32()
	if part > 1<<31-1 || off > 1<<63-1 {
		d.fail("lineage head out of range")
		return lpos{}
	}
	return lpos{part: int32(part), off: int64(off), index: index}
}

func personFlags(p *unionfind.Person) byte {
	var flags byte
	if p.Identified {
		flags |= personIdentified
	}
	if p.Deleted {
		flags |= personDeleted
	}
	return flags
}

// appendPersonBody appends what follows the id in Person v1 (all that
// follows the flags in v2).
func appendPersonBody(b []byte, p *unionfind.Person) []byte {
	b = binary.AppendVarint(b, p.CreatedAt)
	b = binary.AppendUvarint(b, p.Version)
	b = binary.AppendUvarint(b, p.Size)
	b = binary.AppendUvarint(b, uint64(len(p.Props)))
	for _, pr := range p.Props {
		b = binary.AppendUvarint(b, uint64(len(pr.Key)))
		b = append(b, pr.Key...)
		b = binary.AppendUvarint(b, uint64(len(pr.Value)))
		b = append(b, pr.Value...)
		b = binary.AppendVarint(b, pr.Time)
	}
	return b
}

// personSize is a capacity hint for appendPerson.
func personSize(p *unionfind.Person) int {
	n := 2 + 16 + 3*binary.MaxVarintLen64 + binary.MaxVarintLen32
	for _, pr := range p.Props {
		n += len(pr.Key) + len(pr.Value) + 2*binary.MaxVarintLen32 + binary.MaxVarintLen64
	}
	return n
}

// encodePersonValue returns the value of p's p/ key, with what m holds,
// in a buffer of its own.
func encodePersonValue(p *unionfind.Person, m personMeta) []byte {
	return appendPersonValue(make([]byte, 0, personSize(p)+binary.MaxVarintLen32+len(m.founder)+3*binary.MaxVarintLen64), p, m)
}

// decodePerson decodes a Person v1 (an outbox result's). It does not keep
// v: the properties' keys and values share one private copy of the
// property bytes, which nothing ever writes to, so the result is safe to
// keep and to share read-only.
func decodePerson(v []byte) (unionfind.Person, error) {
	p, _, err := decodePersonAs(v, nil)
	return p, err
}

// decodePersonValue decodes the value of the p/ key of person id: v3 or
// v2, or v1 (written before 2026-12-07), whose id must be id. Like
// decodePerson it does not keep v. A v3 value's founder is not returned:
// decodePersonRecord.
func decodePersonValue(id unionfind.PersonID, v []byte) (unionfind.Person, error) {
	p, _, err := decodePersonAs(v, &id)
	return p, err
}

// decodePersonRecord is decodePersonValue with what the value keeps
// beside the person (its founder member, copied out of v, and its lineage
// head; none in v1).
func decodePersonRecord(id unionfind.PersonID, v []byte) (unionfind.Person, personMeta, error) {
	return decodePersonAs(v, &id)
}

// decodePersonAs decodes a Person v1, or with keyID (a p/ key's person) v2
// and v3 too.
func decodePersonAs(v []byte, keyID *unionfind.PersonID) (p unionfind.Person, m personMeta, err error) {
	d := decoder{b: v}
	ver := d.byte()
	if ver != codecV1 && (keyID == nil || (ver != codecV2 && ver != codecV3)) {
		return p, m, corrupt("person", "unknown version")
	}
	flags := d.byte()
	known := byte(personIdentified | personDeleted)
	if ver != codecV1 {
		known |= personLinked
	}
	if ver == codecV3 {
		known |= personFounderUUID
	}
	if flags&^known != 0 {
		return p, m, corrupt("person", "unknown flags")
	}
	p = unionfind.Person{
		Identified: flags&personIdentified != 0,
		Deleted:    flags&personDeleted != 0,
	}
	if flags&personLinked != 0 {
		m.head, m.linked = d.head(), true
	}
	switch ver {
	case codecV1:
		p.ID = d.uuid()
		if keyID != nil && d.err == nil && p.ID != *keyID {
			return p, m, corrupt("person", "id differs from the key's")
		}
	case codecV3:
		if flags&personFounderUUID != 0 {
			if u := d.uuid(); d.err == nil {
				m.founder = uuid.UUID(u).String() // the canonical form, as parseCanonicalUUID read it
			}
		} else {
			f := d.bytes()
			if d.err == nil {
				if _, ok := parseCanonicalUUID(string(f)); ok || len(f) == 0 {
					return p, m, corrupt("person", "founder not in its shortest form")
				}
			}
			m.founder = string(f)
		}
		p.ID = *keyID
	default:
		p.ID = *keyID
	}
	p.CreatedAt = d.varint()
	p.Version = d.uvarint()
	p.Size = d.uvarint()
	n := d.uvarint()
	if d.err != nil {
		return unionfind.Person{}, personMeta{}, corrupt("person", d.err.Error())
	}
	if n > uint64(len(d.b))/3 { // every property takes at least 3 bytes
		return unionfind.Person{}, personMeta{}, corrupt("person", "property count exceeds value")
	}
	if n > 0 {
		own := append([]byte(nil), d.b...) // keys and values alias this copy
		d.b = own
		p.Props = make([]unionfind.Property, n)
		for i := range p.Props {
			k := d.bytes()
			val := d.bytes()
			t := d.varint()
			if d.err != nil {
				return unionfind.Person{}, personMeta{}, corrupt("person", d.err.Error())
			}
			pr := unionfind.Property{Value: val[:len(val):len(val)], Time: t}
			if len(k) > 0 {
				pr.Key = unsafe.String(&k[0], len(k))
			}
			if i > 0 && p.Props[i-1].Key >= pr.Key {
				return unionfind.Person{}, personMeta{}, corrupt("person", "properties out of order")
			}
			p.Props[i] = pr
		}
	}
	if err := d.finish("person"); err != nil {
		return unionfind.Person{}, personMeta{}, err
	}
	return p, m, nil
}

// encodeHighWater encodes the (offset, index) of a source.
func encodeHighWater(src unionfind.Source) []byte {
	b := make([]byte, 0, 12)
	b = binary.BigEndian.AppendUint64(b, uint64(src.Offset))
	return binary.BigEndian.AppendUint32(b, src.Index)
}

func decodeHighWater(v []byte) (offset int64, index uint32, err error) {
	if len(v) != 12 {
		return 0, 0, corrupt("high water", "not 12 bytes")
	}
	return int64(binary.BigEndian.Uint64(v)), binary.BigEndian.Uint32(v[8:]), nil
}

// encodeI64 and decodeI64: the plain int64 values.
func encodeI64(v int64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(v))
}

func decodeI64(what string, v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, corrupt(what, "not 8 bytes")
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

// encodeResult encodes the feed rows and warnings of one op.
func encodeResult(r *unionfind.Result) []byte { return appendResult(nil, r) }

// appendResult appends the encoding of r to b (encodeResult), without a
// buffer of its own: an Update encodes its ops' results into one arena.
func appendResult(b []byte, r *unionfind.Result) []byte {
	v2 := len(r.Merges) > 0 || len(r.Erased) > 0
	if v2 {
		b = append(b, codecV2)
	} else {
		b = append(b, codecV1)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Persons)))
	for i := range r.Persons {
		row := &r.Persons[i]
		b = appendBytes(b, row.Team)
		b = appendPrefixed(b, func(b []byte) []byte { return appendPerson(b, &row.Person) })
	}
	b = binary.AppendUvarint(b, uint64(len(r.DistinctIDs)))
	for _, row := range r.DistinctIDs {
		b = appendBytes(b, row.Team)
		b = appendBytes(b, row.DistinctID)
		b = append(b, row.PersonID[:]...)
		b = binary.AppendUvarint(b, row.Version)
		if row.Deleted {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.Warnings)))
	for _, w := range r.Warnings {
		b = appendBytes(b, w.Team)
		b = appendBytes(b, w.Type)
		b = appendBytes(b, w.EventUUID)
		b = appendBytes(b, w.DistinctID)
		b = appendBytes(b, w.Details)
		b = binary.AppendVarint(b, w.Timestamp)
	}
	if !v2 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(r.Merges)))
	for i := range r.Merges {
		m := &r.Merges[i]
		b = appendMergeHead(b, m) // as the l/ rows (lineage.go), then every moved id in order
		b = binary.AppendUvarint(b, uint64(len(m.Moved)))
		for _, d := range m.Moved {
			b = appendBytes(b, d)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.Erased)))
	for _, k := range r.Erased {
		b = appendBytes(b, k.DistinctID)
		b = binary.AppendUvarint(b, uint64(k.Gen))
	}
	return b
}

// appendPrefixed appends uvarint len(x) ‖ x, where x is what enc appends:
// bytes x of a value encoded in place, with no buffer of its own (x is
// moved right by the length's size).
func appendPrefixed(b []byte, enc func([]byte) []byte) []byte {
	start := len(b)
	b = enc(b)
	n := len(b) - start
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(n))
	b = append(b, hdr[:h]...)
	copy(b[start+h:], b[start:start+n])
	copy(b[start:], hdr[:h])
	return b
}

// decodeResult decodes a Result. It does not keep v.
func decodeResult(v []byte) (unionfind.Result, error) {
	d := decoder{b: v}
	ver := d.byte()
	if ver != codecV1 && ver != codecV2 {
		return unionfind.Result{}, corrupt("outbox row", "unknown version")
	}
	var r unionfind.Result
	if n := d.count(); n > 0 {
		r.Persons = make([]unionfind.PersonRow, n)
		for i := range r.Persons {
			r.Persons[i].Team = string(d.bytes())
			pb := d.bytes()
			if d.err != nil {
				break
			}
			p, err := decodePerson(pb)
			if err != nil {
				return unionfind.Result{}, err
			}
			r.Persons[i].Person = p
		}
	}
	if n := d.count(); n > 0 {
		r.DistinctIDs = make([]unionfind.DistinctIDRow, n)
		for i := range r.DistinctIDs {
			row := &r.DistinctIDs[i]
			row.Team = string(d.bytes())
			row.DistinctID = string(d.bytes())
			row.PersonID = d.uuid()
			row.Version = d.uvarint()
			switch d.byte() {
			case 0:
			case 1:
				row.Deleted = true
			default:
				d.fail("bad deleted flag")
			}
		}
	}
	if n := d.count(); n > 0 {
		r.Warnings = make([]unionfind.Warning, n)
		for i := range r.Warnings {
			w := &r.Warnings[i]
			w.Team = string(d.bytes())
			w.Type = string(d.bytes())
			w.EventUUID = string(d.bytes())
			w.DistinctID = string(d.bytes())
			w.Details = string(d.bytes())
			w.Timestamp = d.varint()
		}
	}
	if ver == codecV2 {
		decodeLineage(&d, &r)
	}
	if err := d.finish("outbox row"); err != nil {
		return unionfind.Result{}, err
	}
	return r, nil
}

func appendBytes(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func corrupt(what, why string) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, what, why)
}

// decoder reads a value, remembering the first failure; reads after a
// failure return zero values.
type decoder struct {
	b   []byte
	err error
}

type decodeError string

func (e decodeError) Error() string { return string(e) }

func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = decodeError(why)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uuid() (id unionfind.PersonID) {
	if len(d.b) < 16 {
		d.fail("truncated")
		return id
	}
	copy(id[:], d.b)
	d.b = d.b[16:]
	return id
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || overlong(d.b, n) {
		d.fail("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 || overlong(d.b, n) {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// overlong reports whether the n-byte varint at the start of b is longer
// than its value needs (a last byte of 0 after the first): every value is
// written with binary.Append(U)varint, so a value has one encoding, and
// decode-then-encode gives back its bytes.
func overlong(b []byte, n int) bool { return n > 1 && b[n-1] == 0 }

// bytes reads uvarint len ‖ bytes and returns them without copying.
func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("truncated")
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

// count reads a element count, bounded by the bytes left (every element
// takes at least one byte), so a corrupt count cannot make us allocate
// unboundedly.
func (d *decoder) count() uint64 {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail("count exceeds value")
		return 0
	}
	return n
}

func (d *decoder) finish(what string) error {
	if d.err != nil {
		return corrupt(what, d.err.Error())
	}
	if len(d.b) != 0 {
		return corrupt(what, "trailing bytes")
	}
	return nil
}

// decodeLineage reads the Merges and Erased of a v2 Result.
func decodeLineage(d *decoder, r *unionfind.Result) {
	if n := d.count(); n > 0 {
		r.Merges = make([]unionfind.MergeRow, n)
		for i := range r.Merges {
			m := &r.Merges[i]
			decodeMergeHead(d, m)
			if k := d.count(); k > 0 {
				m.Moved = make([]string, k)
				for j := range m.Moved {
					m.Moved[j] = string(d.bytes())
				}
			}
			if d.err != nil {
				return
			}
		}
	}
	if n := d.count(); n > 0 {
		r.Erased = make([]unionfind.KeyRef, n)
		for i := range r.Erased {
			r.Erased[i].DistinctID = string(d.bytes())
			r.Erased[i].Gen = d.u32()
		}
	}
}

// i32 reads a varint that must fit an int32.
func (d *decoder) i32() int32 {
	v := d.varint()
	if v < -1<<31 || v > 1<<31-1 {
		d.fail("int32 out of range")
		return 0
	}
	return int32(v)
}

// u32 reads a uvarint that must fit a uint32.
func (d *decoder) u32() uint32 {
	v := d.uvarint()
	if v > 1<<32-1 {
		d.fail("uint32 out of range")
		return 0
	}
	return uint32(v)
}
