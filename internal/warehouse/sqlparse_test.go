package warehouse

import (
	"fmt"
	"strings"
	"unicode"
)

// This file is a small tokenizer and statement reader for the ClickHouse
// SQL in configs/clickhouse: enough to check the files' shape (balanced
// parentheses, every statement ends with ';', every CREATE names its
// object) and to read out what the other tests compare (tables and their
// columns, engines, settings, the select lists of views, the functions).
// It is not a ClickHouse parser: it accepts the subset these files use and
// reports anything else as an error, so a file that grows past it fails
// loudly rather than being checked halfway.

type tokKind uint8

const (
	tokIdent  tokKind = iota + 1 // bare, `quoted` or "quoted"
	tokNumber                    // 123, 0x0F, 1.5
	tokString                    // '...', value unescaped
	tokPunct                     // ( ) , ; . = + - * / % < > ! and -> != <= >= ||
)

type token struct {
	kind tokKind
	text string // identifier or string value, number or punctuation as written
	line int
}

func (t token) String() string { return fmt.Sprintf("%q (line %d)", t.text, t.line) }

// is reports whether t is the keyword or punctuation s (keywords match
// case-insensitively; quoted identifiers are never keywords).
func (t token) is(s string) bool {
	if t.kind == tokPunct {
		return t.text == s
	}
	return t.kind == tokIdent && strings.EqualFold(t.text, s)
}

// sqlFile is a tokenized file: its tokens and whether it opens with a
// comment before any statement.
type sqlFile struct {
	tokens         []token
	leadingComment string
}

// tokenize splits src into tokens, dropping comments (-- to the end of the
// line, /* … */ not nested).
func tokenize(src string) (sqlFile, error) {
	var f sqlFile
	line := 1
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case strings.HasPrefix(src[i:], "--"):
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				end = len(src) - i
			}
			if len(f.tokens) == 0 {
				f.leadingComment += strings.TrimSpace(strings.TrimPrefix(src[i:i+end], "--")) + "\n"
			}
			i += end
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				return f, fmt.Errorf("line %d: unterminated /* comment", line)
			}
			body := src[i+2 : i+2+end]
			if len(f.tokens) == 0 {
				f.leadingComment += strings.TrimSpace(body) + "\n"
			}
			line += strings.Count(body, "\n")
			i += end + 4
		case c == '\'':
			var b strings.Builder
			startLine := line
			j, closed := i+1, false
			for j < len(src) && !closed {
				switch {
				case src[j] == '\\' && j+1 < len(src):
					b.WriteByte(unescape(src[j+1]))
					j += 2
				case src[j] == '\'' && j+1 < len(src) && src[j+1] == '\'':
					b.WriteByte('\'')
					j += 2
				case src[j] == '\'':
					closed = true
					j++
				default:
					if src[j] == '\n' {
						line++
					}
					b.WriteByte(src[j])
					j++
				}
			}
			if !closed {
				return f, fmt.Errorf("line %d: unterminated string", startLine)
			}
			f.tokens = append(f.tokens, token{tokString, b.String(), startLine})
			i = j
		case c == '`' || c == '"':
			end := strings.IndexByte(src[i+1:], c)
			if end < 0 || strings.Contains(src[i+1:i+1+end], "\n") {
				return f, fmt.Errorf("line %d: unterminated quoted identifier", line)
			}
			f.tokens = append(f.tokens, token{tokIdent, src[i+1 : i+1+end], line})
			i += end + 2
		case c == '_' || unicode.IsLetter(rune(c)):
			j := i
			for j < len(src) && (src[j] == '_' || src[j] == '$' || unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j]))) {
				j++
			}
			f.tokens = append(f.tokens, token{tokIdent, src[i:j], line})
			i = j
		case unicode.IsDigit(rune(c)):
			j := i
			for j < len(src) && (unicode.IsDigit(rune(src[j])) || unicode.IsLetter(rune(src[j])) || src[j] == '.') {
				j++
			}
			f.tokens = append(f.tokens, token{tokNumber, src[i:j], line})
			i = j
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch {
			case two == "->" || two == "!=" || two == "<=" || two == ">=" || two == "||" || two == "<>":
				f.tokens = append(f.tokens, token{tokPunct, two, line})
				i += 2
			case strings.IndexByte("(),;.=+-*/%<>![]:{}", c) >= 0:
				f.tokens = append(f.tokens, token{tokPunct, string(c), line})
				i++
			default:
				return f, fmt.Errorf("line %d: unexpected character %q", line, c)
			}
		}
	}
	return f, nil
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case '0':
		return 0
	}
	return c
}

