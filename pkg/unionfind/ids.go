package unionfind

import (
	"github.com/google/uuid"
)

// PersonID identifies a person. It is a UUID; implicit persons have the
// UUIDv5 of "<team>:<distinct_id>" in PersonNamespace.
type PersonID = uuid.UUID

// PersonNamespace is the UUIDv5 namespace of implicit person ids (docs/SEMANTICS.md §3).
var PersonNamespace = uuid.MustParse("932979b4-65c3-4424-8467-0b66ec27bc22")

// ImplicitPersonID is the id of the person a never-claimed distinct_id
// belongs to: UUIDv5(PersonNamespace, "<team>:<distinct_id>").
func ImplicitPersonID(team, distinctID string) PersonID {
	b := make([]byte, 0, len(team)+1+len(distinctID))
	b = append(b, team...)
	b = append(b, ':')
	b = append(b, distinctID...)
	return uuid.NewSHA1(PersonNamespace, b)
}
