package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/resolver-dev/resolver/pkg/event"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestConfigIdentityAndTeams: identity.max_person_properties_bytes and
// teams.file are validated and reach the pipeline typed.
func TestConfigIdentityAndTeams(t *testing.T) {
	for _, tt := range []struct {
		name string
		edit func(*Config)
		msg  string
	}{
		{"properties cap too small", func(c *Config) { c.Identity.MaxPersonPropertiesBytes = 63 },
			`config: identity.max_person_properties_bytes: 63: must be between 64 and 16777216`},
		{"properties cap zero", func(c *Config) { c.Identity.MaxPersonPropertiesBytes = 0 },
			`config: identity.max_person_properties_bytes: 0: must be between 64 and 16777216`},
		{"properties cap too large", func(c *Config) { c.Identity.MaxPersonPropertiesBytes = 16<<20 + 1 },
			`config: identity.max_person_properties_bytes: 16777217: must be between 64 and 16777216`},
		{"teams file with a newline", func(c *Config) { c.Teams.File = "teams\n.yaml" },
			`config: teams.file: "teams\n.yaml": must not contain control characters`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := defaultConfigWith(tt.edit).Validate()
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.msg, err.Error())
		})
	}
	assert.Equal(t, 524288, defaultConfig().Identity.MaxPersonPropertiesBytes)
	assert.Equal(t, unionfind.DefaultMaxPersonPropertiesBytes, defaultConfig().Identity.MaxPersonPropertiesBytes)
	assert.Empty(t, defaultConfig().Teams.File)

	sc, err := defaultConfigWith(func(c *Config) { c.Identity.MaxPersonPropertiesBytes = 4096 }).ToStream()
	require.NoError(t, err)
	assert.Equal(t, 4096, sc.MaxPersonPropertiesBytes)
	assert.Nil(t, sc.Teams, "no teams.file: no map")

	file := writeFile(t, "teams.yaml", "phc_a: 1\nphc_b: \"2\"\n")
	sc, err = defaultConfigWith(func(c *Config) { c.Teams.File = file }).ToStream()
	require.NoError(t, err)
	require.NotNil(t, sc.Teams)
	id, ok := sc.Teams.Resolve("phc_b")
	assert.True(t, ok)
	assert.Equal(t, "2", id)
}

func TestReadTeamFile(t *testing.T) {
	for _, tt := range []struct {
		name, file, content string
		want                map[string]string
		err                 string
	}{
		{"yaml", "t.yaml", "# tokens of project 1\nphc_a: 1\nphc_b: '1'\n\"phc c\": team-x\n", map[string]string{"phc_a": "1", "phc_b": "1", "phc c": "team-x"}, ""},
		{"yaml integer token", "t.yaml", "42: 1\n", map[string]string{"42": "1"}, ""},
		{"json", "t.json", `{"phc_a": 1, "phc_b": "2", "phc_\u00e9": -3}`, map[string]string{"phc_a": "1", "phc_b": "2", "phc_é": "-3"}, ""},
		{"json by its first byte", "teams", ` {"phc_a": 1}`, map[string]string{"phc_a": "1"}, ""},
		{"a YAML flow mapping is read as JSON", "t.yaml", `{phc_a: 1}`, nil, "read as JSON (the name ends in .json or the text starts with '{'): near byte 1: invalid character 'p'"},
		{"json colons and quotes inside strings", "t.json", `{"a:b\"{": 1, "c": "x:[y"}`, map[string]string{"a:b\"{": "1", "c": "x:[y"}, ""},
		{"json repeated token", "t.json", `{"phc_a": 1, "phc_a": 2}`, nil, `token "phc_a" is listed twice`},
		{"yaml repeated token", "t.yaml", "phc_a: 1\nphc_a: 2\n", nil, `line 2: token "phc_a" is listed twice`},
		{"json fraction", "t.json", `{"phc_a": 1.5}`, nil, `token "phc_a": team id 1.5 is not a string or a decimal integer`},
		{"json object value", "t.json", `{"phc_a": {"id": 1}}`, nil, `token "phc_a": the team id must be a string or a decimal integer`},
		{"json array", "t.json", `["phc_a"]`, nil, "want a JSON object"},
		{"json trailing text", "t.json", `{"phc_a": 1} x`, nil, "more after the object"},
		{"json truncated", "t.json", `{"phc_a": 1,`, nil, "near byte"},
		{"yaml hex integer", "t.yaml", "phc_a: 0x1f\n", nil, "line 1: token \"phc_a\": the team id must be a string or a decimal integer"},
		{"yaml float", "t.yaml", "phc_a: 1.0\n", nil, "must be a string or a decimal integer"},
		{"yaml list value", "t.yaml", "phc_a: [1]\n", nil, "must be a string or a decimal integer"},
		{"yaml alias", "t.yaml", "phc_a: &x \"1\"\nphc_b: *x\n", nil, "line 2: token \"phc_b\": the team id must be a string or a decimal integer"},
		{"yaml list", "t.yaml", "- phc_a\n", nil, "want a YAML mapping"},
		{"empty", "t.yaml", "", nil, "want a YAML mapping"},
		{"not yaml", "t.yaml", "a: [\n", nil, "yaml:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readTeamFile(writeFile(t, tt.file, tt.content))
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := readTeamFile(filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestReadTeamFileBounds(t *testing.T) {
	big := writeFile(t, "big.json", `{"a":"`+strings.Repeat("x", event.MaxTeamMapFileBytes)+`"}`)
	_, err := readTeamFile(big)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "over 16777216 bytes (16 MiB)")

	var b strings.Builder
	b.WriteString("{")
	for i := range event.MaxTeamMapEntries + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%d":1`, i)
	}
	b.WriteString("}")
	require.Less(t, b.Len(), event.MaxTeamMapFileBytes)
	_, err = readTeamFile(writeFile(t, "many.json", b.String()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than 1048576 entries")
}

// TestTeamsFileErrorAtStart: a bad teams.file is a config error naming the
// key and the file, not a pipeline failure later.
func TestTeamsFileErrorAtStart(t *testing.T) {
	for name, content := range map[string]string{
		"unreadable":            "",
		"not a mapping":         "- a\n",
		"control in a token":    "\"phc\\u0001\": 1\n",
		"token is another's id": "a: b\nb: c\n",
		"no entries":            "{}",
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "missing.yaml")
			if name != "unreadable" {
				file = writeFile(t, "teams.yaml", content)
			}
			_, err := defaultConfigWith(func(c *Config) { c.Teams.File = file }).ToStream()
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, "teams.file", fe.Key)
			assert.Equal(t, file, fe.Value)
			assert.True(t, strings.HasPrefix(err.Error(), "config: teams.file: "), err.Error())
		})
	}
}

