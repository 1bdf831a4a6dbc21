package billing

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMeterAccumulates(t *testing.T) {
	m := NewMeter()
	assert.Empty(t, m.Deltas())

	m.Add("1", "2026-11", Anonymous, 3)
	m.Add("1", "2026-11", Anonymous, 4)
	m.Add("1", "2026-11", Identified, 1)
	m.Add("1", "2026-11", Anonymous, 0) // no-op: no key appears for it
	m.Add("2", "2026-11", Excluded, 0)
	assert.Equal(t, 2, m.Len())
	assert.Equal(t, []Delta{
		{Team: "1", Month: "2026-11", Class: Anonymous, Count: 7},
		{Team: "1", Month: "2026-11", Class: Identified, Count: 1},
	}, m.Deltas())
	assert.Len(t, m.Deltas(), 2, "Deltas does not consume the counts")
}

func TestMeterDeltasOrder(t *testing.T) {
	want := []Delta{
		{Team: "1", Month: "2026-10", Class: Identified, Count: 1},
		{Team: "1", Month: "2026-11", Class: Excluded, Count: 2},
		{Team: "1", Month: "2026-11", Class: Anonymous, Count: 3},
		{Team: "1", Month: "2026-11", Class: Identified, Count: 4},
		{Team: "10", Month: "2026-09", Class: Anonymous, Count: 5}, // bytewise: "10" < "2"
		{Team: "2", Month: "2026-11", Class: Anonymous, Count: 6},
		{Team: "phc_abc", Month: "2026-11", Class: Excluded, Count: 7},
	}
	// Insert in several orders; map iteration is random, the output is not.
	for _, order := range [][]int{{0, 1, 2, 3, 4, 5, 6}, {6, 5, 4, 3, 2, 1, 0}, {3, 0, 6, 2, 5, 1, 4}} {
		for range 20 {
			var m Meter // the zero Meter works
			for _, i := range order {
				d := want[i]
				m.Add(d.Team, d.Month, d.Class, d.Count)
			}
			assert.Equal(t, want, m.Deltas())
		}
	}
}

func TestMeterAddNegativePanics(t *testing.T) {
	m := NewMeter()
	assert.PanicsWithValue(t, `billing: Meter.Add("1", "2026-11", anonymous, -1): negative count`, func() {
		m.Add("1", "2026-11", Anonymous, -1)
	})
}

func BenchmarkMeterAdd(b *testing.B) {
	teams := make([]string, 64)
	for i := range teams {
		teams[i] = strconv.Itoa(i + 1)
	}
	months := []string{"2026-10", "2026-11"}
	classes := Classes()
	m := NewMeter()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Add(teams[i%len(teams)], months[i/len(teams)%len(months)], classes[i%len(classes)], 1)
		i++
	}
}
