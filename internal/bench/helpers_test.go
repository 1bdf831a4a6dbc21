package bench

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/resolver-dev/resolver/internal/gen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestGenConfigFor(t *testing.T) {
	base := gen.DefaultConfig()
	base.PadBytes = 0
	shares := []float64{0.01, 0.05, 0.2}
	if testing.Short() || raceEnabled {
		shares = shares[1:2]
	}
	if raceEnabled {
		defer func(n int) { calibrationUsers = n }(calibrationUsers)
		calibrationUsers = 500
	}
	for _, want := range shares {
		c, got, err := GenConfigFor(base, want)
		if err != nil {
			t.Fatalf("share %v: %v", want, err)
		}
		if got < want*0.97 || got > want*1.03 {
			t.Errorf("share %v: measured %.4f with %+v", want, got, c)
		}
		if raceEnabled {
			continue
		}
		// The share holds on a stream of another size too.
		c.Users = 6000
		if s := IdentityShareOf(c, 1<<30); s < want*0.9 || s > want*1.1 {
			t.Errorf("share %v: %.4f on a larger stream", want, s)
		}
	}
	if _, _, err := GenConfigFor(base, 0.9); err == nil {
		t.Error("share 0.9 accepted")
	}
}

func TestUUIDOf(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"uuid":"01A19467-E800-79D8-99C9-E9C9D6BC234D","event":"x"}`, "01a19467-e800-79d8-99c9-e9c9d6bc234d"},
		{`{"distinct_id":"a","uuid":"01a19467-e800-79d8-99c9-e9c9d6bc234d","data":"{}"}`, "01a19467-e800-79d8-99c9-e9c9d6bc234d"},
		{`{"uuid":"short"}`, ""},
		{`{"event":"x"}`, ""},
	} {
		if got := uuidOf([]byte(tc.in)); got != tc.want {
			t.Errorf("uuidOf(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p := percentile(ds, 50); p != 50*time.Millisecond {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(ds, 99); p != 99*time.Millisecond {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile([]time.Duration{7}, 99); p != 7 {
		t.Errorf("p99 of one = %v", p)
	}
	if p := percentile(nil, 50); p != 0 {
		t.Errorf("p50 of none = %v", p)
	}
}

func TestSpreadAndRatios(t *testing.T) {
	if s := spread([]float64{3, 1, 2, 10}); s != (Spread{Median: 2.5, Min: 1, Max: 10}) {
		t.Errorf("spread = %+v", s)
	}
	r := &Report{Turns: []Turn{
		{Kind: Limit, Pair: 1, Events: 100, Window: time.Second},
		{Kind: Resolver, Pair: 1, Events: 100, Window: 2 * time.Second},
		{Kind: Limit, Pair: 2, Events: 100, Window: time.Second},
		{Kind: Resolver, Pair: 2, Events: 100, Window: 4 * time.Second},
	}}
	got := r.Ratios()
	if len(got) != 2 || got[0] != 0.5 || got[1] != 0.25 || r.MedianRatio() != 0.375 {
		t.Errorf("ratios %v median %v", got, r.MedianRatio())
	}
}

func TestMeasure(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	if u := procSelf(); !u.ok || u.cpu <= 0 {
		t.Errorf("self cpu %+v", u)
	}
	if u := pidCPU(os.Getpid()); !u.ok {
		t.Errorf("pid cpu %+v", u)
	}
	if peakRSS("self") <= 0 {
		t.Error("no VmHWM")
	}
	// Burn a little CPU and check that /proc and getrusage agree on it.
	a, b := procSelf(), pidCPU(os.Getpid())
	x := 0
	for i := 0; i < 200_000_000; i++ {
		x += i ^ (x >> 3)
	}
	_ = bytes.MinRead + x%2
	a2, b2 := procSelf(), pidCPU(os.Getpid())
	if d1, d2 := a2.cpu-a.cpu, b2.cpu-b.cpu; d1 <= 0 || d2 < d1/2-2*clockTick || d2 > 2*d1+2*clockTick {
		t.Errorf("getrusage %v vs /proc %v", d1, d2)
	}
}
