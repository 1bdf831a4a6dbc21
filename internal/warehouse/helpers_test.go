package warehouse

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// repoRoot is the directory of go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test's directory")
		dir = parent
	}
}

// jsonFields returns the JSON names of v's struct fields, sorted.
func jsonFields(v any) []string {
	var out []string
	rt := reflect.TypeOf(v)
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// resolverYAML is configs/resolver.yaml.
func resolverYAML(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "configs", "resolver.yaml"))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, yaml.Unmarshal(b, &m))
	return m
}

// configKeys flattens configs/resolver.yaml to its dotted leaf keys:
// kafka.embedded.listen, topics.raw, ….
func configKeys(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			if sub, ok := v.(map[string]any); ok {
				walk(prefix+k+".", sub)
				continue
			}
			out[prefix+k] = v
		}
	}
	walk("", resolverYAML(t))
	require.NotEmpty(t, out)
	return out
}

// topicNames are the topics section of configs/resolver.yaml: key → name
// (topics.prefix, the prefix of them all, is no topic).
func topicNames(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range configKeys(t) {
		if name, ok := strings.CutPrefix(k, "topics."); ok && name != "prefix" {
			s, isStr := v.(string)
			require.True(t, isStr, "topics.%s is not a string", name)
			out[name] = s
		}
	}
	require.Len(t, out, 11, "configs/resolver.yaml has eleven topics")
	return out
}
