package unionfind

import (
	"unicode/utf8"
)

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
func memberSize(key string, valueLen int) int { return jsonStringLen(key) + 1 + valueLen + 1 }

// objectSize is the size of an object of n members whose memberSizes add
// up to sum: "{}" when empty, else "{" and the members, each followed by
// its separator.
func objectSize(sum, n int) int {
	if n == 0 {
		return 2
	}
	return 1 + sum
}

// jsonStringLen returns len(json.Marshal(s)), the way AppendPropertiesJSON
// writes a key: quotes; \" \\ \b \f \n \r \t as two bytes; other control
// characters and <, >, & (HTML-escaped) as \u00XX; U+2028, U+2029 and each
// byte of invalid UTF-8 (written U+FFFD) as six bytes; everything else as
// it is. FuzzJSONStringLen checks it against encoding/json.
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += 6
		case r == '\u2028' || r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
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
