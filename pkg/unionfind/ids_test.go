package unionfind_test

import (
	"cmp"
	"strings"
	"testing"

	"github.com/google/uuid"
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

// TestImplicitPersonIDIsUUIDv5: the hand-rolled hash equals the uuid
// package's UUIDv5 for ids of every length, up to and past the stack
// buffer, and for multi-byte UTF-8.
func TestImplicitPersonIDIsUUIDv5(t *testing.T) {
	ids := []string{"", "x", "anon-0190a4f2-6c1e-7b3a-9d2e-5f4b3c2a1908", "ünïcødé-😀", strings.Repeat("a", 200)}
	for n := 900; n <= 1100; n += 7 {
		ids = append(ids, strings.Repeat("é", n/2)) // around the 1 KiB stack buffer
	}
	for _, team := range []string{"1", "team-with-a-long-name", strings.Repeat("t", 200)} {
		for _, id := range ids {
			want := uuid.NewSHA1(unionfind.PersonNamespace, []byte(team+":"+id))
			assert.Equal(t, want, unionfind.ImplicitPersonID(team, id), "team %d bytes, id %d bytes", len(team), len(id))
		}
	}
}

// FuzzImplicitPersonID: equal to uuid.NewSHA1 for any team and id.
func FuzzImplicitPersonID(f *testing.F) {
	f.Add("1", "test")
	f.Add("", "")
	f.Add("2", strings.Repeat("x", 1500))
	f.Fuzz(func(t *testing.T, team, id string) {
		if want := uuid.NewSHA1(unionfind.PersonNamespace, []byte(team+":"+id)); unionfind.ImplicitPersonID(team, id) != want {
			t.Fatalf("ImplicitPersonID(%q, %q) != UUIDv5", team, id)
		}
	})
}

// BenchmarkImplicitPersonID: the id of every never-seen distinct_id (the
// cold path of a find, and every op's implicit person).
func BenchmarkImplicitPersonID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = unionfind.ImplicitPersonID("1", "0190a4f2-6c1e-7b3a-9d2e-5f4b3c2a1908")
	}
}

// Sources order by offset, then index; Less agrees with Compare.
func TestSourceCompare(t *testing.T) {
	srcs := []unionfind.Source{{Offset: 1}, {Offset: 1, Index: 1}, {Offset: 2}, {Offset: 10, Index: 0}}
	for i, a := range srcs {
		for j, b := range srcs {
			want := cmp.Compare(i, j)
			if got := a.Compare(b); got != want {
				t.Errorf("%+v.Compare(%+v) = %d, want %d", a, b, got, want)
			}
			if a.Less(b) != (want < 0) {
				t.Errorf("%+v.Less(%+v) = %v", a, b, a.Less(b))
			}
		}
	}
}
