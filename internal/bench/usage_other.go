//go:build !unix

package bench

// selfCPU cannot be measured here.
func selfCPU() usage { return usage{} }
