package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/resolver-dev/resolver/pkg/event"
)

// The trusted team map of teams.file (docs/SEMANTICS.md §1): read at start by
// ToStream, and again on SIGHUP by watchTeams while `resolver run` runs.

// load reads teams.file into a new event.TeamMap; nil when no file is set.
// Any problem is a *FieldError naming teams.file and the file.
func (t TeamsConfig) load() (*event.TeamMap, error) {
	if t.File == "" {
		return nil, nil
	}
	entries, err := readTeamFile(t.File)
	if err != nil {
		return nil, &FieldError{Key: "teams.file", Value: t.File, Reason: err.Error()}
	}
	m, err := event.NewTeamMap(entries)
	if err != nil {
		return nil, &FieldError{Key: "teams.file", Value: t.File, Reason: err.Error()}
	}
	return m, nil
}

// readTeamFile reads a team map file: a JSON object (when the name ends in
// .json or the text starts with '{') or a YAML mapping, of token → team id,
// each a string or a decimal integer. The file is at most
// event.MaxTeamMapFileBytes; a repeated token is an error (the two entries
// may disagree). Validating the entries is event.TeamMap's job.
func readTeamFile(file string) (map[string]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, event.MaxTeamMapFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > event.MaxTeamMapFileBytes {
		return nil, fmt.Errorf("the file is over %d bytes (16 MiB), the limit of a team map", event.MaxTeamMapFileBytes)
	}
	if strings.EqualFold(filepath.Ext(file), ".json") || bytes.HasPrefix(bytes.TrimSpace(data), []byte("{")) {
		entries, err := parseTeamJSON(data)
		if err != nil {
			return nil, fmt.Errorf("read as JSON (the name ends in .json or the text starts with '{'): %w", err)
		}
		return entries, nil
	}
	return parseTeamYAML(data)
}

// parseTeamJSON reads a JSON object token → team id. encoding/json keeps
// the last of a repeated key silently, so the members are counted too, and
// when a token is repeated parseTeamJSONTokens finds which.
func parseTeamJSON(data []byte) (map[string]string, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return parseTeamJSONTokens(data) // says what is wrong, and where
	}
	if countMembers(data) != len(raw) {
		return parseTeamJSONTokens(data)
	}
	if len(raw) > event.MaxTeamMapEntries {
		return nil, fmt.Errorf("more than %d entries, the limit of a team map", event.MaxTeamMapEntries)
	}
	entries := make(map[string]string, len(raw))
	for token, v := range raw {
		id, err := teamIDOfJSON(token, v)
		if err != nil {
			return nil, err
		}
		entries[token] = id
	}
	return entries, nil
}

// teamIDOfJSON is a team id written in JSON: a string, or a decimal
// integer.
func teamIDOfJSON(token string, v json.RawMessage) (string, error) {
	if len(v) > 0 && v[0] == '"' {
		var id string
		if err := json.Unmarshal(v, &id); err != nil {
			return "", fmt.Errorf("token %s: %w", quoteToken(token), err)
		}
		return id, nil
	}
	if isDecimalInteger(string(v)) {
		return string(v), nil
	}
	if len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return "", fmt.Errorf("token %s: team id %s is not a string or a decimal integer", quoteToken(token), v)
	}
	return "", fmt.Errorf("token %s: the team id must be a string or a decimal integer", quoteToken(token))
}

// countMembers counts the members of the valid JSON object data: the
// colons outside strings at depth 1.
func countMembers(data []byte) int {
	n, depth, inString := 0, 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ':':
			if depth == 1 {
				n++
			}
		}
	}
	return n
}

// parseTeamJSONTokens is parseTeamJSON token by token: slower, but it sees
// a repeated token and says where a problem is.
func parseTeamJSONTokens(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		if err != nil {
			return nil, fmt.Errorf(`near byte %d: %w; want a JSON object of token → team id, like {"phc_abc": 1}`, dec.InputOffset(), err)
		}
		return nil, errors.New(`want a JSON object of token → team id, like {"phc_abc": 1}`)
	}
	entries := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("near byte %d: %w", dec.InputOffset(), err)
		}
		token := tok.(string) // object keys are strings
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("token %s: %w", quoteToken(token), err)
		}
		id, err := teamIDOfJSON(token, v)
		if err != nil {
			return nil, err
		}
		if err := addTeamEntry(entries, token, id); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("near byte %d: %w", dec.InputOffset(), err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("near byte %d: more after the object", dec.InputOffset())
	}
	return entries, nil
}

// parseTeamYAML reads a YAML mapping token → team id from its node tree, so
// that a repeated token, an alias or a non-scalar is an error.
func parseTeamYAML(data []byte) (map[string]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("want a YAML mapping of token → team id, like `phc_abc: 1`")
	}
	m := doc.Content[0]
	entries := make(map[string]string, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		token, ok := yamlTeamScalar(k)
		if !ok {
			return nil, fmt.Errorf("line %d: a token must be a string or a decimal integer", k.Line)
		}
		id, ok := yamlTeamScalar(v)
		if !ok {
			return nil, fmt.Errorf("line %d: token %s: the team id must be a string or a decimal integer", v.Line, quoteToken(token))
		}
		if err := addTeamEntry(entries, token, id); err != nil {
			return nil, fmt.Errorf("line %d: %w", k.Line, err)
		}
	}
	return entries, nil
}

// yamlTeamScalar is the text of a string scalar, or of an integer scalar
// written in decimal.
func yamlTeamScalar(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		return "", false
	}
	switch n.Tag {
	case "!!str":
		return n.Value, true
	case "!!int":
		return n.Value, isDecimalInteger(n.Value)
	}
	return "", false
}

func addTeamEntry(entries map[string]string, token, id string) error {
	if _, dup := entries[token]; dup {
		return fmt.Errorf("token %s is listed twice", quoteToken(token))
	}
	if len(entries) == event.MaxTeamMapEntries {
		return fmt.Errorf("more than %d entries, the limit of a team map", event.MaxTeamMapEntries)
	}
	entries[token] = id
	return nil
}

func isDecimalInteger(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// quoteToken quotes a token for a message, shortened.
func quoteToken(s string) string {
	if len(s) > 64 {
		return strconv.Quote(s[:64]) + "…"
	}
	return strconv.Quote(s)
}

// reloadTeams reads file into m. On any problem m keeps its entries and
// the error names the file and the problem.
func reloadTeams(file string, m *event.TeamMap) error {
	entries, err := readTeamFile(file)
	if err == nil {
		err = m.Replace(entries)
	}
	if err != nil {
		return fmt.Errorf("teams.file %s: %w", file, err)
	}
	return nil
}

// watchTeams reloads the team map m from file on every SIGHUP until the
// returned function is called (which stops it and waits for it). A file
// that cannot be read or is not a valid map is logged as an error naming
// the file and the problem, and the previous map stays in force. Without a
// map (m nil) SIGHUP is left alone.
func watchTeams(file string, m *event.TeamMap, log *zap.Logger) (stop func()) {
	if m == nil {
		return func() {}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ch:
				if err := reloadTeams(file, m); err != nil {
					log.Error("team map not reloaded; keeping the previous one", zap.String("file", file), zap.Int("entries", m.Len()), zap.Error(err))
					continue
				}
				log.Info("team map reloaded", zap.String("file", file), zap.Int("entries", m.Len()))
			case <-done:
				return
			}
		}
	})
	return func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
	}
}
