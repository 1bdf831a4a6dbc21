package gen

// Time spans, in milliseconds.
const (
	second = 1000
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

type deviceKind uint8

const (
	desktop deviceKind = iota
	mobileWeb
	app
)

var deviceWeights = []int{60, 25, 15}

// device is a browser or an app install with its SDK's state.
type device struct {
	kind       deviceKind
	web        *webProfile
	app        *appProfile
	id         string // $device_id
	anon       string // the SDK's anonymous distinct_id
	current    int    // index of the person logged in, -1 when anonymous
	currentID  string // their distinct_id
	personless bool   // the SDK runs with person_profiles "identified_only"
	skew       int64  // client clock minus true time, ms
	ip         string
	sessions   int
}

// user is one simulated person's timeline.
type user struct {
	idx, team int
	id        string // distinct_id once logged in
	numeric   bool   // id is a number, sent as a JSON number by server libraries
	r         rng
	next      int64 // time of the next record, Unix ms

	sess, slot, slots int
	login             int // slot of this session's login, -1 if none
	dev               *device
	devs              [2]device
	hasSecond         bool
	cross, alias      bool // uses a second device; gets a CRM alias
	plan              int
	loggedInBefore    bool
	sessionID         string
	page              int
	landed            bool // the session's first page view is done
	shared            bool // a second person will log in on this device

	// Pending special records: each slot rolls for them, and the next
	// ordinary slot takes them, so identity events are never displaced.
	malformed, illegal, excluded int
}

var planWeights = []int{50, 25, 20, 5}

// activate brings person idx online at time at.
func (g *Generator) activate(u *user, idx int, at int64) {
	*u = user{idx: idx, team: idx%g.cfg.Teams + 1, next: at}
	u.r = rng{hash(g.seed, domUser, uint64(idx), 0)}
	u.id, u.numeric = g.personID(idx)
	u.cross = g.cfg.SessionsPerUser >= 2 && u.r.chance(g.cfg.CrossDeviceShare)
	u.alias = u.cross && u.r.chance(0.5)
	u.plan = u.r.pick(planWeights)
	g.newDevice(u, &u.devs[0], at)
	g.startSession(u)
}

func (g *Generator) newDevice(u *user, d *device, at int64) {
	*d = device{kind: deviceKind(u.r.pick(deviceWeights)), current: -1}
	switch d.kind {
	case desktop:
		d.web = &desktopProfiles[u.r.intn(len(desktopProfiles))]
	case mobileWeb:
		d.web = &mobileWebProfiles[u.r.intn(len(mobileWebProfiles))]
	default:
		d.app = &appProfiles[u.r.intn(len(appProfiles))]
	}
	d.id = g.newID(u, d, at)
	d.anon = d.id // posthog-js starts with distinct_id = $device_id
	d.personless = u.r.chance(g.cfg.PersonlessShare)
	switch x := u.r.intn(100); {
	case x < 85:
	case x < 98:
		d.skew = u.r.logUniform(500, 10*minute)
	default:
		d.skew = u.r.logUniform(hour, 30*hour)
	}
	if d.skew != 0 && u.r.chance(0.5) {
		d.skew = -d.skew
	}
	nets := [...]string{"203.0.113.", "198.51.100.", "192.0.2."}
	d.ip = nets[u.r.intn(len(nets))] + itoa(1+u.r.intn(254))
}

// newID returns a fresh UUIDv7 for time at: a device or anonymous id,
// upper case on iOS as its SDK writes them.
func (g *Generator) newID(u *user, d *device, at int64) string {
	upper := d != nil && d.app != nil && d.app.os == "iOS"
	var b [36]byte
	return string(appendUUIDv7(b[:0], at, u.r.u64(), g.seed>>20, upper))
}

func (g *Generator) startSession(u *user) {
	u.dev = &u.devs[0]
	if u.cross && u.sess%2 == 1 {
		if !u.hasSecond {
			g.newDevice(u, &u.devs[1], u.next)
			u.hasSecond = true
		}
		u.dev = &u.devs[1]
	}
	d := u.dev
	u.slots = g.sessionLen(u.idx, u.sess)
	u.slot = 0
	u.sessionID = g.newID(u, nil, u.next)
	u.login = -1
	if d.current < 0 {
		// The second device's first session always logs in: that is what
		// joins it to the person.
		forced := d == &u.devs[1] && d.sessions == 0
		if forced || u.r.chance(g.cfg.IdentifyShare) {
			u.login = 0
			if u.slots > 1 {
				u.login = 1 + u.r.intn(u.slots-1)
			}
		}
	}
	d.sessions++
	u.page = u.r.intn(len(paths))
	u.landed = false
	u.shared = false
}

// moveOn advances u's clock past the slot just rendered; false when u has
// no more records.
func (g *Generator) moveOn(u *user) bool {
	u.slot++
	if u.slot < u.slots {
		u.next += u.r.logUniform(second, 2*minute)
		return true
	}
	// End of session: logout.
	if d := u.dev; d.current >= 0 && g.cfg.ResetOnLogout == On {
		d.anon = g.newID(u, d, u.next)
		d.current, d.currentID = -1, ""
	}
	u.sess++
	if u.sess == g.cfg.SessionsPerUser {
		return false
	}
	u.next += u.r.logUniform(15*minute, 3*day)
	g.startSession(u)
	return true
}

// person is what the generator knows about a person's identity.
type person struct {
	idx                int
	id                 string
	numeric            bool
	first, last, email string
}

// personID returns the distinct_id person idx logs in with: by team,
// "user_<n>", an e-mail address, or a number.
func (g *Generator) personID(idx int) (string, bool) {
	var p person
	g.personInfo(idx, &p, false)
	return p.id, p.numeric
}

// personInfo fills p for person idx; names only if names is set.
func (g *Generator) personInfo(idx int, p *person, names bool) {
	h := hash(g.seed, domUser, uint64(idx), 2)
	fi, li, di := int(h%uint64(len(firstNames))), int(h>>16%uint64(len(lastNames))), int(h>>32%uint64(len(mailDomains)))
	p.idx, p.numeric = idx, false
	team := idx%g.cfg.Teams + 1
	email := ""
	if names || team%3 == 2 {
		email = firstSlugs[fi] + "." + lastSlugs[li] + itoa(idx) + "@" + mailDomains[di]
	}
	switch team % 3 {
	case 1:
		p.id = "user_" + itoa(idx)
	case 2:
		p.id = email
	default:
		p.id, p.numeric = itoa(100000+idx), true
	}
	if names {
		p.first, p.last, p.email = firstNames[fi], lastNames[li], email
	}
}

// otherPerson picks the person of u's team who logs in on u's device.
func (g *Generator) otherPerson(u *user) int {
	t, n := u.idx%g.cfg.Teams, g.cfg.Teams
	members := (g.cfg.Users - t + n - 1) / n
	if members < 2 {
		return t + n*members // a team-mate who never appears otherwise
	}
	j := u.r.intn(members - 1)
	if j >= u.idx/n {
		j++
	}
	return j*n + t
}
