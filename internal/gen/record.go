package gen

import (
	"time"

	"github.com/resolver-dev/resolver/pkg/billing"
)

// Kinds of record, the value of Record.Kind.
const (
	KindPageview     = "pageview"      // $pageview from a browser
	KindPageleave    = "pageleave"     // $pageleave from a browser
	KindScreen       = "screen"        // $screen from a mobile app
	KindAutocapture  = "autocapture"   // $autocapture
	KindCustom       = "custom"        // product events (button_clicked, checkout_started, …), some from a server library
	KindSet          = "set"           // a $set event (setPersonProperties), never personless
	KindExcluded     = "excluded"      // an event billing excludes ($feature_flag_called, $exception, survey …)
	KindIdentify     = "identify"      // a login: $identify with $anon_distinct_id and $set
	KindSharedDevice = "shared_device" // a second person's $identify with an anonymous id already identified: refused
	KindAlias        = "alias"         // $create_alias of a CRM id into the person's id, from a server library
	KindIllegalID    = "illegal_id"    // an ordinary event whose distinct_id is illegal for merges ("null", …)
	KindMalformed    = "malformed"     // certain to be dead-lettered with Record.Reason
)

// Kinds lists every Kind.
var Kinds = []string{
	KindPageview, KindPageleave, KindScreen, KindAutocapture, KindCustom, KindSet, KindExcluded,
	KindIdentify, KindSharedDevice, KindAlias, KindIllegalID, KindMalformed,
}

// Dead-letter reasons of malformed records (docs/SEMANTICS.md §1), the values of
// Record.Reason.
const (
	ReasonInvalidJSON       = "invalid_json"
	ReasonMissingTeam       = "missing_team"
	ReasonInvalidDistinctID = "invalid_distinct_id"
	ReasonInvalidUUID       = "invalid_uuid"
	ReasonInvalidEventName  = "invalid_event_name"
)

// Record is one generated Kafka record and what the generator knows about
// it. Key and Value are owned by the caller.
type Record struct {
	// Key is "token:distinct_id" as capture keys it, with the token and the
	// distinct_id the record sends (api_key for mobile SDKs; a numeric
	// distinct_id in decimal). Malformed records get the same, with "" for a
	// part they lack.
	Key []byte
	// Value is the record value: a JSON event or a capture envelope.
	Value []byte
	// Kind is one of the Kind… constants.
	Kind string
	// UUID is the record's uuid, "" for records without a valid one.
	UUID string
	// Event is the event name, "" if the record has none.
	Event string
	// Team is the team the record was generated for, as the resolver names
	// it (TeamName).
	Team string
	// DistinctID is the distinct_id as the resolver normalises it, "" if the
	// record has none.
	DistinctID string
	// User is the index of the simulated person whose timeline produced the
	// record (for a shared-device login and what follows it, the person who
	// owns the device, not the one logging in).
	User int
	// Time is the event time the resolver computes, after the envelope's
	// clock-skew correction. It never decreases along the stream.
	Time time.Time
	// Personless is true when the record carries $process_person_profile=false.
	Personless bool
	// Envelope is true for the capture envelope shape.
	Envelope bool
	// Reason is the dead-letter reason of a malformed record, "" otherwise.
	Reason string
}

// Summary counts records, for tests and progress reports.
type Summary struct {
	Records int
	ByKind  map[string]int
	// DeadLetters counts records certain to be dead-lettered (all malformed
	// records); ByReason splits them by reason. Illegal-id events are not
	// dead letters.
	DeadLetters int
	ByReason    map[string]int
	// The rest count only records that are not dead letters.
	Personless int            // with $process_person_profile=false
	Envelopes  int            // in the envelope shape
	Excluded   int            // whose event billing excludes by default (docs/SEMANTICS.md §7)
	ByTeam     map[string]int // by team as the resolver names it
}

// Add counts r.
func (s *Summary) Add(r Record) {
	if s.ByKind == nil {
		s.ByKind, s.ByReason, s.ByTeam = map[string]int{}, map[string]int{}, map[string]int{}
	}
	s.Records++
	s.ByKind[r.Kind]++
	if r.Reason != "" {
		s.DeadLetters++
		s.ByReason[r.Reason]++
		return
	}
	if r.Personless {
		s.Personless++
	}
	if r.Envelope {
		s.Envelopes++
	}
	if IsExcluded(r.Event) {
		s.Excluded++
	}
	s.ByTeam[r.Team]++
}

// Summarize counts recs.
func Summarize(recs []Record) Summary {
	var s Summary
	for _, r := range recs {
		s.Add(r)
	}
	return s
}

// excluded classifies with the events billing excludes by default
// (billing.DefaultExcludedEvents, docs/SEMANTICS.md §7).
var excluded = billing.NewClassifier(billing.DefaultExcludedEvents())

// IsExcluded reports whether billing excludes event by default.
func IsExcluded(event string) bool { return excluded.IsExcluded(event) }
