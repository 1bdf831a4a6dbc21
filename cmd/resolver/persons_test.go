package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestPersonsUsage: the persons commands refuse what they cannot send,
// before they touch a cluster, with exit code 2 and a message.
func TestPersonsUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"persons", "delete", "--distinct-id", "a"}, "--team and exactly one --distinct-id are required"},
		{[]string{"persons", "delete", "--team", "1"}, "--team and exactly one --distinct-id are required"},
		{[]string{"persons", "delete", "--team", "1", "--distinct-id", "a", "--distinct-id", "b"}, "exactly one --distinct-id"},
		{[]string{"persons", "split", "--team", "1"}, "--team and at least one --distinct-id are required"},
		{[]string{"persons", "split", "--team", "1", "--distinct-id", "a", "--distinct-id", strings.Repeat("x", 201)}, "distinct_ids[1] is over 200 characters"},
		{[]string{"persons", "delete", "--team", "a\x01", "--distinct-id", "a"}, "team"},
		{[]string{"persons", "delete", "--team", "1", "--distinct-id", "a", "--format", "xml"}, "xml"},
	} {
		code, _, errOut := runCLI(t, tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, errOut)
		assert.Contains(t, errOut, tc.want, "%v", tc.args)
	}
}
