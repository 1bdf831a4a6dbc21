package gen

// shape is where an SDK puts the distinct_id and the token.
type shape uint8

const (
	shapeWeb    shape = iota // posthog-js: both in properties
	shapeMobile              // mobile SDKs: top-level distinct_id and api_key
	shapeServer              // server libraries: top-level distinct_id and token
)

// body selects an event's own properties.
type body uint8

const (
	bodyPageview body = iota
	bodyPageleave
	bodyScreen
	bodyAutocapture
	bodyCustom
	bodyServer
	bodySet
	bodyExcluded
	bodyIdentify
	bodyAlias
)

// defect is the one thing wrong with a malformed record.
type defect uint8

const (
	defNone     defect = iota
	defTruncate        // the JSON is cut short
	defArray           // the event wrapped in an array
	defBadData         // an envelope whose data is cut short
	defNoTeam          // no team_id, token or api_key anywhere
	defNoDID           // distinct_id missing, null, blank, or an object
	defBadUUID         // a uuid that does not parse
	defBadEvent        // event name missing, null or ""
)

var customNames = [...]string{"button_clicked", "product_viewed", "added_to_cart", "checkout_started", "search_performed"}
var customWeights = []int{30, 30, 15, 10, 15}
var serverNames = [...]string{"order_completed", "subscription_renewed"}

// excludedNames are the billing-excluded events the generator writes: some
// of billing.DefaultExcludedEvents (TestRecordsAsTheResolverSeesThem checks).
var excludedNames = [...]string{"$feature_flag_called", "$exception", "survey shown", "survey sent", "survey dismissed"}
var excludedWeights = []int{60, 20, 10, 5, 5}

// ev describes the record being generated.
type ev struct {
	kind, name string
	body       body
	variant    int
	ms         int64
	did        string
	didNum     bool // send did as a JSON number (server libraries, numeric ids)
	shape      shape
	env        bool
	personless bool
	anon       string  // $anon_distinct_id
	alias      string  // alias of $create_alias
	who        *person // whose $set an identify carries
	plan       int
	landing    bool // the session's first page view
	setTop     bool // $set/$set_once at the top level, not in properties
	lib        *serverLib
	defect     defect
	defVariant int
	reason     string

	// Filled for the Record.
	keyToken, keyDID string
	recEvent, recDID string
	uuidOK           bool
}

// step decides u's next record.
func (g *Generator) step(u *user) *ev {
	e := &g.e
	*e = ev{ms: u.next}
	c := &g.cfg
	if u.r.chance(c.MalformedRate) {
		u.malformed++
	}
	if u.r.chance(c.IllegalIDRate) {
		u.illegal++
	}
	if u.r.chance(c.ExcludedShare) {
		u.excluded++
	}
	d := u.dev
	if d.kind == app {
		e.shape = shapeMobile
	}
	e.did = d.anon
	if d.current >= 0 {
		e.did = d.currentID
	}
	e.personless = d.current < 0 && d.personless
	switch {
	case u.slot == u.login:
		g.identify(u, e)
	case u.malformed > 0:
		u.malformed--
		g.malformed(u, e)
	case u.shared && d.current == u.idx:
		g.sharedLogin(u, e)
	case u.alias && d.current == u.idx:
		u.alias = false
		e.kind, e.name, e.body = KindAlias, "$create_alias", bodyAlias
		e.shape, e.lib, e.didNum = shapeServer, &serverLibs[1], u.numeric
		e.did, e.alias = u.id, "crm-"+itoa(1_000_000+u.idx)
		e.personless = false
	case u.illegal > 0:
		u.illegal--
		g.ordinary(u, e)
		e.kind, e.did, e.didNum = KindIllegalID, illegalIDs[u.r.intn(len(illegalIDs))], false
	case u.excluded > 0:
		u.excluded--
		e.kind, e.body = KindExcluded, bodyExcluded
		e.variant = u.r.pick(excludedWeights)
		e.name = excludedNames[e.variant]
	default:
		g.ordinary(u, e)
	}
	switch e.defect {
	case defNone:
		// Teams that send team_id never use the envelope shape: an
		// envelope's team is its token alone (docs/SEMANTICS.md §1), so their
		// envelopes would belong to another team than their other events.
		// The chance is drawn anyway, so the stream is otherwise unchanged.
		e.env = u.r.chance(c.EnvelopeShare) && !usesTeamID(u.team)
	case defBadData:
		e.env = true
	}

	e.keyToken, e.keyDID, e.recEvent, e.recDID = g.tokens[u.team], e.did, e.name, e.did
	e.uuidOK = true
	switch e.defect {
	case defNoTeam:
		e.keyToken = ""
	case defNoDID:
		e.keyDID, e.recDID = "", ""
	case defBadEvent:
		e.recEvent = ""
	case defBadUUID, defTruncate, defArray, defBadData:
		e.uuidOK = false
	}
	return e
}

