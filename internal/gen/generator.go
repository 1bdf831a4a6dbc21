package gen

import "time"

// Generator yields the records of one Config, in order. It is not safe for
// concurrent use.
type Generator struct {
	cfg     Config
	seed    uint64
	total   int
	emitted int
	seq     uint64 // records rendered, for uuids
	startMs int64

	nextUser int      // next person to bring online
	users    []user   // people online
	heap     []entry  // g.users by next event time
	tokens   []string // by team: TeamToken
	names    []string // by team: TeamName
	padding  []byte

	e        ev
	w, in    jw // the record; an envelope's data when it is cut short
	uuid     [36]byte
	shared   person // scratch for the person a shared-device login brings
	personOf person // scratch for $set of whoever is logged in
}

// New returns a Generator for cfg with defaults applied to its zero fields
// (see Config). It panics if cfg.Validate fails: validate configuration that
// comes from users first.
func New(cfg Config) *Generator {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	c := cfg.withDefaults()
	if c.Concurrency == 0 {
		c.Concurrency = defaultConcurrency(c.Users)
	}
	if c.Concurrency > c.Users {
		c.Concurrency = c.Users
	}
	g := &Generator{
		cfg:     c,
		seed:    mix(uint64(c.Seed) ^ 0x5ca1ab1e0ddba11),
		startMs: c.Start.UnixMilli(),
	}
	for u := 0; u < c.Users; u++ {
		for s := 0; s < c.SessionsPerUser; s++ {
			g.total += g.sessionLen(u, s)
		}
	}
	g.tokens, g.names = make([]string, c.Teams+1), make([]string, c.Teams+1)
	for t := 1; t <= c.Teams; t++ {
		g.tokens[t], g.names[t] = TeamToken(t), TeamName(t)
	}
	g.padding = make([]byte, 8192)
	pr := rng{hash(g.seed, domPad, 0, 0)}
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	for i := range g.padding {
		g.padding[i] = alnum[pr.intn(len(alnum))]
	}
	g.users = make([]user, c.Concurrency)
	g.heap = make([]entry, 0, c.Concurrency)
	for g.nextUser < c.Concurrency {
		u := &g.users[g.nextUser]
		at := g.startMs
		if g.nextUser > 0 {
			// Spread the first people over a day; person 0 starts at Start.
			at += 1 + int64(hash(g.seed, domUser, uint64(g.nextUser), 1)%uint64(day))
		}
		g.activate(u, g.nextUser, at)
		g.push(entry{next: u.next, idx: u.idx, slot: int32(g.nextUser)})
		g.nextUser++
	}
	return g
}

// defaultConcurrency keeps about a month of simulated time for any number
// of people: everyone at once up to 1000, then a 25th of them.
func defaultConcurrency(users int) int {
	return max(min(users, DefaultConcurrency), users/25)
}

// Config returns the configuration in use, with defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Total returns the exact number of records Next yields in all.
func (g *Generator) Total() int { return g.total }

// Emitted returns the number of records Next has yielded so far.
func (g *Generator) Emitted() int { return g.emitted }

// Next returns the next record, or false when the stream is done. Key and
// Value of the record are newly allocated and owned by the caller.
func (g *Generator) Next() (Record, bool) {
	if len(g.heap) == 0 {
		return Record{}, false
	}
	u := &g.users[g.heap[0].slot]
	e := g.step(u)
	g.render(u, e)

	val := g.w.b
	tok, did := e.keyToken, e.keyDID
	buf := make([]byte, 0, len(tok)+1+len(did)+len(val))
	buf = append(buf, tok...)
	buf = append(buf, ':')
	buf = append(buf, did...)
	k := len(buf)
	buf = append(buf, val...)
	r := Record{
		Key:        buf[:k:k],
		Value:      buf[k:],
		Kind:       e.kind,
		Event:      e.recEvent,
		Team:       g.names[u.team],
		DistinctID: e.recDID,
		User:       u.idx,
		Time:       time.UnixMilli(e.ms).UTC(),
		Personless: e.personless,
		Envelope:   e.env,
		Reason:     e.reason,
	}
	if e.uuidOK {
		r.UUID = string(g.uuid[:])
	}
	g.advance(u)
	g.emitted++
	return r, true
}

// next renders the next record into g.out.b, valid until the next call,
// without the allocations of Next.
func (g *Generator) next() ([]byte, bool) {
	if len(g.heap) == 0 {
		return nil, false
	}
	u := &g.users[g.heap[0].slot]
	g.render(u, g.step(u))
	g.advance(u)
	g.emitted++
	return g.w.b, true
}

// entry is a person online in the heap, ordered by (next, idx).
type entry struct {
	next int64 // user.next
	idx  int   // user.idx
	slot int32 // index in Generator.users
}

// advance moves u, the person at the top of the heap, past the record just
// rendered and restores the heap.
func (g *Generator) advance(u *user) {
	top := &g.heap[0]
	if g.moveOn(u) {
		top.next = u.next
		g.down(0)
		return
	}
	if g.nextUser < g.cfg.Users {
		at := u.next + 1 + int64(u.r.intn(60_000))
		g.activate(u, g.nextUser, at)
		g.nextUser++
		top.next, top.idx = u.next, u.idx
		g.down(0)
		return
	}
	last := len(g.heap) - 1
	g.heap[0] = g.heap[last]
	g.heap = g.heap[:last]
	if last > 0 {
		g.down(0)
	}
}

func (g *Generator) less(i, j int) bool {
	a, b := &g.heap[i], &g.heap[j]
	return a.next < b.next || a.next == b.next && a.idx < b.idx
}

func (g *Generator) push(x entry) {
	g.heap = append(g.heap, x)
	for i := len(g.heap) - 1; i > 0; {
		p := (i - 1) / 2
		if !g.less(i, p) {
			break
		}
		g.heap[i], g.heap[p] = g.heap[p], g.heap[i]
		i = p
	}
}

func (g *Generator) down(i int) {
	n := len(g.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && g.less(r, l) {
			m = r
		}
		if !g.less(m, i) {
			return
		}
		g.heap[i], g.heap[m] = g.heap[m], g.heap[i]
		i = m
	}
}

// sessionLen is the number of records of session s of person u: uniform
// in [n-n/2, n+n/2], a function of the seed alone so Total is exact.
func (g *Generator) sessionLen(u, s int) int {
	n := g.cfg.EventsPerSession
	h := n / 2
	return n - h + int(hash(g.seed, domSessionLen, uint64(u), uint64(s))%uint64(2*h+1))
}
