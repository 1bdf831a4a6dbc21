package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/resolver-dev/resolver/internal/teamrule"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Version is the command record version Encode writes and Decode reads.
const Version = 1

// Bounds of a command.
const (
	// MaxBytes is the largest command record.
	MaxBytes = 512 << 10
	// MaxDistinctIDs is the most ids one command may name.
	MaxDistinctIDs = 1000
	// MaxRequestIDBytes bounds the request id (a UUID has 36).
	MaxRequestIDBytes = unionfind.MaxEventUUIDBytes
)

// Kind is what a command asks for.
type Kind string

// Kinds.
const (
	Delete Kind = "delete"
	Split  Kind = "split"
)

// Command is one admin request.
type Command struct {
	V       int    `json:"v"`
	Command Kind   `json:"command"`
	Team    string `json:"team"`
	// DistinctIDs: delete names one; split names the ids that leave their
	// person together (the first decides the new person's id).
	DistinctIDs  []string `json:"distinct_ids"`
	Block        bool     `json:"block,omitempty"`
	NoProperties bool     `json:"no_properties,omitempty"`
	RequestID    string   `json:"request_id"`
	RequestedAt  string   `json:"requested_at,omitempty"`
}

// ErrInvalid is wrapped by every error of Decode and Validate.
var ErrInvalid = errors.New("invalid command")

// NewDelete is a delete command with a fresh request id.
func NewDelete(team, distinctID string, block bool, now time.Time) Command {
	return Command{V: Version, Command: Delete, Team: team, DistinctIDs: []string{distinctID}, Block: block,
		RequestID: uuid.NewString(), RequestedAt: now.UTC().Format(time.RFC3339Nano)}
}

// NewSplit is a split command with a fresh request id.
func NewSplit(team string, distinctIDs []string, noProperties bool, now time.Time) Command {
	return Command{V: Version, Command: Split, Team: team, DistinctIDs: append([]string(nil), distinctIDs...), NoProperties: noProperties,
		RequestID: uuid.NewString(), RequestedAt: now.UTC().Format(time.RFC3339Nano)}
}

// Encode is the command's record value. It validates first.
func (c Command) Encode() ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("lifecycle: %w", err)
	}
	if len(b) > MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", ErrInvalid, len(b), MaxBytes)
	}
	return b, nil
}

// Decode reads a command record value. Unknown fields are refused (a typo
// such as "blok" must not silently delete without blocking).
func Decode(b []byte) (Command, error) {
	if b == nil {
		return Command{}, fmt.Errorf("%w: a Kafka tombstone (null value)", ErrInvalid)
	}
	if len(b) > MaxBytes {
		return Command{}, fmt.Errorf("%w: %d bytes, over %d", ErrInvalid, len(b), MaxBytes)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var c Command
	if err := d.Decode(&c); err != nil {
		return Command{}, fmt.Errorf("%w: not a command object: %s", ErrInvalid, clip(err.Error()))
	}
	if d.More() {
		return Command{}, fmt.Errorf("%w: data after the command object", ErrInvalid)
	}
	if err := c.Validate(); err != nil {
		return Command{}, err
	}
	return c, nil
}

// Validate reports what is wrong with c, if anything: the error wraps
// ErrInvalid and names the field.
func (c *Command) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	if c.V != Version {
		return bad("v is %d; this binary reads version %d", c.V, Version)
	}
	switch c.Command {
	case Delete:
		if len(c.DistinctIDs) != 1 {
			return bad("delete names exactly one distinct_id, not %d", len(c.DistinctIDs))
		}
		if c.NoProperties {
			return bad("no_properties is a split option")
		}
	case Split:
		if len(c.DistinctIDs) == 0 {
			return bad("split names at least one distinct_id")
		}
		if c.Block {
			return bad("block is a delete option")
		}
	default:
		return bad("command %.40q is not delete or split", string(c.Command))
	}
	if why := teamrule.Problem(c.Team); why != "" {
		return bad("team %s", why)
	}
	if len(c.DistinctIDs) > MaxDistinctIDs {
		return bad("%d distinct_ids, over %d", len(c.DistinctIDs), MaxDistinctIDs)
	}
	for i, id := range c.DistinctIDs {
		if why := idProblem(id); why != "" {
			return bad("distinct_ids[%d] %s", i, why)
		}
	}
	if c.RequestID == "" || len(c.RequestID) > MaxRequestIDBytes || !utf8.ValidString(c.RequestID) || strings.ContainsFunc(c.RequestID, isControl) {
		return bad("request_id must be 1 to %d bytes of printable UTF-8", MaxRequestIDBytes)
	}
	if c.RequestedAt != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.RequestedAt); err != nil {
			return bad("requested_at %.40q is not RFC 3339", c.RequestedAt)
		}
	}
	return nil
}

// Op is the identity op of a valid command, from the record at src whose
// Kafka timestamp is recordMillis: the op's time is requested_at, or the
// record's time without it.
func (c *Command) Op(src unionfind.Source, recordMillis int64) unionfind.Op {
	op := unionfind.Op{Source: src, Team: c.Team, DistinctID: c.DistinctIDs[0], EventUUID: c.RequestID, Timestamp: recordMillis}
	if t, err := time.Parse(time.RFC3339Nano, c.RequestedAt); err == nil {
		op.Timestamp = t.UnixMilli()
	}
	switch c.Command {
	case Delete:
		op.Kind, op.Block = unionfind.OpDeletePerson, c.Block
	case Split:
		op.Kind, op.NoProperties = unionfind.OpSplit, c.NoProperties
		op.SplitIDs = append([]string(nil), c.DistinctIDs[1:]...)
	}
	return op
}

func idProblem(id string) string {
	switch {
	case id == "":
		return "is empty"
	case !utf8.ValidString(id):
		return "is not valid UTF-8"
	case utf8.RuneCountInString(id) > unionfind.MaxDistinctIDRunes:
		return fmt.Sprintf("is over %d characters", unionfind.MaxDistinctIDRunes)
	case strings.IndexByte(id, 0) >= 0:
		return "holds NUL"
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
