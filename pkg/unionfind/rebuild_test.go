package unionfind_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// The erasure invariant of docs/SEMANTICS.md §8: a rebuild that replays
// identity_log after a deletion, without the values whose data keys were
// erased, reaches byte-identical identity state (Fingerprint) as the live
// replica that applied them. Store A is the live replica: it applies sealed
// ops with their values, except that (as the applier does) an op whose key
// A already knows erased comes without them. Store B is the rebuild: every
// op whose key is erased by the end of the sequence comes without values.

// chooser draws the choices of a generated op sequence.
type chooser interface {
	intn(n int) int
}

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }

// bytesChooser draws from fuzz input; when it runs out every choice is 0.
type bytesChooser struct{ b []byte }

func (c *bytesChooser) intn(n int) int {
	if len(c.b) == 0 {
		return 0
	}
	v := int(c.b[0])
	c.b = c.b[1:]
	return v % n
}

const rebuildTeam = "1"

var rebuildIDs = []string{"a", "b", "c", "d", "e", "f"}

// genOp draws one op; mappingGen answers the current generation of an id
// in the live store (the worker seals under it).
func genOp(c chooser, i int, mappingGen func(string) uint32) unionfind.Op {
	id := func() string { return rebuildIDs[c.intn(len(rebuildIDs))] }
	op := unionfind.Op{
		Team:      rebuildTeam,
		Source:    unionfind.Source{Topic: "events_raw", Offset: int64(i)},
		EventUUID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i),
		// Times wander, so that property times and created_at are exercised
		// in both directions.
		Timestamp: int64(1_000_000 + 1000*i - 3000*c.intn(3)),
		Log:       unionfind.LogPos{Offset: int64(i), Time: int64(2_000_000 + i)},
	}
	switch k := c.intn(20); {
	case k < 2:
		op.Kind = unionfind.OpDeletePerson
		op.DistinctID = id()
		op.Block = c.intn(4) == 0
		return op
	case k < 4:
		op.Kind = unionfind.OpSplit
		op.DistinctID = id()
		for n := c.intn(3); n > 0; n-- {
			op.SplitIDs = append(op.SplitIDs, id())
		}
		op.NoProperties = c.intn(3) == 0
		return op
	}
	op.Kind = unionfind.OpEvent
	op.DistinctID = id()
	switch c.intn(6) {
	case 0:
		op.Merge = &unionfind.Merge{Other: id(), Guarded: true, Rule: unionfind.RuleIdentify}
	case 1:
		op.Merge = &unionfind.Merge{Other: id(), Guarded: true, Rule: unionfind.RuleAlias}
	case 2:
		op.Merge = &unionfind.Merge{Other: id(), Rule: unionfind.RuleMergeDangerously}
	}
	keys := []string{"k1", "k2", "k3"}
	for _, k := range keys {
		switch c.intn(5) {
		case 0, 1:
			op.Set = append(op.Set, unionfind.KV{Key: k, Value: json.RawMessage(fmt.Sprint(c.intn(3)))})
		case 2:
			op.SetOnce = append(op.SetOnce, unionfind.KV{Key: k, Value: json.RawMessage(fmt.Sprint(c.intn(3)))})
		case 3:
			if c.intn(2) == 0 {
				op.Unset = append(op.Unset, k)
			}
		}
	}
	switch c.intn(8) {
	case 0:
		// An op logged before sealing existed: its values are in clear and
		// never erased.
		return op
	case 1:
		// Sealed by a worker that had not yet seen the id's generation
		// rise (a split or deletion applied after it sealed).
		if g := mappingGen(op.DistinctID); g > 0 {
			op.Sealed, op.Gen = true, g-1 // opened (KeyID cleared)
			return op
		}
	}
	op.Sealed = true
	op.KeyID = 0 // opened: the applier clears the key id (Sealed stays)
	op.Gen = mappingGen(op.DistinctID)
	return op
}

// keyOf is the data key of an event op's values.
func keyOf(op *unionfind.Op) unionfind.KeyRef {
	return unionfind.KeyRef{DistinctID: op.DistinctID, Gen: op.Gen}
}

