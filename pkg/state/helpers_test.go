package state

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"testing"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestMain checks for leaked goroutines after the benchmarks' shared stores
// are closed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(badgerOpenEnv); dir != "" {
		os.Exit(badgerOpenChild(dir))
	}
	if dir := os.Getenv(killWriterEnv); dir != "" {
		os.Exit(killWriterChild(dir))
	}
	code := m.Run()
	closeFixtures()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testOptions keep Badger small and quick to open in tests.
func testOptions(t testing.TB) Options {
	return Options{
		Logger:          zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		MemTableBytes:   4 << 20,
		BlockCacheBytes: 4 << 20,
		NumCompactors:   2,
		CacheBytes:      1 << 20,
	}
}

// openTest opens a Badger store in a fresh temp dir, closed at cleanup.
func openTest(t testing.TB, o Options) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// engineCase makes a fresh store of one engine.
type engineCase struct {
	name string
	make func(t *testing.T) *Store
}

func engineCases() []engineCase {
	return []engineCase{
		{"badger", func(t *testing.T) *Store { s, _ := openTest(t, testOptions(t)); return s }},
		{"badger-nocache", func(t *testing.T) *Store {
			o := testOptions(t)
			o.CacheBytes = -1
			s, _ := openTest(t, o)
			return s
		}},
		{"badger-pipelined", func(t *testing.T) *Store { return openPipelined(t, testOptions(t)) }},
		{"badger-pipelined-nocache", func(t *testing.T) *Store {
			o := testOptions(t)
			o.CacheBytes = -1
			return openPipelined(t, o)
		}},
		// As stream.Rebuild replays: pipelined, with the replay filter,
		// sorted commits.
		{"badger-replay", func(t *testing.T) *Store { return openReplay(t, testOptions(t)) }},
		{"memory", func(t *testing.T) *Store { return NewMemory().Store }},
		{"memory-replay-filter", func(t *testing.T) *Store {
			s := NewMemory().Store
			must(t, s.SetReplayFilter(true))
			return s
		}},
	}
}

// openReplay opens a test store set up as stream.Rebuild sets up its own:
// pipelined commits, the replay filter (replayfilter.go) and sorted
// commits.
func openReplay(t *testing.T, o Options) *Store {
	t.Helper()
	s := openPipelined(t, o)
	must(t, s.SetReplayFilter(true))
	must(t, s.SetSortedCommits(true))
	return s
}

// openPipelined opens a test store whose Updates are pipelined
// (SetPipelined): every Update reads the one before it from the overlay
// while its commit is in flight.
func openPipelined(t *testing.T, o Options) *Store {
	t.Helper()
	s, _ := openTest(t, o)
	if err := s.SetPipelined(true); err != nil {
		t.Fatal(err)
	}
	return s
}

// chooser is a source of choices: random (determinism tests) or fuzz bytes.
type chooser interface {
	intn(n int) int
}

// byteChooser takes choices from fuzz input; exhausted input gives zeros.
type byteChooser struct{ b []byte }

func (c *byteChooser) intn(n int) int {
	if len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0])
	c.b = c.b[1:]
	return v % n
}

func (c *byteChooser) empty() bool { return len(c.b) == 0 }

// universe is the teams and distinct_ids ops are drawn from.
type universe struct {
	teams []string
	ids   []string
	// illegal is the set of ids in ids that may not merge, as the model
	// knows them (independently of unionfind.IsIllegal).
	illegal map[string]bool
}

// fuzzUniverse: a few teams, 12 ids, one illegal ("null"); " null" is legal
// (the word lists match the untrimmed id).
func fuzzUniverse() universe {
	return universe{
		teams:   []string{"1", "2", "phc_x"},
		ids:     []string{"a1", "a2", "a3", "a4", "u1", "u2", "u3", "x", "y", " null", "null", "user@x.io"},
		illegal: map[string]bool{"null": true},
	}
}

// bigUniverse: for the determinism runs, enough ids that persons grow.
func bigUniverse(n int) universe {
	u := universe{teams: []string{"1", "2", "3"}, illegal: map[string]bool{"null": true}}
	for i := range n {
		u.ids = append(u.ids, fmt.Sprintf("id-%05d", i))
	}
	u.ids = append(u.ids, "null")
	return u
}

var propKeys = []string{"email", "name", "plan"}
var propVals = []string{`1`, `2`, `"x"`, `"y"`}

