package unionfind

import "errors"

var (
	// ErrInvalidOp is returned by Apply for an op that is malformed (unknown
	// kind, empty team or distinct_id). Such an op changes nothing.
	ErrInvalidOp = errors.New("unionfind: invalid op")
)
