package unionfind

import "github.com/resolver-dev/resolver/internal/jsonlit"

// DefaultMaxPersonPropertiesBytes is the default of
// identity.max_person_properties_bytes: 512 KiB (docs/SEMANTICS.md §5, "Size
// cap").
const DefaultMaxPersonPropertiesBytes = 512 << 10

// PropertiesJSONSize returns the length of p.AppendPropertiesJSON(nil),
// the person_properties of a stamped event, without building it.
func (p *Person) PropertiesJSONSize() int {
	sum := 0
	for i := range p.Props {
		sum += memberSize(p.Props[i].Key, len(p.Props[i].Value))
	}
	return objectSize(sum, len(p.Props))
}

// memberSize is what one property adds to the properties object: its key
// as a JSON string, the colon, its value, and one separator (a comma, or
// for the last member the closing brace).
func memberSize(key string, valueLen int) int {
	return jsonlit.MarshalStringLen(key) + 1 + valueLen + 1
}

// objectSize is the size of an object of n members whose memberSizes add
// up to sum: "{}" when empty, else "{" and the members, each followed by
// its separator.
func objectSize(sum, n int) int {
	if n == 0 {
		return 2
	}
	return 1 + sum
}

// propBudget keeps a person's properties within the size cap while one op
// writes them (docs/SEMANTICS.md §5): it knows their JSON size and is told of
// every write, so each write costs O(1) to judge however many properties
// the person has.
type propBudget struct {
	limit   int
	sum, n  int // memberSize total and count of the properties
	dropped int // writes refused
}

func newPropBudget(p *Person, limit int) propBudget {
	b := propBudget{limit: limit, n: len(p.Props)}
	for i := range p.Props {
		b.sum += memberSize(p.Props[i].Key, len(p.Props[i].Value))
	}
	return b
}

// write reports whether writing key = value (replacing old, when had) keeps
// the properties within the limit — or at least does not grow them, so a
// person already over a lowered cap can still shrink — and if so accounts
// for it. A refused write is counted in dropped.
func (b *propBudget) write(key string, value []byte, had bool, old []byte) bool {
	sum, n := b.sum, b.n
	if had {
		sum += len(value) - len(old)
	} else {
		sum += memberSize(key, len(value))
		n++
	}
	if size := objectSize(sum, n); size > b.limit && size > objectSize(b.sum, b.n) {
		b.dropped++
		return false
	}
	b.sum, b.n = sum, n
	return true
}
