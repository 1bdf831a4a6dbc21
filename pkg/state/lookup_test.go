package state

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestLookup: the view of a merged person from any of its ids, and of an
// implicit person, on every engine; and its JSON shape, which the admin
// server serves as is.
func TestLookup(t *testing.T) {
	ops, _ := interleavedOps()
	user := unionfind.ImplicitPersonID("1", "user").String()
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			applyOps(t, s, ops)
			for _, did := range []string{"anon", "user"} {
				v, err := s.Lookup("1", did)
				must(t, err)
				if v.DistinctID != did || v.Team != "1" || v.PersonID != user || v.Implicit || !v.IsIdentified {
					t.Fatalf("lookup %s: %+v", did, v)
				}
				if v.CreatedAt != "1970-01-01T00:00:00.010Z" {
					t.Errorf("created_at %q", v.CreatedAt)
				}
				if v.Version == 0 {
					t.Errorf("version 0 for a person that changed")
				}
				want := []DistinctIDView{{DistinctID: "anon", Version: 1}, {DistinctID: "user", Version: 0}}
				if !reflect.DeepEqual(v.DistinctIDs, want) {
					t.Errorf("distinct ids %+v, want %+v", v.DistinctIDs, want)
				}
				wantProps := map[string]PropertyView{
					"color": {Value: json.RawMessage(`"red"`), Time: "1970-01-01T00:00:00.012Z"},
					"name":  {Value: json.RawMessage(`"x"`), Time: "1970-01-01T00:00:00.010Z"},
					"plan":  {Value: json.RawMessage(`"free"`), Time: "1970-01-01T00:00:00.011Z"},
				}
				if !reflect.DeepEqual(v.Properties, wantProps) {
					t.Errorf("properties %+v", v.Properties)
				}
			}

			v, err := s.Lookup("1", "never-seen")
			must(t, err)
			want := PersonView{
				Team: "1", DistinctID: "never-seen", PersonID: unionfind.ImplicitPersonID("1", "never-seen").String(),
				Implicit: true, CreatedAt: "1970-01-01T00:00:05.000Z",
				DistinctIDs: []DistinctIDView{{DistinctID: "never-seen"}}, Properties: map[string]PropertyView{},
			}
			if !reflect.DeepEqual(v, want) {
				t.Fatalf("implicit: %+v\nwant %+v", v, want)
			}
			// Teams never share: the same id in team 2 is implicit.
			v, err = s.Lookup("2", "user")
			must(t, err)
			if !v.Implicit || v.PersonID != unionfind.ImplicitPersonID("2", "user").String() {
				t.Fatalf("team 2: %+v", v)
			}
		})
	}
}

func TestLookupJSON(t *testing.T) {
	s := NewMemory().Store
	ops, _ := interleavedOps()
	applyOps(t, s, ops[:1])
	v, err := s.Lookup("1", "anon")
	must(t, err)
	b, err := json.Marshal(v)
	must(t, err)
	want := `{"team":"1","distinct_id":"anon","person_id":"` + unionfind.ImplicitPersonID("1", "anon").String() + `",` +
		`"implicit":false,"created_at":"1970-01-01T00:00:00.010Z","is_identified":false,"version":0,` +
		`"distinct_ids":[{"distinct_id":"anon","version":0}],` +
		`"properties":{"name":{"value":"x","time":"1970-01-01T00:00:00.010Z"}}}`
	if string(b) != want {
		t.Fatalf("JSON:\n got %s\nwant %s", b, want)
	}
	v, err = s.Lookup("1", "nobody")
	must(t, err)
	b, err = json.Marshal(v)
	must(t, err)
	if want := `"distinct_ids":[{"distinct_id":"nobody","version":0}],"properties":{}}`; !json.Valid(b) || string(b[len(b)-len(want):]) != want {
		t.Fatalf("implicit JSON: %s", b)
	}
}

// TestLookupClosed: a closed store answers ErrClosed.
func TestLookupClosed(t *testing.T) {
	s := NewMemory().Store
	must(t, s.Close())
	if _, err := s.Lookup("1", "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v, want ErrClosed", err)
	}
}