// TestWatchTeamsReloadsOnSIGHUP: SIGHUP reloads teams.file; a bad file on
// reload is logged naming the file and the problem, and the previous map
// stays in force. Signals go to this test process, whose SIGHUP handler
// watchTeams installs.
func TestWatchTeamsReloadsOnSIGHUP(t *testing.T) {
	file := writeFile(t, "teams.yaml", "phc_a: 1\n")
	m, err := TeamsConfig{File: file}.load()
	require.NoError(t, err)
	core, logs := observer.New(zapcore.InfoLevel)
	stop := watchTeams(file, m, zap.New(core))
	defer stop()

	resolves := func(team, want string) func() bool {
		return func() bool {
			id, ok := m.Resolve(team)
			return ok && id == want
		}
	}
	require.True(t, resolves("phc_a", "1")())

	// A good file: the new map, at once for every decoder holding m.
	require.NoError(t, os.WriteFile(file, []byte("phc_a: 2\nphc_new: 3\n"), 0o600))
	kill(t, syscall.SIGHUP)
	wait(t, 10*time.Second, "the reloaded map", resolves("phc_new", "3"))
	assert.True(t, resolves("phc_a", "2")())
	wait(t, 5*time.Second, "the reload log line", func() bool { return logs.FilterMessage("team map reloaded").Len() == 1 })

	// A bad file: logged with the file and the problem; the map stays.
	require.NoError(t, os.WriteFile(file, []byte("phc_a: 2\nphc_a: 4\n"), 0o600))
	kill(t, syscall.SIGHUP)
	wait(t, 10*time.Second, "the reload error", func() bool { return logs.FilterMessage("team map not reloaded; keeping the previous one").Len() == 1 })
	entry := logs.FilterMessage("team map not reloaded; keeping the previous one").All()[0]
	assert.Equal(t, zapcore.ErrorLevel, entry.Level)
	fields := entry.ContextMap()
	assert.Equal(t, file, fields["file"])
	assert.Contains(t, fields["error"], "teams.file "+file)
	assert.Contains(t, fields["error"], `line 2: token "phc_a" is listed twice`)
	assert.True(t, resolves("phc_new", "3")(), "the previous map stays in force")

	// An invalid map (a token that is another token's team id) likewise.
	require.NoError(t, os.WriteFile(file, []byte("a: b\nb: c\n"), 0o600))
	kill(t, syscall.SIGHUP)
	wait(t, 10*time.Second, "the second reload error", func() bool { return logs.FilterMessage("team map not reloaded; keeping the previous one").Len() == 2 })
	assert.True(t, errors.Is(reloadTeams(file, m), event.ErrInvalidTeamMap))
	assert.True(t, resolves("phc_new", "3")())

	// Removed: also kept.
	require.NoError(t, os.Remove(file))
	assert.ErrorIs(t, reloadTeams(file, m), os.ErrNotExist)
	assert.True(t, resolves("phc_a", "2")())
}
