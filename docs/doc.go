// Package docs holds the project's documentation: SEMANTICS.md (the identity
// rules) and DESIGN.md (how the resolver is built). It has no code; its test
// (refs_test.go) walks every tracked text file of the repository and fails
// on a reference to a document that is not there, or to a section that the
// document does not have. Its layout_test.go checks what DESIGN.md's
// "Packages" says of pkg/: every package there has a runnable Example, and
// its exported API names no internal/ type except through an alias.
package docs
