package event

import (
	"bufio"
	"bytes"
	"os"
	"testing"
	"time"
)

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
	PersonID:         "246f7a43-5507-564f-b687-793ee3c2dd79",
	PersonCreatedAt:  time.Date(2026, 11, 28, 9, 15, 2, 114_000_000, time.UTC),
	PersonProperties: []byte(`{"email":"ana@example.com","plan":"pro"}`),
	PersonMode:       "propertyless",
	BillingClass:     "anonymous",
}

func benchDecoder() *Decoder {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	return NewDecoder(Options{Now: func() time.Time { return now }})
}

// benchEvents are the first line of the sample (a posthog-js $pageview,
// 679 bytes, 16 properties) and its envelope line.
func benchEvents(b *testing.B) map[string][]byte {
	lines := sampleLines(b)
	return map[string][]byte{"pageview": lines[0], "envelope": lines[3], "identify": lines[1]}
}

func BenchmarkDecode(b *testing.B) {
	d := benchDecoder()
	for _, name := range []string{"pageview", "identify", "envelope"} {
		value := benchEvents(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			src := Source{Topic: "events_raw", Partition: 1, Offset: 42}
			for b.Loop() {
				if _, err := d.Decode(value, src); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func BenchmarkDecodeStamp(b *testing.B) {
	d := benchDecoder()
	for _, name := range []string{"pageview", "identify", "envelope"} {
		value := benchEvents(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			src := Source{Topic: "events_raw", Partition: 1, Offset: 42}
			var dst []byte
			for b.Loop() {
				ev, err := d.Decode(value, src)
				if err != nil {
					b.Fatal(err)
				}
				dst = ev.AppendStamped(dst[:0], benchStamp)
			}
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
	for b.Loop() {
		dst = e.AppendStamped(dst[:0], benchStamp)
	}
}

// BenchmarkDecodeStampRelease is BenchmarkDecodeStamp for a caller that
// releases each Event once it is encoded (Event.Release).
func BenchmarkDecodeStampRelease(b *testing.B) {
	d := benchDecoder()
	for _, name := range []string{"pageview", "identify", "envelope"} {
		value := benchEvents(b)[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			src := Source{Topic: "events_raw", Partition: 1, Offset: 42}
			var dst []byte
			for b.Loop() {
				ev, err := d.Decode(value, src)
				if err != nil {
					b.Fatal(err)
				}
				dst = ev.AppendStamped(dst[:0], benchStamp)
				ev.Release()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
