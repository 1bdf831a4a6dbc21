package unionfind_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestImplicitPersonIDVectors pins the three test vectors of docs/SEMANTICS.md §3:
// UUIDv5(932979b4-65c3-4424-8467-0b66ec27bc22, "<team>:<distinct_id>").
func TestImplicitPersonIDVectors(t *testing.T) {
	tests := []struct {
		team, distinctID string
		want             string
	}{
		{"1", "test", "246f7a43-5507-564f-b687-793ee3c2dd79"},
		{"2", "test", "00ce873a-549c-548e-bbec-cc804a385dd8"},
		{"1", "test2", "45c17302-ee44-5596-916a-0eba21f4b638"},
	}
	for _, tt := range tests {
		t.Run(tt.team+":"+tt.distinctID, func(t *testing.T) {
			got := unionfind.ImplicitPersonID(tt.team, tt.distinctID)
			assert.Equal(t, tt.want, got.String())
			assert.Equal(t, 5, int(got.Version()), "an implicit person id is a version-5 UUID")
		})
	}
	assert.Equal(t, "932979b4-65c3-4424-8467-0b66ec27bc22", unionfind.PersonNamespace.String())
}
