package stream

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/pkg/shred"
	"github.com/resolver-dev/resolver/pkg/stream/oplog"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// sealing is an op with property values on its way to identity_log, and
// its record, whose value sealOps replaces with the sealed op's.
type sealing struct {
	rec *kgo.Record
	op  unionfind.Op
}

// sealGrowth bounds how many bytes sealing adds to an op's record: the
// nonce and tag of each value and the key id field.
func sealGrowth(op *unionfind.Op) int {
	return (len(op.Set)+len(op.SetOnce))*shred.Overhead + 16
}

// sealOps seals the values of ops (docs/SEMANTICS.md §8, erasure) with the
// data key of their (team, distinct_id, generation), creating the keys the
// ring does not have yet — all of a batch's in one write to identity_keys,
// acknowledged before any op sealed with them is logged. A generation the ring knows as
// erased (the replica had not yet applied the deletion when the batch
// looked up the id) gets no key: the op is logged without its values,
// which every replica would drop anyway. Without a ring (an applier made
// without a client, in tests) values are logged in clear.
func sealOps(ctx context.Context, ring *shred.Ring, ops []sealing) error {
	if ring == nil || len(ops) == 0 {
		return nil
	}
	type gen struct {
		team, did string
		gen       uint32
	}
	type key struct {
		kid    uint64
		key    shred.Key
		erased bool
	}
	keys := map[gen]*key{}
	var missing []gen
	for i := range ops {
		op := &ops[i].op
		g := gen{op.Team, op.DistinctID, op.Gen}
		if _, ok := keys[g]; ok {
			continue
		}
		kid, k, ok, erased := ring.Current(g.team, g.did, g.gen)
		keys[g] = &key{kid: kid, key: k, erased: erased}
		if !ok && !erased {
			missing = append(missing, g)
		}
	}
	if len(missing) > 0 {
		gens := make([]shred.Gen, len(missing))
		for i, g := range missing {
			gens[i] = shred.Gen{Team: g.team, DistinctID: g.did, Gen: g.gen}
		}
		made, err := ring.CreateMany(ctx, gens)
		if err != nil {
			return fmt.Errorf("stream: create data keys: %w", err)
		}
		for i, g := range missing {
			k := keys[g]
			switch c := made[i]; {
			case errors.Is(c.Err, shred.ErrErased):
				k.erased = true
			case c.Err != nil:
				return fmt.Errorf("stream: create a data key (team %s): %w", g.team, c.Err)
			default:
				k.kid, k.key = c.KeyID, c.Key
			}
		}
	}
	for i := range ops {
		s := &ops[i]
		k := keys[gen{s.op.Team, s.op.DistinctID, s.op.Gen}]
		if k.erased {
			s.op.Set, s.op.SetOnce = nil, nil
		} else if err := shred.Seal(&s.op, k.kid, k.key); err != nil {
			return fmt.Errorf("stream: seal an op's values: %w", err)
		}
		s.rec.Value = oplog.Encode(&s.op)
	}
	return nil
}
