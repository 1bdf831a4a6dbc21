// Package docs holds the project's documentation: SEMANTICS.md (the identity
// rules) and DESIGN.md (how the resolver is built). It has no code; its test
// (refs_test.go) walks every tracked text file of the repository and fails
// on a reference to a document that is not there, or to a section that the
// document does not have.
package docs
