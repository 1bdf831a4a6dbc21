package event

import (
	"errors"
	"strconv"
)

// Reason is why a record goes to the dead-letter topic. Its value is the
// string written to the record's "error" header.
type Reason string

// Dead-letter reasons, in the order Decode checks them (see the package doc).
const (
	ReasonEventTooLarge                   Reason = "event_too_large"
	ReasonInvalidJSON                     Reason = "invalid_json"
	ReasonMissingTeam                     Reason = "missing_team"
	ReasonInvalidTeam                     Reason = "invalid_team"
	ReasonUnknownTeam                     Reason = "unknown_team"
	ReasonInvalidDistinctID               Reason = "invalid_distinct_id"
	ReasonInvalidUUID                     Reason = "invalid_uuid"
	ReasonInvalidEventName                Reason = "invalid_event_name"
	ReasonIdentityWithoutPersonProcessing Reason = "identity_event_without_person_processing"
)

// Reasons lists every Reason Decode can return, in check order.
var Reasons = []Reason{
	ReasonEventTooLarge,
	ReasonInvalidJSON,
	ReasonMissingTeam,
	ReasonInvalidTeam,
	ReasonUnknownTeam,
	ReasonInvalidDistinctID,
	ReasonInvalidUUID,
	ReasonInvalidEventName,
	ReasonIdentityWithoutPersonProcessing,
}

// Sentinels for errors.Is: a *Rejection matches the sentinel of its Reason,
// whatever its Detail, so errors.Is(err, event.ErrMissingTeam) works.
var (
	ErrEventTooLarge                   = &Rejection{Reason: ReasonEventTooLarge}
	ErrInvalidJSON                     = &Rejection{Reason: ReasonInvalidJSON}
	ErrMissingTeam                     = &Rejection{Reason: ReasonMissingTeam}
	ErrInvalidTeam                     = &Rejection{Reason: ReasonInvalidTeam}
	ErrUnknownTeam                     = &Rejection{Reason: ReasonUnknownTeam}
	ErrInvalidDistinctID               = &Rejection{Reason: ReasonInvalidDistinctID}
	ErrInvalidUUID                     = &Rejection{Reason: ReasonInvalidUUID}
	ErrInvalidEventName                = &Rejection{Reason: ReasonInvalidEventName}
	ErrIdentityWithoutPersonProcessing = &Rejection{Reason: ReasonIdentityWithoutPersonProcessing}
)

// Rejection is the error Decode returns for a record that must be
// dead-lettered. Detail is for people: it names the field and, shortened,
// the offending value.
type Rejection struct {
	Reason Reason
	Detail string
}

// Error returns "event: <reason>: <detail>".
func (r *Rejection) Error() string {
	if r.Detail == "" {
		return "event: " + string(r.Reason)
	}
	return "event: " + string(r.Reason) + ": " + r.Detail
}

// Is reports whether target is a *Rejection with the same Reason, so the
// Err… sentinels match any Detail.
func (r *Rejection) Is(target error) bool {
	t, ok := target.(*Rejection)
	return ok && t != nil && r != nil && t.Reason == r.Reason
}

// ReasonOf returns the Reason of the first *Rejection in err's chain.
func ReasonOf(err error) (Reason, bool) {
	var r *Rejection
	if errors.As(err, &r) && r != nil {
		return r.Reason, true
	}
	return "", false
}

func reject(reason Reason, detail string) *Rejection {
	return &Rejection{Reason: reason, Detail: detail}
}

// maxQuoted bounds how much of an offending value a Detail repeats.
const maxQuoted = 64

// quoteShort renders b for a Detail: Go-quoted, cut to maxQuoted bytes.
func quoteShort(b []byte) string {
	if len(b) > maxQuoted {
		return strconv.Quote(string(b[:maxQuoted])) + "…"
	}
	return strconv.Quote(string(b))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
