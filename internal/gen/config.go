package gen

import (
	"fmt"
	"math"
	"time"
)

// None, given as a share or rate, asks for none at all: a zero share or rate
// means "use the default", so any negative value means zero.
const None = -1.0

// Toggle is a switch whose zero value means "use the default".
type Toggle int8

// Toggle values.
const (
	Default Toggle = iota // the field's documented default
	On
	Off
)

// Bool returns On for true and Off for false.
func Bool(b bool) Toggle {
	if b {
		return On
	}
	return Off
}

// String returns "default", "on" or "off".
func (t Toggle) String() string {
	switch t {
	case Default:
		return "default"
	case On:
		return "on"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Toggle(%d)", int8(t))
}

// Defaults of Config, applied by New to zero fields.
const (
	DefaultTeams            = 3
	DefaultUsers            = 1000
	DefaultSessionsPerUser  = 3
	DefaultEventsPerSession = 10
	DefaultPersonlessShare  = 0.6
	DefaultIdentifyShare    = 0.5
	DefaultCrossDeviceShare = 0.1
	DefaultSharedDeviceRate = 0.005
	DefaultIllegalIDRate    = 0.002
	DefaultMalformedRate    = 0.002
	DefaultEnvelopeShare    = 0.3
	DefaultExcludedShare    = 0.03
	DefaultPadBytes         = 500
	DefaultConcurrency      = 1000
)

// DefaultStart is Config.Start when it is zero.
var DefaultStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// MaxPadBytes is the largest Config.PadBytes: half the resolver's default
// input.max_event_bytes, so padding never makes a record too large.
const MaxPadBytes = 512 << 10

// Config describes the stream. Zero fields get their defaults (see New), so
// a literal names only what it changes. Shares and rates are probabilities in
// [0, 1]; because zero means "default", use None (any negative value) for
// zero. The stream is a pure function of the Config.
type Config struct {
	// Seed selects the stream. Default 0 (which is a seed like any other).
	Seed int64
	// Teams is the number of teams; team i (1-based) sends token
	// "phc_team<i>", and even-numbered teams also send team_id i on every
	// record, so the resolver names them "<i>" (see TeamName). Default 3.
	Teams int
	// Users is the number of people across all teams; user u belongs to team
	// u%Teams+1. Default 1000.
	Users int
	// SessionsPerUser is the number of sessions of each person. Default 3.
	SessionsPerUser int
	// EventsPerSession is the mean number of records of a session; each
	// session has between n-n/2 and n+n/2 records, uniformly. Default 10.
	EventsPerSession int
	// PersonlessShare is the share of devices whose SDK runs in
	// "identified_only" mode: their anonymous (pre-login) events carry
	// $process_person_profile=false. Identity events are never personless.
	// Default 0.6.
	PersonlessShare float64
	// IdentifyShare is the share of sessions, begun logged out, that log in
	// with $identify ($anon_distinct_id = the device's anonymous id, $set
	// email, name, plan). The first session on a second device always logs
	// in (see CrossDeviceShare). Default 0.5.
	IdentifyShare float64
	// ResetOnLogout: a session that logged in ends with a logout whose reset
	// gives the device a fresh anonymous id for its next session. Off keeps
	// the device logged in. Default On.
	ResetOnLogout Toggle
	// CrossDeviceShare is the share of people who use a second device for
	// their odd-numbered sessions (so it needs SessionsPerUser >= 2): its
	// first session logs in, joining its anonymous id to the person, and half
	// of these people also get a CRM id ("crm-<n>") joined by a server-side
	// $create_alias once they are logged in. Default 0.1.
	CrossDeviceShare float64
	// SharedDeviceRate is the probability, per login, that a second person
	// later logs in on the same device with the same anonymous id (a merge
	// the resolver refuses); the rest of the session is theirs. Default 0.005.
	SharedDeviceRate float64
	// IllegalIDRate is the share of records sent with an illegal
	// distinct_id ("null", "undefined", "anonymous", "0", …). They are
	// ordinary events, not dead letters. Default 0.002.
	IllegalIDRate float64
	// MalformedRate is the share of malformed records (invalid JSON, no
	// team, a bad uuid, an empty event name, no distinct_id), each certain to
	// be dead-lettered with Record.Reason. Default 0.002.
	MalformedRate float64
	// EnvelopeShare is the share of records written as the capture envelope
	// (data = the event as a JSON string), among the records of the teams
	// that send a token (the odd-numbered, see TeamName): an envelope's team
	// is its token, so the teams that send team_id send no envelopes.
	// Default 0.3.
	EnvelopeShare float64
	// ExcludedShare is the share of events that billing excludes
	// ($feature_flag_called, $exception, survey events). Default 0.03.
	ExcludedShare float64
	// Start is the time of the first record, truncated to the millisecond.
	// Default DefaultStart (2026-11-01T00:00:00Z).
	Start time.Time
	// PadBytes pads a record's properties with a "pad" string so that the
	// record is exactly this many bytes; records already that long are left
	// alone. 0 = no padding (unlike the other fields, zero is taken as
	// given); DefaultConfig sets DefaultPadBytes (500). At most MaxPadBytes.
	PadBytes int
	// Concurrency is how many people are online at once: the stream
	// interleaves that many timelines, and a person who finishes is replaced
	// by the next. Default: all Users up to DefaultConcurrency (1000), and a
	// 25th of Users beyond 25,000, which keeps any stream within about a
	// month of simulated time. At most Users.
	Concurrency int
}

// DefaultConfig returns the Config with every default filled in, including
// PadBytes = DefaultPadBytes.
func DefaultConfig() Config {
	c := Config{PadBytes: DefaultPadBytes}
	return c.withDefaults()
}

// TeamToken returns the token team i (1-based) sends: "phc_team<i>".
func TeamToken(i int) string { return "phc_team" + itoa(i) }

// TeamName returns team i as the resolver names it (docs/SEMANTICS.md §1):
// "<i>" for the even-numbered teams, which send team_id, else the token.
func TeamName(i int) string {
	if usesTeamID(i) {
		return itoa(i)
	}
	return TeamToken(i)
}

func usesTeamID(i int) bool { return i%2 == 0 }

// Validate reports the first field that is out of range, naming it and its
// value. Zero fields are valid (they take defaults).
func (c Config) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("gen: %s = %v: %s: %w", field, v, want, ErrInvalidConfig)
	}
	ints := []struct {
		name string
		v    int
	}{
		{"Teams", c.Teams}, {"Users", c.Users}, {"SessionsPerUser", c.SessionsPerUser},
		{"EventsPerSession", c.EventsPerSession}, {"Concurrency", c.Concurrency},
	}
	for _, f := range ints {
		if f.v < 0 {
			return bad(f.name, f.v, "must not be negative")
		}
	}
	if c.PadBytes < 0 || c.PadBytes > MaxPadBytes {
		return bad("PadBytes", c.PadBytes, fmt.Sprintf("must be in [0, %d]", MaxPadBytes))
	}
	for _, f := range c.shares() {
		if math.IsNaN(*f.p) || *f.p > 1 {
			return bad(f.name, *f.p, "must be at most 1 (negative means none)")
		}
	}
	if c.ResetOnLogout < Default || c.ResetOnLogout > Off {
		return bad("ResetOnLogout", int8(c.ResetOnLogout), "must be Default, On or Off")
	}
	d := c.withDefaults()
	if y := d.Start.Year(); y < 1971 || y > 9000 {
		return bad("Start", c.Start, "year must be in [1971, 9000]")
	}
	total := float64(d.Users) * float64(d.SessionsPerUser) * float64(d.EventsPerSession+d.EventsPerSession/2)
	if total > 1<<40 {
		return bad("Users", c.Users, "Users × SessionsPerUser × EventsPerSession is too large")
	}
	return nil
}