func (g *Generator) identify(u *user, e *ev) {
	d := u.dev
	e.kind, e.name, e.body = KindIdentify, "$identify", bodyIdentify
	e.anon, e.did, e.personless = d.anon, u.id, false
	d.current, d.currentID = u.idx, u.id
	if u.loggedInBefore && u.plan < len(plans)-1 && u.r.chance(0.1) {
		u.plan++ // an upgrade since the last login
	}
	u.loggedInBefore = true
	g.personInfo(u.idx, &g.personOf, true)
	e.who, e.plan = &g.personOf, u.plan
	e.setTop = u.r.chance(0.3)
	if u.r.chance(g.cfg.SharedDeviceRate) {
		u.shared = true
	}
}

func (g *Generator) sharedLogin(u *user, e *ev) {
	d := u.dev
	u.shared = false
	o := g.otherPerson(u)
	g.personInfo(o, &g.shared, true)
	e.kind, e.name, e.body = KindSharedDevice, "$identify", bodyIdentify
	e.anon, e.did, e.personless = d.anon, g.shared.id, false
	e.who, e.plan = &g.shared, u.r.pick(planWeights)
	e.setTop = u.r.chance(0.3)
	d.current, d.currentID = o, g.shared.id
}

func (g *Generator) malformed(u *user, e *ev) {
	g.view(u, e)
	e.kind = KindMalformed
	switch u.r.intn(5) {
	case 0:
		e.reason, e.defect = ReasonInvalidJSON, defTruncate+defect(u.r.intn(3))
	case 1:
		e.reason, e.defect = ReasonMissingTeam, defNoTeam
	case 2:
		e.reason, e.defect, e.defVariant = ReasonInvalidDistinctID, defNoDID, u.r.intn(6)
	case 3:
		e.reason, e.defect, e.defVariant = ReasonInvalidUUID, defBadUUID, u.r.intn(3)
	default:
		e.reason, e.defect, e.defVariant = ReasonInvalidEventName, defBadEvent, u.r.intn(3)
	}
}

// view makes e a page view, or a screen view in an app.
func (g *Generator) view(u *user, e *ev) {
	u.page = u.r.intn(len(paths))
	if u.dev.kind == app {
		e.kind, e.name, e.body = KindScreen, "$screen", bodyScreen
		return
	}
	e.kind, e.name, e.body = KindPageview, "$pageview", bodyPageview
}

var webWeights = []int{40, 8, 20, 30, 2} // view, leave, autocapture, custom, $set
var appWeights = []int{48, 0, 20, 30, 2}

// ordinary makes e an ordinary event of the session.
func (g *Generator) ordinary(u *user, e *ev) {
	if !u.landed {
		u.landed = true
		g.view(u, e)
		e.landing = true
		return
	}
	w := webWeights
	if u.dev.kind == app {
		w = appWeights
	}
	switch u.r.pick(w) {
	case 0:
		g.view(u, e)
	case 1:
		e.kind, e.name, e.body = KindPageleave, "$pageleave", bodyPageleave
	case 2:
		e.kind, e.name, e.body = KindAutocapture, "$autocapture", bodyAutocapture
	case 3:
		e.kind = KindCustom
		if u.dev.current >= 0 && u.r.chance(0.15) {
			e.body, e.shape, e.didNum = bodyServer, shapeServer, u.numeric
			e.variant = u.r.intn(len(serverNames))
			e.name, e.lib = serverNames[e.variant], &serverLibs[u.r.intn(len(serverLibs))]
			e.personless = false
			return
		}
		e.body, e.variant = bodyCustom, u.r.pick(customWeights)
		e.name = customNames[e.variant]
	default:
		if e.personless {
			g.view(u, e) // an identified_only SDK sends no person properties
			return
		}
		e.kind, e.name, e.body = KindSet, "$set", bodySet
	}
}
