package stream

import (
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestParseCompression(t *testing.T) {
	want := map[string]kgo.CompressionCodec{
		"":       kgo.SnappyCompression(),
		"none":   kgo.NoCompression(),
		"snappy": kgo.SnappyCompression(),
		"lz4":    kgo.Lz4Compression(),
		"zstd":   kgo.ZstdCompression(),
		"gzip":   kgo.GzipCompression(),
	}
	for _, name := range append([]string{""}, Compressions...) {
		got, err := ParseCompression(name)
		if err != nil {
			t.Fatalf("ParseCompression(%q): %v", name, err)
		}
		if !reflect.DeepEqual(got, want[name]) {
			t.Fatalf("ParseCompression(%q) = %+v, want %+v", name, got, want[name])
		}
	}
	if len(want) != len(Compressions)+1 {
		t.Fatalf("Compressions %v and the table disagree", Compressions)
	}
	_, err := ParseCompression("Snappy")
	if err == nil || !strings.Contains(err.Error(), `"Snappy"`) {
		t.Fatalf("ParseCompression(Snappy) = %v, want an error naming the value", err)
	}
}
