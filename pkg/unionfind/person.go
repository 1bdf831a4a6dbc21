package unionfind

import (
	"bytes"
	"encoding/json"
	"sort"
	"time"

	"github.com/resolver-dev/resolver/internal/jsonlit"
)

// ImplicitCreatedAt is the created_at stamped on events of an implicit
// person (docs/SEMANTICS.md §6).
var ImplicitCreatedAt = time.Unix(5, 0).UTC()

// Property is one stored person property: its JSON value and the time (Unix
// milliseconds) of the event that wrote it.
type Property struct {
	Key   string
	Value json.RawMessage
	Time  int64
}

// Person is a stored (explicit) person, or the tombstone of a deleted one.
//
// Version rises by one per visible change (created_at, is_identified,
// properties); a person absorbed by a merge is kept as a tombstone with
// Deleted set and Version+100, and a deleted one as a tombstone without
// properties at version 101 × (log offset of the deletion + 1)
// (docs/SEMANTICS.md §8), so that a person re-created under the same id
// continues above it and a warehouse folding by version always keeps the
// newest row.
type Person struct {
	ID         PersonID
	CreatedAt  int64 // Unix milliseconds
	Identified bool
	Deleted    bool
	Version    uint64
	// Size is the number of distinct_ids that point at the person. It is
	// internal (union bookkeeping and the merge move limit), not a row field.
	Size uint64
	// Props are sorted by Key, unique.
	Props []Property
}

// Prop returns the property with key k.
func (p *Person) Prop(k string) (Property, bool) {
	i := sort.Search(len(p.Props), func(i int) bool { return p.Props[i].Key >= k })
	if i < len(p.Props) && p.Props[i].Key == k {
		return p.Props[i], true
	}
	return Property{}, false
}

// setProp inserts or replaces a property, keeping Props sorted.
func (p *Person) setProp(prop Property) {
	i := sort.Search(len(p.Props), func(i int) bool { return p.Props[i].Key >= prop.Key })
	if i < len(p.Props) && p.Props[i].Key == prop.Key {
		p.Props[i] = prop
		return
	}
	p.Props = append(p.Props, Property{})
	copy(p.Props[i+1:], p.Props[i:])
	p.Props[i] = prop
}

// delProp removes the property with key k.
func (p *Person) delProp(k string) {
	i := sort.Search(len(p.Props), func(i int) bool { return p.Props[i].Key >= k })
	if i < len(p.Props) && p.Props[i].Key == k {
		p.Props = append(p.Props[:i], p.Props[i+1:]...)
	}
}

// clone returns a deep-enough copy: Props is copied, values are shared
// (they are never mutated in place).
func (p Person) clone() Person {
	p.Props = append([]Property(nil), p.Props...)
	return p
}

// sameRow reports whether two persons give the same warehouse row.
func (p *Person) sameRow(q *Person) bool {
	if p.ID != q.ID || p.CreatedAt != q.CreatedAt || p.Identified != q.Identified || p.Deleted != q.Deleted || len(p.Props) != len(q.Props) {
		return false
	}
	for i := range p.Props {
		if p.Props[i].Key != q.Props[i].Key || !bytes.Equal(p.Props[i].Value, q.Props[i].Value) {
			return false
		}
	}
	return true
}

// AppendPropertiesJSON appends the person's properties as one JSON object,
// keys in sorted order, each written exactly as json.Marshal writes it
// (jsonlit.AppendMarshalString: '<', '>' and '&' escaped). These bytes
// are stored and their length is what the size cap measures
// (PropertiesJSONSize), so they keep encoding/json's spelling rather than
// the module's own.
func (p *Person) AppendPropertiesJSON(dst []byte) []byte {
	dst = append(dst, '{')
	for i, pr := range p.Props {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonlit.AppendMarshalString(dst, pr.Key)
		dst = append(dst, ':')
		dst = append(dst, pr.Value...)
	}
	return append(dst, '}')
}

// Mapping is where a distinct_id points: its person, and the version of the
// distinct-id row (the number of times its person has changed). A deleted
// mapping is a tombstone: the id belongs to its implicit person again (or to
// Fresh), and the version carries on from the tombstone's.
type Mapping struct {
	PersonID PersonID
	Version  uint64
	Deleted  bool
	// Blocked (with Deleted): deleted with --block; events of the id are
	// dead-lettered and merges naming it refused.
	Blocked bool
	// Gen is the id's erasure generation: the data key its ops' values are
	// sealed under is (team, id, Gen). It rises when the id's person is
	// deleted and when a split moves the id.
	Gen uint32
	// Held: the person holds the key (id, Gen) already (a ref), so an op
	// of the id with values need not look. Any rewrite of the mapping to
	// another person or generation clears it (putMapping builds a new
	// Mapping; deletion and split clear it).
	Held bool
	// Fresh (with Deleted) is the person the id's next event starts when
	// that is not its implicit person: set at deletion when the implicit
	// person was alive with other ids (the id had been split out of it), to
	// UUIDv5(PersonNamespace, "<team>:<distinct_id>:gen:<Gen>"). Zero means
	// the implicit person.
	Fresh PersonID
}

// KeyState is the record of one data key (KeyRef) of a team: how many
// persons hold a ref to it, and whether it was erased (docs/SEMANTICS.md §8,
// "Erasure"). An erased key stays erased: the values sealed under it are
// applied by no replica from then on.
type KeyState struct {
	Holders uint64
	Erased  bool
}
