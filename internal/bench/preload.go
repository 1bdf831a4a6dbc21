package bench

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// A large state (issue 15, target 2): before the window of a "preloaded"
// turn, the replica already holds Config.PreloadIDs distinct ids of people
// seen in the past, written straight into the state (state.Loader), and a
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
			return "old_" + strconv.Itoa(j)
		}
		k--
	}
	// A UUIDv7 of when the person was first seen, random bits from (j, k).
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.seen(j)+int64(k))<<16|0x7000|s.hash(j, uint64(2+k))&0x0fff)
	binary.BigEndian.PutUint64(b[8:], s.hash(j, uint64(10+k))&^(3<<62)|1<<63)
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// write loads person j into l.
func (s *preloadSet) write(l *state.Loader, j int) error {
	team, at := s.team(j), s.seen(j)
	if !s.identified(j) {
		did := s.id(j, 0)
		pid := unionfind.ImplicitPersonID(team, did)
		if err := l.PutMapping(team, did, unionfind.Mapping{PersonID: pid}); err != nil {
			return err
		}
		if err := l.PutMember(team, pid, did); err != nil {
			return err
		}
		return l.PutPerson(team, unionfind.Person{ID: pid, CreatedAt: at, Size: 1})
	}
	n := s.size(j)
	pid := unionfind.ImplicitPersonID(team, s.id(j, 1)) // the first anonymous id's person survives
	for k := range n {
		did := s.id(j, k)
		var v uint64
		if k != 1 {
			v = 1 // left its implicit person
		}
		if err := l.PutMapping(team, did, unionfind.Mapping{PersonID: pid, Version: v}); err != nil {
			return err
		}
		if err := l.PutMember(team, pid, did); err != nil {
			return err
		}
	}
	prop := func(k, v string) unionfind.Property {
		b, _ := json.Marshal(v)
		return unionfind.Property{Key: k, Value: b, Time: at}
	}
	plans := [...]string{"free", "pro", "team", "enterprise"}
	p := unionfind.Person{ID: pid, CreatedAt: at, Identified: true, Version: uint64(n - 1), Size: uint64(n),
		Props: []unionfind.Property{ // sorted by key
			prop("email", "old"+strconv.Itoa(j)+"@example.com"),
			prop("name", "Old User "+strconv.Itoa(j)),
			prop("plan", plans[s.hash(j, 3)%uint64(len(plans))]),
		}}
	return l.PutPerson(team, p)
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

// preload writes set into a new store in dir, flushes it, compacts it and
// closes it.
func preload(dir string, set *preloadSet, opts state.Options, log *zap.Logger, progress func(done int64)) (PreloadStats, error) {
	start := time.Now()
	opts.Logger = log
	st, err := state.Open(dir, opts)
	if err != nil {
		return PreloadStats{}, fmt.Errorf("bench: preload: %w", err)
	}
	ps := PreloadStats{IDs: set.ids, Persons: int64(set.persons)}
	err = func() error {
		l, err := st.NewLoader()
		if err != nil {
			return err
		}
		defer l.Cancel()
		var ids int64
		for j := range set.persons {
			if err := set.write(l, j); err != nil {
				return err
			}
			if set.identified(j) {
				ps.Identified++
			}
			ids += int64(set.size(j))
			if progress != nil && j%500_000 == 0 {
				progress(ids)
			}
		}
		ps.Records = l.Written()
		return l.Flush()
	}()
	if err = errors.Join(err, st.Close()); err != nil {
		return ps, fmt.Errorf("bench: preload: %w", err)
	}
	// Reopened, the memtables are in tables: compact them all.
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
