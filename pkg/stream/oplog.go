package stream

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// opVersion is the version of the identity_log record format. A reader
// refuses versions it does not know rather than guess.
const opVersion = 1

// errOpVersion marks an identity_log record of an unknown format version.
var errOpVersion = errors.New("stream: unknown identity_log record version")

type opRecord struct {
	V int `json:"v"`
	unionfind.Op
}

// encodeOp is the identity_log record value of an op (JSON, versioned).
func encodeOp(op *unionfind.Op) ([]byte, error) {
	return json.Marshal(opRecord{V: opVersion, Op: *op})
}

// decodeOp reads an identity_log record value.
func decodeOp(b []byte) (unionfind.Op, error) {
	var r opRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return unionfind.Op{}, fmt.Errorf("stream: decode identity op: %w", err)
	}
	if r.V != opVersion {
		return unionfind.Op{}, fmt.Errorf("%w: %d", errOpVersion, r.V)
	}
	return r.Op, nil
}
