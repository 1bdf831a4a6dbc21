package unionfind

import (
	"crypto/sha1" //nolint:gosec // UUIDv5 is defined over SHA-1 (RFC 9562 §5.5); not used for security

	"github.com/google/uuid"
)

// PersonID identifies a person. It is a UUID; implicit persons have the
// UUIDv5 of "<team>:<distinct_id>" in PersonNamespace.
type PersonID = uuid.UUID

// PersonNamespace is the UUIDv5 namespace of implicit person ids (docs/SEMANTICS.md §3).
var PersonNamespace = uuid.MustParse("932979b4-65c3-4424-8467-0b66ec27bc22")

// ImplicitPersonID is the id of the person a never-claimed distinct_id
// belongs to: UUIDv5(PersonNamespace, "<team>:<distinct_id>"). It is
// uuid.NewSHA1 without its allocations (a hash state, the name, the sum):
// it runs for every never-seen id the pipeline looks up. The name is
// hashed from a stack buffer when it fits (teams and ids are at most 200
// characters, so it always does for stored ones).
func ImplicitPersonID(team, distinctID string) PersonID {
	var buf [1024]byte
	b := append(buf[:0], PersonNamespace[:]...)
	b = append(b, team...)
	b = append(b, ':')
	b = append(b, distinctID...)
	sum := sha1.Sum(b) //nolint:gosec // see the import
	var id PersonID
	copy(id[:], sum[:16])
	id[6] = id[6]&0x0f | 0x50 // version 5
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id
}
