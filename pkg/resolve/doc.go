// Package resolve holds what the resolver does with one decoded event, apart
// from moving bytes: the identity op the event implies (docs/SEMANTICS.md §3–5)
// and the stamp it gets from its person (§6, §7).
//
// It is the seam between package event (the wire format) and package
// unionfind (the identity graph), and is shared by the streaming pipeline and
// the scenario suite, so both run exactly the same rules.
package resolve
