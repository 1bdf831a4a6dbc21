package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// A large state (issue 15, target 2): before the window of a "preloaded"
// turn, the replica already holds Config.PreloadIDs distinct ids of people
// seen in the past, written straight into the state (state.BulkLoad), and a
// share of the window's events (Config.TailShare) comes from a long tail of
// those old ids, each picked uniformly, so nearly every one is a cold
// lookup. The rest of the window is the generator's stream: a minority of
// recent people who send most events, and many anonymous ids the state
// has never seen (negative lookups).
//
// The preloaded people, per team like the generator's (person j belongs to
// team j%Teams+1):
//
//   - anonymous (1-identifiedShare of them): one anonymous id (a UUIDv7 of
//     a past time) that sent person-processing events: an explicit person of
//     that id, as the applier leaves it (d/ version 0, m/, p/ of size 1);
//   - identified (identifiedShare): a login id "old_<j>" and 1 to 3
//     anonymous ids, one person that the first anonymous id's person became
//     by $identify and that absorbed the others (d/ of the first version 0,
//     of the others 1; m/ of each; p/ identified, with email, name and plan).
//
// Only the records lookups read are written: no lineage, no data-key refs
// (values are unsealed), no outbox, no applied offsets; the replica's
// fingerprint is not that of any log.
const (
	identifiedShare = 0.4
	// preloadSpan is how far into the past the preloaded ids were first
	// seen, before the generator's start.
	preloadSpan = 365 * 24 * time.Hour
	// DefaultTailShare is Config.TailShare's default with PreloadIDs.
	DefaultTailShare = 0.2
	// KindPreloaded is the gen.Record Kind of a tail event.
	KindPreloaded = "preloaded"
)

// preloadSet describes the preloaded people: everything about person j is
// a function of (seed, j).
type preloadSet struct {
	seed    uint64
	teams   int
	persons int   // people
	ids     int64 // their distinct ids
	start   int64 // ms: first seen of person 0
	step    int64 // ms between people
}

// newPreloadSet is the smallest set of people of cfg's teams with at least
// n ids.
func newPreloadSet(cfg gen.Config, n int) *preloadSet {
	c := gen.New(cfg).Config()
	s := &preloadSet{seed: uint64(c.Seed)*0x9e3779b97f4a7c15 + 0x5851f42d4c957f2d, teams: c.Teams}
	for s.ids < int64(n) {
		s.ids += int64(s.size(s.persons))
		s.persons++
	}
	end := c.Start.UnixMilli()
	s.start = end - preloadSpan.Milliseconds()
	s.step = max(1, preloadSpan.Milliseconds()/int64(max(s.persons, 1)))
	return s
}

func (s *preloadSet) hash(j int, k uint64) uint64 {
	z := s.seed ^ uint64(j)*0xbf58476d1ce4e5b9 ^ k*0x94d049bb133111eb
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// identified reports whether person j logged in.
func (s *preloadSet) identified(j int) bool {
	return float64(s.hash(j, 0)>>11)/(1<<53) < identifiedShare
}

// size is person j's number of distinct ids.
func (s *preloadSet) size(j int) int {
	if !s.identified(j) {
		return 1
	}
	return 2 + int(s.hash(j, 1)%3)
}

func (s *preloadSet) team(j int) string { return gen.TeamName(j%s.teams + 1) }

// seen is when person j was first seen (ms).
func (s *preloadSet) seen(j int) int64 { return s.start + int64(j)*s.step }

// id is the k-th distinct id of person j: for an identified person, k = 0
// is its login id and the rest anonymous ids; else its one anonymous id.
func (s *preloadSet) id(j, k int) string {
	if s.identified(j) {
		if k == 0 {
			return fmt.Sprintf("old_%010d", j) // sorts after every UUID, in j order
		}
		k--
	}
	// A UUIDv7 of when the person was first seen, random bits from (j, k).
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.seen(j)+int64(k))<<16|0x7000|s.hash(j, uint64(2+k))&0x0fff)
	binary.BigEndian.PutUint64(b[8:], s.hash(j, uint64(10+k))&^(3<<62)|1<<63)
	return uuid.UUID(b).String()
}

// eachID calls fn with person j's distinct ids in ascending byte order: the
// anonymous UUIDs (whose time prefix rises with k), then the login id.
func (s *preloadSet) eachID(j int, fn func(k int, did string) error) error {
	n := s.size(j)
	if n == 1 {
		return fn(0, s.id(j, 0))
	}
	for k := 1; k < n; k++ {
		if err := fn(k, s.id(j, k)); err != nil {
			return err
		}
	}
	return fn(0, s.id(j, 0))
}