// checkRebuild runs n generated ops on a live store and a rebuild and
// compares them.
func checkRebuild(t *testing.T, c chooser, n int) {
	t.Helper()
	var g unionfind.Graph
	live := state.NewMemory()
	defer live.Close()
	var ops []unionfind.Op
	var erasedLive []unionfind.KeyRef
	for i := range n {
		var op unionfind.Op
		err := live.Update(func(tx state.Tx) error {
			op = genOp(c, i, func(d string) uint32 {
				m, _, err := tx.Mapping(rebuildTeam, d)
				if err != nil {
					t.Fatal(err)
				}
				return m.Gen
			})
			if op.Kind == unionfind.OpEvent && op.Sealed {
				// The applier: a key this store knows erased is not opened.
				erased, err := unionfind.KeyErased(tx, op.Team, keyOf(&op))
				if err != nil {
					return err
				}
				if erased {
					op.Set, op.SetOnce, op.ValuesErased = nil, nil, true
				}
			}
			res, err := g.Apply(tx, &op)
			erasedLive = append(erasedLive, res.Erased...)
			return err
		})
		if err != nil {
			t.Fatalf("live op %d (%s): %v", i, describe(&op), err)
		}
		ops = append(ops, op)
	}
	// Which keys are erased at the end, and Result.Erased named each once.
	erased := map[unionfind.KeyRef]bool{}
	if err := live.View(func(tx state.Tx) error {
		for i := range ops {
			if ops[i].Kind != unionfind.OpEvent || !ops[i].Sealed {
				continue
			}
			k := keyOf(&ops[i])
			e, err := unionfind.KeyErased(tx, rebuildTeam, k)
			if err != nil {
				return err
			}
			erased[k] = e
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	seen := map[unionfind.KeyRef]bool{}
	for _, k := range erasedLive {
		if seen[k] {
			t.Fatalf("key %v listed in Result.Erased twice", k)
		}
		seen[k] = true
		if !erased[k] {
			t.Fatalf("key %v listed in Result.Erased but not erased at the end", k)
		}
	}

	rebuild := state.NewMemory()
	defer rebuild.Close()
	for i := range ops {
		op := ops[i]
		op.Set, op.SetOnce = append([]unionfind.KV(nil), op.Set...), append([]unionfind.KV(nil), op.SetOnce...)
		if op.Kind == unionfind.OpEvent && op.Sealed && erased[keyOf(&op)] {
			op.Set, op.SetOnce, op.ValuesErased = nil, nil, true
		}
		if err := rebuild.Update(func(tx state.Tx) error {
			_, err := g.Apply(tx, &op)
			return err
		}); err != nil {
			t.Fatalf("rebuild op %d (%s): %v", i, describe(&op), err)
		}
	}
	fa, err := live.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	fb, err := rebuild.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if fa != fb {
		var b strings.Builder
		for i := range ops {
			fmt.Fprintf(&b, "\n  %d: %s erased=%v", i, describe(&ops[i]), ops[i].Kind == unionfind.OpEvent && ops[i].Sealed && erased[keyOf(&ops[i])])
		}
		t.Fatalf("live fingerprint %s, rebuild %s; ops:%s", fa, fb, b.String())
	}
}

func describe(op *unionfind.Op) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s did=%s", op.Kind, op.DistinctID)
	switch op.Kind {
	case unionfind.OpEvent:
		fmt.Fprintf(&b, " sealed=%v gen=%d ts=%d", op.Sealed, op.Gen, op.Timestamp)
		if op.Merge != nil {
			fmt.Fprintf(&b, " %s(%s)", unionfind.RuleOf(op.Merge), op.Merge.Other)
		}
		for _, kv := range op.Set {
			fmt.Fprintf(&b, " set %s=%s", kv.Key, kv.Value)
		}
		for _, kv := range op.SetOnce {
			fmt.Fprintf(&b, " once %s=%s", kv.Key, kv.Value)
		}
		for _, k := range op.Unset {
			fmt.Fprintf(&b, " unset %s", k)
		}
		if op.ValuesErased {
			b.WriteString(" values-erased")
		}
	case unionfind.OpDeletePerson:
		if op.Block {
			b.WriteString(" block")
		}
	case unionfind.OpSplit:
		fmt.Fprintf(&b, " +%v", op.SplitIDs)
		if op.NoProperties {
			b.WriteString(" no-properties")
		}
	}
	return b.String()
}

// TestRebuildEqualsLive is the property test: many random op sequences.
func TestRebuildEqualsLive(t *testing.T) {
	seqs := 400
	if testing.Short() {
		seqs = 50
	}
	for seed := range seqs {
		c := randChooser{rand.New(rand.NewPCG(uint64(seed), 14))}
		checkRebuild(t, c, 10+seed%50)
		if t.Failed() {
			t.Fatalf("seed %d", seed)
		}
	}
}

// FuzzRebuildEqualsLive drives the op sequence from fuzz input.
func FuzzRebuildEqualsLive(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x00\x01\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"))
	for seed := range 8 {
		r := rand.New(rand.NewPCG(uint64(seed), 99))
		b := make([]byte, 300)
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4000 {
			data = data[:4000]
		}
		c := &bytesChooser{b: data}
		// About 12 choices per op.
		checkRebuild(t, c, 1+len(data)/12)
	})
}
