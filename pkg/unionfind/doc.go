// Package unionfind is the identity graph of the resolver: which distinct_ids
// belong to which person, the persons themselves, and the merge rules of
// docs/SEMANTICS.md §3–5.
//
// The graph is a union-find in which every distinct_id points directly at its
// set's root, the person: Find is one point read. Union relabels the members
// of the absorbed person, and those relabelled rows are exactly the
// distinct-id rows the warehouse feed must re-emit.
//
// Everything here is deterministic. Graph.Apply takes an Op and changes the
// Store only as a function of the Op and the Store's current contents; times
// come from the Op, never from a clock. The same op sequence therefore gives
// byte-identical state on any machine, which is what lets every resolver
// instance replay the identity log into its own replica and agree.
//
// No op can stop a replica: Apply first checks the op (Op.Validate) and
// refuses one whose strings could not be keys — a team over MaxTeamBytes or
// with a control character, a distinct_id over MaxDistinctIDRunes
// characters, a merge id over MaxOtherRunes — or whose property lists are
// malformed, with ErrInvalidOp, before any read or write, so every replica
// refuses it alike. A person's properties stay within
// Graph.MaxPersonPropertiesBytes as JSON (docs/SEMANTICS.md §5, "Size cap"):
// writes past it are dropped, in key order, with one
// person_properties_size_violation warning per op.
//
// A person's lifecycle (docs/SEMANTICS.md §8) is here too. Every merge
// that moves ids, and every refused one, yields a lineage row
// (Result.Merges, MergeRow, rule from RuleOf). OpDeletePerson turns the
// person of a distinct_id into a tombstone without properties, versioned
// 101 × (log offset + 1) (Op.Log), and every mapping of it into a
// tombstone whose generation rises (blocked with Op.Block: later events of
// the id change nothing and merges naming it are refused). OpSplit moves
// named ids into a new person, SplitPersonID. Erasure is exact: a person
// holds a ref to every data key (KeyRef: an id and its generation) whose
// sealed values its state depends on, passed on by merges and copied by
// splits; the tombstones a person absorbed are listed under it; deleting
// the person erases those tombstones' properties and releases its keys,
// and a key released by its last holder is erased (Result.Erased,
// KeyErased). So once a key is erased nothing stored depends on its values,
// and a rebuild that replays the log without them reaches the same state,
// byte for byte (rebuild_test.go checks exactly that).
//
// The package imports no infrastructure: the Store it works on is declared
// here and implemented by package state (Badger, and an in-memory map).
package unionfind