type share struct {
	name string
	p    *float64
}

func (c *Config) shares() []share {
	return []share{
		{"PersonlessShare", &c.PersonlessShare}, {"IdentifyShare", &c.IdentifyShare},
		{"CrossDeviceShare", &c.CrossDeviceShare}, {"SharedDeviceRate", &c.SharedDeviceRate},
		{"IllegalIDRate", &c.IllegalIDRate}, {"MalformedRate", &c.MalformedRate},
		{"EnvelopeShare", &c.EnvelopeShare}, {"ExcludedShare", &c.ExcludedShare},
	}
}

// withDefaults returns c with defaults in its zero fields and negative
// shares turned to 0. PadBytes is taken as given.
func (c Config) withDefaults() Config {
	def := func(p *int, d int) {
		if *p == 0 {
			*p = d
		}
	}
	def(&c.Teams, DefaultTeams)
	def(&c.Users, DefaultUsers)
	def(&c.SessionsPerUser, DefaultSessionsPerUser)
	def(&c.EventsPerSession, DefaultEventsPerSession)
	defaults := []float64{
		DefaultPersonlessShare, DefaultIdentifyShare, DefaultCrossDeviceShare, DefaultSharedDeviceRate,
		DefaultIllegalIDRate, DefaultMalformedRate, DefaultEnvelopeShare, DefaultExcludedShare,
	}
	for i, f := range c.shares() {
		switch {
		case *f.p == 0:
			*f.p = defaults[i]
		case *f.p < 0:
			*f.p = 0
		}
	}
	if c.ResetOnLogout == Default {
		c.ResetOnLogout = On
	}
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC().Truncate(time.Millisecond)
	return c
}
