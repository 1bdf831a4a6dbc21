// Package unionfind is the identity graph of the resolver: which distinct_ids
// belong to which person, the persons themselves, and the merge rules of
// SEMANTICS.md §3–5.
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
// The package imports no infrastructure: the Store it works on is declared
// here and implemented by package state (Badger, and an in-memory map).
package unionfind