// genOp draws one op. Times are drawn from a narrow window so that ties and
// late events are common. Persons to delete are picked by a distinct_id
// (the caller resolves it), or a never-stored id.
func genOp(c chooser, u universe, src unionfind.Source, resolve func(team, did string) unionfind.PersonID) unionfind.Op {
	team := u.teams[c.intn(len(u.teams))]
	did := u.ids[c.intn(len(u.ids))]
	op := unionfind.Op{Kind: unionfind.OpEvent, Source: src, Team: team, DistinctID: did,
		EventUUID: fmt.Sprintf("uuid-%d-%d", src.Offset, src.Index), Timestamp: int64(1000 + c.intn(40))}
	switch c.intn(12) {
	case 0, 1, 2: // $identify
		op.Merge = &unionfind.Merge{Other: u.ids[c.intn(len(u.ids))], Guarded: true}
	case 3, 4: // $create_alias
		op.Merge = &unionfind.Merge{Other: u.ids[c.intn(len(u.ids))], Guarded: true}
	case 5: // $merge_dangerously
		op.Merge = &unionfind.Merge{Other: u.ids[c.intn(len(u.ids))]}
	case 6:
		op = unionfind.Op{Kind: unionfind.OpDeletePerson, Source: src, Team: team}
		if c.intn(4) == 0 {
			op.PersonID = unionfind.ImplicitPersonID(team, "never-"+did)
		} else {
			op.PersonID = resolve(team, did)
		}
		return op
	}
	// Properties: each key independently in $set, $set_once, $unset or none.
	for _, k := range propKeys {
		switch c.intn(6) {
		case 0:
			op.Set = append(op.Set, unionfind.KV{Key: k, Value: json.RawMessage(propVals[c.intn(len(propVals))])})
		case 1:
			op.SetOnce = append(op.SetOnce, unionfind.KV{Key: k, Value: json.RawMessage(propVals[c.intn(len(propVals))])})
		case 2:
			op.Unset = append(op.Unset, k)
		}
	}
	return op
}