// splitStatements checks parentheses and brackets and splits the tokens at
// top-level ';'. Every statement must end with ';'.
func splitStatements(toks []token) ([][]token, error) {
	var out [][]token
	var stack []token
	start := 0
	for i, t := range toks {
		if t.kind != tokPunct {
			continue
		}
		switch t.text {
		case "(", "[", "{":
			stack = append(stack, t)
		case ")", "]", "}":
			open := map[string]string{")": "(", "]": "[", "}": "{"}[t.text]
			if len(stack) == 0 || stack[len(stack)-1].text != open {
				return nil, fmt.Errorf("unbalanced %s", t)
			}
			stack = stack[:len(stack)-1]
		case ";":
			if len(stack) > 0 {
				return nil, fmt.Errorf("';' %s inside %s opened at line %d", t, stack[len(stack)-1].text, stack[len(stack)-1].line)
			}
			if i == start {
				return nil, fmt.Errorf("empty statement at %s", t)
			}
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("%s never closed", stack[len(stack)-1])
	}
	if start < len(toks) {
		return nil, fmt.Errorf("statement starting at %s does not end with ';'", toks[start])
	}
	return out, nil
}

// column is one column of a CREATE TABLE.
type column struct {
	name string
	typ  string // the type as written, tokens joined: "DateTime64(3,'UTC')"
}

// stmt is one CREATE statement.
type stmt struct {
	kind        string // "DATABASE", "TABLE", "MATERIALIZED VIEW", "VIEW", "FUNCTION"
	name        string // as written: resolver.events
	ifNotExists bool
	line        int

	// TABLE
	columns  []column
	engine   string   // Kafka, MergeTree, ReplacingMergeTree
	engArgs  []string // the engine's arguments, each joined
	orderBy  string   // joined, e.g. "(team,id)"
	settings map[string]string

	// MATERIALIZED VIEW and VIEW
	to         string   // TO target (materialized views)
	selectCols []string // output names of the outer SELECT
	from       string   // first table after the outer FROM, or "(subquery)"
	refs       []string // every db.table named in the statement
	body       []token  // the tokens after AS

	// FUNCTION
	params []string
}

// parseCreate reads one statement, which must be a CREATE.
func parseCreate(toks []token) (stmt, error) {
	p := &tokReader{toks: toks}
	s := stmt{line: toks[0].line}
	if !p.accept("CREATE") {
		return s, fmt.Errorf("statement at %s is not a CREATE", toks[0])
	}
	for _, t := range toks[1:] {
		if t.is("CREATE") {
			return s, fmt.Errorf("CREATE at %s inside the statement of line %d: a ';' missing before it", t, s.line)
		}
	}
	if p.accept("OR") {
		if !p.accept("REPLACE") {
			return s, fmt.Errorf("line %d: OR without REPLACE", s.line)
		}
	}
	switch {
	case p.accept("DATABASE"):
		s.kind = "DATABASE"
	case p.accept("TABLE"):
		s.kind = "TABLE"
	case p.accept("MATERIALIZED"):
		if !p.accept("VIEW") {
			return s, fmt.Errorf("line %d: MATERIALIZED without VIEW", s.line)
		}
		s.kind = "MATERIALIZED VIEW"
	case p.accept("VIEW"):
		s.kind = "VIEW"
	case p.accept("FUNCTION"):
		s.kind = "FUNCTION"
	default:
		return s, fmt.Errorf("line %d: CREATE of something other than DATABASE, TABLE, VIEW, MATERIALIZED VIEW or FUNCTION: %s", s.line, p.peek())
	}
	if p.accept("IF") {
		if !p.accept("NOT") || !p.accept("EXISTS") {
			return s, fmt.Errorf("line %d: IF without NOT EXISTS", s.line)
		}
		s.ifNotExists = true
	}
	name, err := p.qualifiedName()
	if err != nil {
		return s, fmt.Errorf("line %d: CREATE %s names nothing: %w", s.line, s.kind, err)
	}
	s.name = name
	switch s.kind {
	case "DATABASE":
		if !p.done() {
			return s, fmt.Errorf("line %d: unexpected %s after the database name", s.line, p.peek())
		}
	case "TABLE":
		err = p.tableBody(&s)
	case "MATERIALIZED VIEW", "VIEW":
		err = p.viewBody(&s)
	case "FUNCTION":
		err = p.functionBody(&s)
	}
	return s, err
}

type tokReader struct {
	toks []token
	i    int
}

func (p *tokReader) done() bool { return p.i >= len(p.toks) }

func (p *tokReader) peek() token {
	if p.done() {
		return token{text: "<end>"}
	}
	return p.toks[p.i]
}

func (p *tokReader) accept(s string) bool {
	if !p.done() && p.toks[p.i].is(s) {
		p.i++
		return true
	}
	return false
}

func (p *tokReader) expect(s string) error {
	if !p.accept(s) {
		return fmt.Errorf("expected %q, found %s", s, p.peek())
	}
	return nil
}

func (p *tokReader) ident() (string, error) {
	t := p.peek()
	if t.kind != tokIdent {
		return "", fmt.Errorf("expected a name, found %s", t)
	}
	p.i++
	return t.text, nil
}

func (p *tokReader) qualifiedName() (string, error) {
	n, err := p.ident()
	if err != nil {
		return "", err
	}
	if p.accept(".") {
		m, err := p.ident()
		if err != nil {
			return "", err
		}
		n += "." + m
	}
	return n, nil
}

// group returns the tokens from an opening '(' to its match, exclusive,
// and moves past the ')'.
func (p *tokReader) group() ([]token, error) {
	if err := p.expect("("); err != nil {
		return nil, err
	}
	start, depth := p.i, 1
	for ; !p.done(); p.i++ {
		switch t := p.toks[p.i]; {
		case t.is("("):
			depth++
		case t.is(")"):
			depth--
			if depth == 0 {
				g := p.toks[start:p.i]
				p.i++
				return g, nil
			}
		}
	}
	return nil, fmt.Errorf("unclosed '('")
}

// splitTop splits toks at commas outside parentheses.
func splitTop(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		switch {
		case t.is("(") || t.is("["):
			depth++
		case t.is(")") || t.is("]"):
			depth--
		case t.is(",") && depth == 0:
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	if start < len(toks) {
		out = append(out, toks[start:])
	}
	return out
}

func join(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tokString {
			b.WriteString("'" + t.text + "'")
		} else {
			b.WriteString(t.text)
		}
	}
	return b.String()
}

var tableClauses = []string{"ENGINE", "PARTITION", "ORDER", "PRIMARY", "SAMPLE", "TTL", "SETTINGS", "COMMENT"}

func isClause(t token) bool {
	for _, c := range tableClauses {
		if t.is(c) {
			return true
		}
	}
	return false
}

// tableBody reads (columns) ENGINE = X(args) and the clauses after it.
func (p *tokReader) tableBody(s *stmt) error {
	cols, err := p.group()
	if err != nil {
		return fmt.Errorf("line %d: %s: column list: %w", s.line, s.name, err)
	}
	for _, c := range splitTop(cols) {
		if len(c) < 2 || c[0].kind != tokIdent {
			return fmt.Errorf("line %d: %s: column %q has no name and type", s.line, s.name, join(c))
		}
		// The type ends at DEFAULT, MATERIALIZED, ALIAS, CODEC or COMMENT.
		typ := c[1:]
		for j, t := range typ {
			if t.is("DEFAULT") || t.is("MATERIALIZED") || t.is("ALIAS") || t.is("CODEC") || t.is("COMMENT") {
				typ = typ[:j]
				break
			}
		}
		s.columns = append(s.columns, column{name: c[0].text, typ: join(typ)})
	}
	if err := p.expect("ENGINE"); err != nil {
		return fmt.Errorf("line %d: %s: %w", s.line, s.name, err)
	}
	if err := p.expect("="); err != nil {
		return fmt.Errorf("line %d: %s: %w", s.line, s.name, err)
	}
	if s.engine, err = p.ident(); err != nil {
		return fmt.Errorf("line %d: %s: engine: %w", s.line, s.name, err)
	}
	if p.peek().is("(") {
		args, err := p.group()
		if err != nil {
			return fmt.Errorf("line %d: %s: engine arguments: %w", s.line, s.name, err)
		}
		for _, a := range splitTop(args) {
			s.engArgs = append(s.engArgs, join(a))
		}
	}
	for !p.done() {
		t := p.peek()
		if !isClause(t) {
			return fmt.Errorf("line %d: %s: unexpected %s", s.line, s.name, t)
		}
		p.i++
		start := p.i
		for !p.done() && !isClause(p.peek()) {
			p.i++
		}
		clause := p.toks[start:p.i]
		switch {
		case t.is("ORDER"):
			if len(clause) < 2 || !clause[0].is("BY") {
				return fmt.Errorf("line %d: %s: ORDER without BY", s.line, s.name)
			}
			s.orderBy = join(clause[1:])
		case t.is("PARTITION") || t.is("PRIMARY") || t.is("SAMPLE"):
			if len(clause) < 2 || !clause[0].is("BY") && !clause[0].is("KEY") {
				return fmt.Errorf("line %d: %s: %s without BY/KEY", s.line, s.name, t.text)
			}
		case t.is("SETTINGS"):
			s.settings = map[string]string{}
			for _, kv := range splitTop(clause) {
				if len(kv) != 3 || kv[0].kind != tokIdent || !kv[1].is("=") || (kv[2].kind != tokString && kv[2].kind != tokNumber) {
					return fmt.Errorf("line %d: %s: setting %q is not name = literal", s.line, s.name, join(kv))
				}
				if _, dup := s.settings[kv[0].text]; dup {
					return fmt.Errorf("line %d: %s: setting %s twice", s.line, s.name, kv[0].text)
				}
				s.settings[kv[0].text] = kv[2].text
			}
		}
	}
	return nil
}

// viewBody reads [TO target] AS SELECT … and records the outer select list,
// the first FROM table and every qualified table name mentioned.
func (p *tokReader) viewBody(s *stmt) error {
	if p.accept("TO") {
		to, err := p.qualifiedName()
		if err != nil {
			return fmt.Errorf("line %d: %s: TO: %w", s.line, s.name, err)
		}
		s.to = to
	}
	if err := p.expect("AS"); err != nil {
		return fmt.Errorf("line %d: %s: %w", s.line, s.name, err)
	}
	s.body = p.toks[p.i:]
	if err := p.expect("SELECT"); err != nil {
		return fmt.Errorf("line %d: %s: %w", s.line, s.name, err)
	}
	start, depth := p.i, 0
	for ; !p.done(); p.i++ {
		t := p.toks[p.i]
		if t.is("(") {
			depth++
		} else if t.is(")") {
			depth--
		} else if depth == 0 && t.is("FROM") {
			break
		}
	}
	if p.done() {
		return fmt.Errorf("line %d: %s: SELECT without FROM", s.line, s.name)
	}
	for _, item := range splitTop(p.toks[start:p.i]) {
		n := len(item)
		switch {
		case n >= 3 && item[n-2].is("AS") && item[n-1].kind == tokIdent:
			s.selectCols = append(s.selectCols, item[n-1].text)
		case n == 1 && item[0].kind == tokIdent:
			s.selectCols = append(s.selectCols, item[0].text)
		default:
			return fmt.Errorf("line %d: %s: select item %q needs a name (AS alias)", s.line, s.name, join(item))
		}
	}
	p.i++ // FROM
	if p.peek().is("(") {
		s.from = "(subquery)"
	} else {
		from, err := p.qualifiedName()
		if err != nil {
			return fmt.Errorf("line %d: %s: FROM: %w", s.line, s.name, err)
		}
		s.from = from
	}
	for i := 0; i+2 < len(s.body); i++ {
		if s.body[i].kind == tokIdent && s.body[i+1].is(".") && s.body[i+2].kind == tokIdent && s.body[i].text == "resolver" {
			s.refs = append(s.refs, "resolver."+s.body[i+2].text)
		}
	}
	return nil
}

// functionBody reads AS (params) -> body.
func (p *tokReader) functionBody(s *stmt) error {
	if err := p.expect("AS"); err != nil {
		return fmt.Errorf("line %d: %s: %w", s.line, s.name, err)
	}
	params, err := p.group()
	if err != nil {
		return fmt.Errorf("line %d: %s: parameters: %w", s.line, s.name, err)
	}
	for _, prm := range splitTop(params) {
		if len(prm) != 1 || prm[0].kind != tokIdent {
			return fmt.Errorf("line %d: %s: parameter %q is not a name", s.line, s.name, join(prm))
		}
		s.params = append(s.params, prm[0].text)
	}
	if err := p.expect("->"); err != nil {
		return fmt.Errorf("line %d: %s: %w", s.line, s.name, err)
	}
	s.body = p.toks[p.i:]
	if len(s.body) == 0 {
		return fmt.Errorf("line %d: %s: empty body", s.line, s.name)
	}
	return nil
}