// personID is person j's id: the implicit person of its first anonymous
// id, which the applier keeps as the survivor of every later merge.
func (s *preloadSet) personID(j int) unionfind.PersonID {
	return unionfind.ImplicitPersonID(s.team(j), s.id(j, s.founder(j)))
}

// founder is the index of person j's founder: its first anonymous id.
func (s *preloadSet) founder(j int) int {
	if s.identified(j) {
		return 1
	}
	return 0
}

// person is person j as the applier leaves it.
func (s *preloadSet) person(j int) unionfind.Person {
	at := s.seen(j)
	pid := s.personID(j)
	if !s.identified(j) {
		return unionfind.Person{ID: pid, CreatedAt: at, Size: 1}
	}
	n := s.size(j)
	prop := func(k, v string) unionfind.Property {
		b, _ := json.Marshal(v)
		return unionfind.Property{Key: k, Value: b, Time: at}
	}
	plans := [...]string{"free", "pro", "team", "enterprise"}
	return unionfind.Person{ID: pid, CreatedAt: at, Identified: true, Version: uint64(n - 1), Size: uint64(n),
		Props: []unionfind.Property{ // sorted by key
			prop("email", "old"+strconv.Itoa(j)+"@example.com"),
			prop("name", "Old User "+strconv.Itoa(j)),
			prop("plan", plans[s.hash(j, 3)%uint64(len(plans))]),
		}}
}

// mapping is the mapping of person j's k-th id: version 0 for the id whose
// implicit person it is, 1 for the ids that left theirs to join it.
func (s *preloadSet) mapping(j, k int) unionfind.Mapping {
	m := unionfind.Mapping{PersonID: s.personID(j)}
	if s.identified(j) && k != 1 {
		m.Version = 1
	}
	return m
}

// load writes the set through b, team by team, in the order BulkLoad
// wants: a team's mappings by distinct id (persons in j order give rising
// UUIDs; the login ids, zero-padded, sort after them), then its members and
// persons by person id. progress, if not nil, gets the ids written so far.
func (s *preloadSet) load(ctx context.Context, b *state.BulkLoader, progress func(done int64)) error {
	var done int64
	for t := 1; t <= s.teams; t++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		team := gen.TeamName(t)
		// Mappings: the anonymous ids of every person, then the login ids.
		for pass := range 2 {
			for j := t - 1; j < s.persons; j += s.teams {
				if j%(1<<16) == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				err := s.eachID(j, func(k int, did string) error {
					if isLogin := s.identified(j) && k == 0; isLogin != (pass == 1) {
						return nil
					}
					done++
					if progress != nil && done%1_000_000 == 0 {
						progress(done)
					}
					return b.PutMapping(team, did, s.mapping(j, k))
				})
				if err != nil {
					return err
				}
			}
		}
		// Members and persons, by person id.
		type byID struct {
			id unionfind.PersonID
			j  int
		}
		var ps []byID
		for j := t - 1; j < s.persons; j += s.teams {
			ps = append(ps, byID{s.personID(j), j})
		}
		slices.SortFunc(ps, func(a, b byID) int { return bytes.Compare(a.id[:], b.id[:]) })
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, p := range ps {
			err := s.eachID(p.j, func(k int, did string) error {
				if k == s.founder(p.j) {
					return nil // kept with the person (state.BulkLoader.PutPerson)
				}
				return b.PutMember(team, p.id, did)
			})
			if err != nil {
				return err
			}
		}
		for _, p := range ps {
			if err := b.PutPerson(team, s.person(p.j), s.id(p.j, s.founder(p.j))); err != nil {
				return err
			}
		}
	}
	return nil
}