// idsOf lists the d/ live mappings of a store: team → did → person.
func dumpMappings(t testing.TB, s *Store) map[string]map[string]unionfind.Mapping {
	t.Helper()
	out := map[string]map[string]unionfind.Mapping{}
	err := s.eng.view(func(r kvReader) error {
		return r.scan(tagMapping, nil, false, func(key, val []byte) (bool, error) {
			kr := newKeyReader(key, tagMapping)
			team, did := kr.str(), kr.rest()
			if !kr.ok {
				return false, fmt.Errorf("bad d/ key %q", key)
			}
			m, err := decodeMapping(team, did, val)
			if err != nil {
				return false, err
			}
			if out[team] == nil {
				out[team] = map[string]unionfind.Mapping{}
			}
			out[team][did] = m
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type teamPerson struct {
	team string
	id   unionfind.PersonID
}

type teamDID struct {
	team, did string
}

// dumpPersons lists every stored person, tombstones included.
func dumpPersons(t testing.TB, s *Store) map[teamPerson]unionfind.Person {
	t.Helper()
	out := map[teamPerson]unionfind.Person{}
	err := s.eng.view(func(r kvReader) error {
		return r.scan(tagPerson, nil, false, func(key, val []byte) (bool, error) {
			kr := newKeyReader(key, tagPerson)
			team := kr.str()
			if !kr.ok || len(kr.b) != 16 {
				return false, fmt.Errorf("bad p/ key %q", key)
			}
			var id unionfind.PersonID
			copy(id[:], kr.b)
			p, err := decodePersonValue(id, val)
			if err != nil {
				return false, err
			}
			out[teamPerson{team, id}] = p
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dumpMembers lists the m/ keys: (team, person) → sorted distinct_ids.
func dumpMembers(t testing.TB, s *Store) map[teamPerson][]string {
	t.Helper()
	out := map[teamPerson][]string{}
	err := s.eng.view(func(r kvReader) error {
		return r.scan(tagMember, nil, true, func(key, _ []byte) (bool, error) {
			kr := newKeyReader(key, tagMember)
			team := kr.str()
			if !kr.ok || len(kr.b) < 16 {
				return false, fmt.Errorf("bad m/ key %q", key)
			}
			var id unionfind.PersonID
			copy(id[:], kr.b)
			tp := teamPerson{team, id}
			out[tp] = append(out[tp], string(kr.b[16:]))
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out {
		if !sort.StringsAreSorted(v) {
			t.Fatalf("m/ keys not in distinct_id order: %q", v)
		}
	}
	// Founders kept in p/ values (founder.go): members too, never also an
	// m/ key, and each the founder of its person.
	err = s.eng.view(func(r kvReader) error {
		return r.scan(tagPerson, nil, false, func(key, val []byte) (bool, error) {
			kr := newKeyReader(key, tagPerson)
			team := kr.str()
			id, ok := personKeyID(key)
			if !kr.ok || !ok {
				return false, fmt.Errorf("bad p/ key %q", key)
			}
			_, founder, err := decodeFounder(id, val)
			if err != nil || founder == "" {
				return err == nil, err
			}
			if unionfind.ImplicitPersonID(team, founder) != id {
				return false, fmt.Errorf("p/ %s/%s keeps %q, which did not found it", team, id, founder)
			}
			tp := teamPerson{team, id}
			i, found := slices.BinarySearch(out[tp], founder)
			if found {
				return false, fmt.Errorf("p/ %s/%s keeps founder %q, which also has an m/ key", team, id, founder)
			}
			out[tp] = slices.Insert(out[tp], i, founder)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshot is the whole identity state of a store, decoded.
type snapshot struct {
	maps    map[string]map[string]unionfind.Mapping
	persons map[teamPerson]unionfind.Person
	members map[teamPerson][]string
}

func takeSnapshot(t testing.TB, s *Store) *snapshot {
	t.Helper()
	return &snapshot{maps: dumpMappings(t, s), persons: dumpPersons(t, s), members: dumpMembers(t, s)}
}

// checkInvariants checks the store's internal consistency: every live
// mapping has its membership key and a live person; every membership key
// has its live mapping (so no id is in two persons); Size equals the member
// count; tombstoned persons have no members.
func checkInvariants(t testing.TB, snap *snapshot) {
	t.Helper()
	maps, persons, members := snap.maps, snap.persons, snap.members
	memberSet := map[string]bool{}
	for tp, dids := range members {
		for _, d := range dids {
			memberSet[tp.team+"\x00"+string(tp.id[:])+"\x00"+d] = true
			m, ok := maps[tp.team][d]
			if !ok || m.Deleted || m.PersonID != tp.id {
				t.Fatalf("m/ %s/%s/%q without matching live d/ (mapping %+v ok=%v)", tp.team, tp.id, d, m, ok)
			}
		}
	}
	for team, dm := range maps {
		for d, m := range dm {
			if m.Deleted {
				continue
			}
			if !memberSet[team+"\x00"+string(m.PersonID[:])+"\x00"+d] {
				t.Fatalf("d/ %s/%q → %s without m/ key", team, d, m.PersonID)
			}
			p, ok := persons[teamPerson{team, m.PersonID}]
			if !ok || p.Deleted {
				t.Fatalf("d/ %s/%q → %s: person missing or deleted", team, d, m.PersonID)
			}
		}
	}
	for tp, p := range persons {
		n := uint64(len(members[tp]))
		if p.Deleted && n != 0 {
			t.Fatalf("deleted person %s/%s has %d members", tp.team, tp.id, n)
		}
		if !p.Deleted && p.Size != n {
			t.Fatalf("person %s/%s Size %d, members %d", tp.team, tp.id, p.Size, n)
		}
	}
}

// versionWatch remembers the highest version of every mapping and person
// seen, and fails if one ever goes down.
type versionWatch struct {
	maps    map[teamDID]uint64
	persons map[teamPerson]uint64
}

func newVersionWatch() *versionWatch {
	return &versionWatch{maps: map[teamDID]uint64{}, persons: map[teamPerson]uint64{}}
}

func (w *versionWatch) check(t testing.TB, snap *snapshot) {
	t.Helper()
	for team, dm := range snap.maps {
		for d, m := range dm {
			k := teamDID{team, d}
			if old, ok := w.maps[k]; ok && m.Version < old {
				t.Fatalf("mapping %s/%q version went down %d → %d", team, d, old, m.Version)
			}
			w.maps[k] = m.Version
		}
	}
	for k, p := range snap.persons {
		if old, ok := w.persons[k]; ok && p.Version < old {
			t.Fatalf("person %s/%s version went down %d → %d", k.team, k.id, old, p.Version)
		}
		w.persons[k] = p.Version
	}
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		var n int
		if _, err := fmt.Sscan(v, &n); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// founderMeta is the personMeta of a value with founder f and no lineage
// head.
func founderMeta(f string) personMeta { return personMeta{founder: f} }

// decodeFounder is decodePersonRecord giving only the founder.
func decodeFounder(id unionfind.PersonID, v []byte) (unionfind.Person, string, error) {
	p, m, err := decodePersonRecord(id, v)
	return p, m.founder, err
}
