package event

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start ("cpu-ns/op",
// garbage collection included) and the events one core decodes in a
// second of it. On a shared machine these vary much less than ns/op: time
// spent waiting for a core is not counted.
func reportCPU(b *testing.B, start time.Duration) {
	perOp := float64(cpuTime(b)-start) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	b.ReportMetric(1e9/perOp, "events/cpu-s")
}

// sampleLines reads testdata/capture-sample.jsonl.
func sampleLines(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/capture-sample.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines
}

var benchStamp = Stamp{
	PersonID:         uuid.MustParse("246f7a43-5507-564f-b687-793ee3c2dd79"),
	PersonCreatedAt:  time.Date(2026, 11, 28, 9, 15, 2, 114_000_000, time.UTC),
	PersonProperties: []byte(`{"email":"ana@example.com","plan":"pro"}`),
	PersonMode:       "propertyless",
	BillingClass:     "anonymous",
}

func benchDecoder() *Decoder {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	return NewDecoder(Options{Now: func() time.Time { return now }})
}

// benchEvents are the first line of the sample (a $pageview, 679 bytes, 16
// properties, spaced as Python's json.dumps writes), the same compact as
// posthog-js and internal/gen write it (619 bytes), the $identify line and the
// envelope line.
func benchEvents(b *testing.B) map[string][]byte {
	lines := sampleLines(b)
	var compact bytes.Buffer
	if err := json.Compact(&compact, lines[0]); err != nil {
		b.Fatal(err)
	}
	return map[string][]byte{"pageview": lines[0], "pageview-compact": compact.Bytes(), "envelope": lines[3], "identify": lines[1]}
}

// benchNames are the keys of benchEvents, in the order benchmarks run them.
var benchNames = []string{"pageview", "pageview-compact", "identify", "envelope"}

func BenchmarkDecode(b *testing.B) {
	d := benchDecoder()
	for _, name := range benchNames {
		value := benchEvents(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			src := Source{Topic: "events_raw", Partition: 1, Offset: 42}
			start := cpuTime(b)
			for b.Loop() {
				if _, err := d.Decode(value, src); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkDecodeStamp(b *testing.B) {
	d := benchDecoder()
	for _, name := range benchNames {
		value := benchEvents(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			src := Source{Topic: "events_raw", Partition: 1, Offset: 42}
			var dst []byte
			start := cpuTime(b)
			for b.Loop() {
				ev, err := d.Decode(value, src)
				if err != nil {
					b.Fatal(err)
				}
				dst = ev.AppendStamped(dst[:0], benchStamp)
			}
			reportCPU(b, start)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkAppendStamped(b *testing.B) {
	value := benchEvents(b)["pageview"]
	e, err := benchDecoder().Decode(value, Source{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(value)))
	var dst []byte
	start := cpuTime(b)
	for b.Loop() {
		dst = e.AppendStamped(dst[:0], benchStamp)
	}
	reportCPU(b, start)
}

// BenchmarkDecodeStampRelease is BenchmarkDecodeStamp for a caller that
// releases each Event once it is encoded (Event.Release).
func BenchmarkDecodeStampRelease(b *testing.B) {
	d := benchDecoder()
	for _, name := range benchNames {
		value := benchEvents(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			src := Source{Topic: "events_raw", Partition: 1, Offset: 42}
			var dst []byte
			start := cpuTime(b)
			for b.Loop() {
				ev, err := d.Decode(value, src)
				if err != nil {
					b.Fatal(err)
				}
				dst = ev.AppendStamped(dst[:0], benchStamp)
				ev.Release()
			}
			reportCPU(b, start)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkDecodeStampFast is BenchmarkDecodeStampRelease with the
// Decoder options a pipeline that only stamps events, from record values it
// keeps unchanged, can use (Options.LazyProperties, Options.NoCopy).
func BenchmarkDecodeStampFast(b *testing.B) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	d := NewDecoder(Options{Now: func() time.Time { return now }, LazyProperties: true, NoCopy: true})
	for _, name := range benchNames {
		value := benchEvents(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			src := Source{Topic: "events_raw", Partition: 1, Offset: 42}
			var dst []byte
			start := cpuTime(b)
			for b.Loop() {
				ev, err := d.Decode(value, src)
				if err != nil {
					b.Fatal(err)
				}
				dst = ev.AppendStamped(dst[:0], benchStamp)
				ev.Release()
			}
			reportCPU(b, start)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
