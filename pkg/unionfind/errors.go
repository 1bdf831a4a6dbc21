package unionfind

import "errors"

var (
	// ErrInvalidOp is returned by Apply and Op.Validate for an op that is
	// malformed: an unknown kind, or a field out of its bounds (see
	// Op.Validate). Such an op changes nothing, on every replica alike.
	ErrInvalidOp = errors.New("unionfind: invalid op")
)