// tail returns the i-th tail event of the window (uniform over the
// preloaded ids), at time ms, as the generator renders an ordinary
// personless $pageview (a person-processing event of an id the small state
// does not know would log an op there and not in the large one, so the two
// turns would do different work): token, and team_id for the teams that
// send it, so the resolver names the team as the preload did.
func (s *preloadSet) tail(i int, ms int64, pad int) gen.Record {
	h := s.hash(int(uint64(i)^0x7f4a7c15), 99)
	j := int(h % uint64(s.persons))
	did := s.id(j, int((h>>32)%uint64(s.size(j))))
	t := j%s.teams + 1
	tok := gen.TeamToken(t)
	var u [16]byte
	binary.BigEndian.PutUint64(u[:8], uint64(ms)<<16|0x7000|h>>52)
	binary.BigEndian.PutUint64(u[8:], s.hash(i, 7)&^(3<<62)|1<<63)
	uid := unionfind.PersonID(u).String()
	b := make([]byte, 0, max(pad, 256))
	b = append(b, `{"uuid":"`...)
	b = append(b, uid...)
	b = append(b, `","event":"$pageview","distinct_id":"`...)
	b = append(b, did...)
	b = append(b, `","token":"`...)
	b = append(b, tok...)
	b = append(b, '"')
	if t%2 == 0 { // gen: even-numbered teams send team_id
		b = append(b, `,"team_id":`...)
		b = strconv.AppendInt(b, int64(t), 10)
	}
	b = append(b, `,"timestamp":"`...)
	b = time.UnixMilli(ms).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","properties":{"$current_url":"https://example.com/pricing","$process_person_profile":false`...)
	const padHead, padTail = `,"pad":"`, `"}}`
	if n := pad - len(b) - len(padHead) - len(padTail); n > 0 {
		b = append(b, padHead...)
		for range n {
			b = append(b, 'x')
		}
		b = append(b, '"')
	}
	b = append(b, "}}"...)
	return gen.Record{Key: []byte(tok + ":" + did), Value: b, Kind: KindPreloaded, UUID: uid, Event: "$pageview",
		Team: s.team(j), DistinctID: did, User: -1 - j, Time: time.UnixMilli(ms).UTC(), Personless: true}
}

// PreloadStats is what a preload made.
type PreloadStats struct {
	IDs, Persons, Identified int64
	Records                  int64 // d/, m/, p/ records written
	Took                     time.Duration
	// DiskBytes is the state directory's size after a full compaction
	// (state.Store.Compact), SSTBytes its tables alone.
	DiskBytes, SSTBytes int64
	// PeakRSS is this process's VmHWM after the preload.
	PeakRSS int64
}

// BytesPerID is DiskBytes per distinct id.
func (p PreloadStats) BytesPerID() float64 { return float64(p.DiskBytes) / float64(max(p.IDs, 1)) }

// preload writes set into a new store in dir, compacts it and closes it;
// it stops, with ctx's error, soon after ctx is done.
func preload(ctx context.Context, dir string, set *preloadSet, opts state.Options, log *zap.Logger, progress func(done int64)) (PreloadStats, error) {
	start := time.Now()
	opts.Logger = log
	st, err := state.Open(dir, opts)
	if err != nil {
		return PreloadStats{}, fmt.Errorf("bench: preload: %w", err)
	}
	ps := PreloadStats{IDs: set.ids, Persons: int64(set.persons)}
	for j := range set.persons {
		if set.identified(j) {
			ps.Identified++
		}
	}
	err = st.BulkLoad(func(b *state.BulkLoader) error {
		err := set.load(ctx, b, progress)
		ps.Records = b.Written()
		return err
	})
	if err = errors.Join(err, st.Close()); err != nil {
		return ps, fmt.Errorf("bench: preload: %w", err)
	}
	// The stream writer built one level; Compact checks there is nothing
	// left to merge (a no-op then) and the size is measured open.
	if st, err = state.Open(dir, opts); err != nil {
		return ps, fmt.Errorf("bench: preload: %w", err)
	}
	err = st.Compact()
	if err == nil {
		ps.DiskBytes, err = st.DiskSize()
	}
	if err = errors.Join(err, st.Close()); err != nil {
		return ps, fmt.Errorf("bench: preload: %w", err)
	}
	ps.Took = time.Since(start)
	ps.PeakRSS = peakRSS("self")
	ps.SSTBytes, err = sstBytes(dir)
	return ps, err
}

// sstBytes sums the sizes of the Badger tables in dir.
func sstBytes(dir string) (n int64, err error) {
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || filepath.Ext(path) != ".sst" {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("bench: size of %s: %w", dir, err)
	}
	return n, nil
}

// copyDir copies the regular files of src into dst (created), for a turn's
// replica made from the preloaded template; tables are hard-linked where
// the filesystem allows.
func copyDir(src, dst string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		from, to := filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())
		if filepath.Ext(e.Name()) == ".sst" {
			// Badger never writes a table again: share it.
			if err := os.Link(from, to); err == nil {
				continue
			}
		}
		if err := copyFile(from, to); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
