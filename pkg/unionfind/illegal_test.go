package unionfind_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestIsIllegal is the rule of docs/SEMANTICS.md §4 "Illegal ids": empty when
// trimmed; containing NUL; over 400 characters; lower-cased one of
// anonymous guest distinctid distinct_id id not_authenticated email
// undefined true false; exactly one of [object Object] NaN None none null 0
// undefined; each listed word also wrapped in single or double quotes; the
// word lists matched against the untrimmed id.
func TestIsIllegal(t *testing.T) {
	tests := []struct {
		id      string
		illegal bool
	}{
		// Empty when trimmed.
		{"", true},
		{" ", true},
		{"   ", true},
		{"\t\n\r ", true},

		// The case-folded list: every word, as written and in other cases.
		{"anonymous", true},
		{"Anonymous", true},
		{"ANONYMOUS", true},
		{"guest", true},
		{"Guest", true},
		{"distinctid", true},
		{"DistinctId", true},
		{"distinct_id", true},
		{"DISTINCT_ID", true},
		{"id", true},
		{"ID", true},
		{"Id", true},
		{"not_authenticated", true},
		{"Not_Authenticated", true},
		{"email", true},
		{"Email", true},
		{"undefined", true},
		{"Undefined", true},
		{"UNDEFINED", true},
		{"true", true},
		{"True", true},
		{"TRUE", true},
		{"false", true},
		{"False", true},

		// The exact list: every word as written is illegal, other cases are not.
		{"[object Object]", true},
		{"[object object]", false},
		{"[OBJECT OBJECT]", false},
		{"NaN", true},
		{"nan", false},
		{"NAN", false},
		{"None", true},
		{"none", true},
		{"NONE", false},
		{"nOne", false},
		{"null", true},
		{"NULL", false},
		{"Null", false},
		{"0", true},
		{"00", false},
		{"0.0", false},
		{"-0", false},

		// Quoted words.
		{"'null'", true},
		{`"null"`, true},
		{"'NULL'", false}, // the exact list stays exact inside quotes
		{`"Anonymous"`, true},
		{"'GUEST'", true},
		{"'[object Object]'", true},
		{`"0"`, true},
		{"'undefined'", true},
		{`"NaN"`, true},
		{"'None'", true},
		{"'none'", true},
		{`"id"`, true},
		{`'null"`, false}, // mismatched quotes
		{`"null'`, false},
		{"''", false},       // quotes around nothing: no listed word
		{`""`, false},       // likewise
		{"''null''", false}, // only one level of quotes is removed
		{"' null'", false},  // quoted, but the word is not exact
		{"'null", false},
		{"null'", false},

		// Untrimmed matching: surrounding whitespace makes a word legal.
		{" null", false},
		{"null ", false},
		{" anonymous", false},
		{"\tnull", false},
		{" 0", false},

		// NUL anywhere.
		{"\x00", true},
		{"a\x00", true},
		{"user\x00-42", true},

		// Length, in characters.
		{strings.Repeat("a", 400), false},
		{strings.Repeat("a", 401), true},
		{strings.Repeat("é", 400), false}, // 800 bytes, 400 characters
		{strings.Repeat("é", 401), true},
		{" " + strings.Repeat("a", 400), true}, // untrimmed length counts

		// Ordinary ids.
		{"user-42", false},
		{"a", false},
		{"anonymous-1", false},
		{"nulls", false},
		{"guests", false},
		{"1", false},
		{"phc_x", false},
		{"\uFFFD", false},
	}
	for _, tt := range tests {
		name := tt.id
		if len(name) > 24 {
			name = name[:24] + "…"
		}
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.illegal, unionfind.IsIllegal(tt.id), "IsIllegal(%q)", tt.id)
		})
	}
}
