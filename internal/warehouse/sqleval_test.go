package warehouse

import (
	"crypto/sha1" // UUIDv5 is defined on SHA-1
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// This file evaluates the bodies of the SQL user-defined functions in
// configs/clickhouse/01_functions.sql with a Go model of the ClickHouse
// functions they call, so that a test can compare what the SQL computes
// with unionfind.ImplicitPersonID; and the bill's arithmetic and delta
// filter of 11_billing_usage.sql, compared with package billing. Only the functions those bodies use are
// modelled, each as ClickHouse documents it: substring and position count
// from 1, hex writes upper-case digits, SHA1 returns the 20 raw bytes,
// UUIDStringToNum the 16 bytes of a UUID in text order. Anything else is an
// error, so a body that calls a new function fails the test until the model
// knows it.

// sqlValue is a String (raw bytes), an integer, or an Array(String).
type sqlValue struct {
	s     string
	n     int64
	isNum bool
	arr   []string
	isArr bool
}

func strs(a ...string) sqlValue { return sqlValue{arr: a, isArr: true} }

func str(s string) sqlValue { return sqlValue{s: s} }
func num(n int64) sqlValue  { return sqlValue{n: n, isNum: true} }

func (v sqlValue) String() string {
	if v.isArr {
		return fmt.Sprintf("%q", v.arr)
	}
	if v.isNum {
		return strconv.FormatInt(v.n, 10)
	}
	return strconv.Quote(v.s)
}

// udf is a SQL user-defined function: parameters and body.
type udf struct {
	params []string
	body   []token
}

// evaluator evaluates expressions; vars are the parameters in scope.
type evaluator struct {
	udfs map[string]udf
	vars map[string]sqlValue
	toks []token
	i    int
	// calls counts the ClickHouse functions called, by name.
	calls map[string]int
}

// call evaluates the user-defined function name with args.
func (e *evaluator) call(name string, args []sqlValue) (sqlValue, error) {
	f, ok := e.udfs[name]
	if !ok {
		return sqlValue{}, fmt.Errorf("no function %s", name)
	}
	if len(args) != len(f.params) {
		return sqlValue{}, fmt.Errorf("%s takes %d arguments, got %d", name, len(f.params), len(args))
	}
	inner := &evaluator{udfs: e.udfs, vars: map[string]sqlValue{}, toks: f.body, calls: e.calls}
	for i, p := range f.params {
		inner.vars[p] = args[i]
	}
	v, err := inner.expr()
	if err != nil {
		return v, fmt.Errorf("%s: %w", name, err)
	}
	if inner.i != len(inner.toks) {
		return v, fmt.Errorf("%s: unexpected %s after the expression", name, inner.toks[inner.i])
	}
	return v, nil
}

func (e *evaluator) peek() token {
	if e.i >= len(e.toks) {
		return token{text: "<end>"}
	}
	return e.toks[e.i]
}

// expr := and ('OR' and)*; booleans are the numbers 1 and 0, as in
// ClickHouse.
func (e *evaluator) expr() (sqlValue, error) {
	v, err := e.and()
	for err == nil && e.peek().is("OR") {
		e.i++
		var w sqlValue
		if w, err = e.and(); err == nil {
			v = boolean(truthy(v) || truthy(w))
		}
	}
	return v, err
}

// and := not ('AND' not)*
func (e *evaluator) and() (sqlValue, error) {
	v, err := e.not()
	for err == nil && e.peek().is("AND") {
		e.i++
		var w sqlValue
		if w, err = e.not(); err == nil {
			v = boolean(truthy(v) && truthy(w))
		}
	}
	return v, err
}

// not := 'NOT' not | cmp
func (e *evaluator) not() (sqlValue, error) {
	if e.peek().is("NOT") {
		e.i++
		v, err := e.not()
		return boolean(!truthy(v)), err
	}
	return e.cmp()
}

func truthy(v sqlValue) bool { return v.isNum && v.n != 0 }

func boolean(b bool) sqlValue {
	if b {
		return num(1)
	}
	return num(0)
}

// compareValues orders two numbers, or two strings bytewise.
func compareValues(a, b sqlValue) (int, error) {
	if a.isNum != b.isNum {
		return 0, fmt.Errorf("%s and %s: comparing a number with a string", a, b)
	}
	if a.isNum {
		return cmpInt(a.n, b.n), nil
	}
	return strings.Compare(a.s, b.s), nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmp := sum (('=' | '!=' | '<' | '<=' | '>' | '>=') sum | 'IN' '(' sum (',' sum)* ')')?
func (e *evaluator) cmp() (sqlValue, error) {
	v, err := e.sum()
	if err != nil {
		return v, err
	}
	op := e.peek()
	switch {
	case op.is("IN"):
		e.i++
		if !e.peek().is("(") {
			return v, fmt.Errorf("IN without a list at %s", e.peek())
		}
		e.i++
		found := false
		for {
			w, err := e.sum()
			if err != nil {
				return v, err
			}
			c, err := compareValues(v, w)
			if err != nil {
				return v, err
			}
			found = found || c == 0
			if e.peek().is(")") {
				e.i++
				return boolean(found), nil
			}
			if !e.peek().is(",") {
				return v, fmt.Errorf("expected ',' or ')' in an IN list, found %s", e.peek())
			}
			e.i++
		}
	case op.kind == tokPunct && (op.text == "=" || op.text == "!=" || op.text == "<>" || op.text == "<" || op.text == "<=" || op.text == ">" || op.text == ">="):
		e.i++
		w, err := e.sum()
		if err != nil {
			return v, err
		}
		c, err := compareValues(v, w)
		if err != nil {
			return v, err
		}
		switch op.text {
		case "=":
			return boolean(c == 0), nil
		case "!=", "<>":
			return boolean(c != 0), nil
		case "<":
			return boolean(c < 0), nil
		case "<=":
			return boolean(c <= 0), nil
		case ">":
			return boolean(c > 0), nil
		default:
			return boolean(c >= 0), nil
		}
	}
	return v, nil
}

// sum := term (('+' | '-') term)*
func (e *evaluator) sum() (sqlValue, error) {
	v, err := e.term()
	for err == nil && (e.peek().is("+") || e.peek().is("-")) {
		op := e.peek().text
		e.i++
		var w sqlValue
		if w, err = e.term(); err != nil {
			break
		}
		if !v.isNum || !w.isNum {
			return v, fmt.Errorf("%s %s %s: arithmetic on a string", v, op, w)
		}
		if op == "+" {
			v = num(v.n + w.n)
		} else {
			v = num(v.n - w.n)
		}
	}
	return v, err
}

// term := factor (('*' | '%') factor)*
func (e *evaluator) term() (sqlValue, error) {
	v, err := e.factor()
	for err == nil && (e.peek().is("*") || e.peek().is("%")) {
		op := e.peek().text
		e.i++
		var w sqlValue
		if w, err = e.factor(); err != nil {
			break
		}
		if !v.isNum || !w.isNum {
			return v, fmt.Errorf("%s %s %s: arithmetic on a string", v, op, w)
		}
		if op == "*" {
			v = num(v.n * w.n)
		} else {
			if w.n == 0 {
				return v, fmt.Errorf("modulo by zero")
			}
			v = num(v.n % w.n)
		}
	}
	return v, err
}

// factor := primary ('[' expr ']')?: arr[i] counts from 1, and an index
// out of the array (0 among them: indexOf's "absent") is the element
// type's default, the empty string — ClickHouse's rule for a non-constant array.
func (e *evaluator) factor() (sqlValue, error) {
	v, err := e.primary()
	if err != nil || !e.peek().is("[") {
		return v, err
	}
	e.i++
	i, err := e.expr()
	if err != nil {
		return v, err
	}
	if !e.peek().is("]") {
		return v, fmt.Errorf("expected ']', found %s", e.peek())
	}
	e.i++
	if !v.isArr || !i.isNum {
		return v, fmt.Errorf("%s[%s]: an array and a number", v, i)
	}
	if i.n < 1 || i.n > int64(len(v.arr)) {
		return str(""), nil
	}
	return str(v.arr[i.n-1]), nil
}

// primary := number | string | name | name '(' args ')' | '(' expr ')'
func (e *evaluator) primary() (sqlValue, error) {
	t := e.peek()
	e.i++
	switch {
	case t.kind == tokNumber:
		n, err := strconv.ParseInt(t.text, 0, 64)
		return num(n), err
	case t.kind == tokString:
		return str(t.text), nil
	case t.is("("):
		v, err := e.expr()
		if err != nil {
			return v, err
		}
		if !e.peek().is(")") {
			return v, fmt.Errorf("expected ')', found %s", e.peek())
		}
		e.i++
		return v, nil
	case t.kind == tokIdent && e.peek().is("("):
		e.i++
		var args []sqlValue
		for !e.peek().is(")") {
			a, err := e.expr()
			if err != nil {
				return a, err
			}
			args = append(args, a)
			if e.peek().is(",") {
				e.i++
			} else if !e.peek().is(")") {
				return a, fmt.Errorf("expected ',' or ')' in the arguments of %s, found %s", t.text, e.peek())
			}
		}
		e.i++
		return e.apply(t.text, args)
	case t.kind == tokIdent:
		name := t.text
		if e.peek().is(".") && e.i+1 < len(e.toks) && e.toks[e.i+1].kind == tokIdent { // alias.column
			name += "." + e.toks[e.i+1].text
			e.i += 2
		}
		v, ok := e.vars[name]
		if !ok {
			return v, fmt.Errorf("unknown name %s at %s", name, t)
		}
		return v, nil
	}
	return sqlValue{}, fmt.Errorf("unexpected %s", t)
}

// apply calls a ClickHouse function (as modelled) or a user-defined one.
func (e *evaluator) apply(name string, args []sqlValue) (sqlValue, error) {
	if _, ok := e.udfs[name]; ok {
		return e.call(name, args)
	}
	e.calls[name]++
	want := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s takes %d arguments, got %d", name, n, len(args))
		}
		return nil
	}
	strArg := func(i int) (string, error) {
		if args[i].isArr {
			return "", fmt.Errorf("%s: argument %d is an array, not a string", name, i+1)
		}
		if args[i].isNum {
			return "", fmt.Errorf("%s: argument %d is a number, not a string", name, i+1)
		}
		return args[i].s, nil
	}
	switch name {
	case "concat":
		var b strings.Builder
		for i := range args {
			s, err := strArg(i)
			if err != nil {
				return sqlValue{}, err
			}
			b.WriteString(s)
		}
		return str(b.String()), nil
	case "substring":
		// substring(s, offset, length): bytes, offset from 1.
		if err := want(3); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		if err != nil {
			return sqlValue{}, err
		}
		if !args[1].isNum || !args[2].isNum || args[1].n < 1 || args[2].n < 0 {
			return sqlValue{}, fmt.Errorf("substring(%v, %v, %v): offset and length must be positive numbers here", args[0], args[1], args[2])
		}
		from := min(int(args[1].n)-1, len(s))
		to := min(from+int(args[2].n), len(s))
		return str(s[from:to]), nil
	case "position":
		// position(haystack, needle): 1-based byte index, 0 if absent.
		if err := want(2); err != nil {
			return sqlValue{}, err
		}
		h, err := strArg(0)
		if err != nil {
			return sqlValue{}, err
		}
		n, err := strArg(1)
		if err != nil {
			return sqlValue{}, err
		}
		return num(int64(strings.Index(h, n) + 1)), nil
	case "lower":
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		return str(strings.ToLower(s)), err
	case "hex":
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		return str(strings.ToUpper(hex.EncodeToString([]byte(s)))), err
	case "SHA1":
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		sum := sha1.Sum([]byte(s)) // UUIDv5 is defined on SHA-1
		return str(string(sum[:])), err
	case "UUIDStringToNum":
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		if err != nil {
			return sqlValue{}, err
		}
		u, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			return sqlValue{}, fmt.Errorf("UUIDStringToNum(%q): not a 36-character UUID", s)
		}
		return str(string(u[:])), nil
	case "toUUID":
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		if err != nil {
			return sqlValue{}, err
		}
		u, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			return sqlValue{}, fmt.Errorf("toUUID(%q): not a UUID", s)
		}
		return str(u.String()), nil
	case "indexOf":
		// indexOf(arr, x): the 1-based index of the first x, 0 if none.
		if err := want(2); err != nil {
			return sqlValue{}, err
		}
		if !args[0].isArr || args[1].isNum || args[1].isArr {
			return sqlValue{}, fmt.Errorf("indexOf(%v, %v): an Array(String) and a String here", args[0], args[1])
		}
		for i, x := range args[0].arr {
			if x == args[1].s {
				return num(int64(i + 1)), nil
			}
		}
		return num(0), nil
	case "toInt32OrZero", "toInt64OrZero":
		// A decimal integer of the type's range, else 0 (modelled so: an
		// out-of-range number is taken as unreadable).
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		if err != nil {
			return sqlValue{}, err
		}
		bits := 64
		if name == "toInt32OrZero" {
			bits = 32
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return num(0), nil
		}
		return num(n), nil
	case "least", "greatest":
		// Of two numbers (the bill's tiers are Int64).
		if err := want(2); err != nil {
			return sqlValue{}, err
		}
		if !args[0].isNum || !args[1].isNum {
			return sqlValue{}, fmt.Errorf("%s(%v, %v): numbers only here", name, args[0], args[1])
		}
		if (name == "least") == (args[0].n < args[1].n) {
			return args[0], nil
		}
		return args[1], nil
	case "toInt64":
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		if !args[0].isNum {
			return sqlValue{}, fmt.Errorf("toInt64(%v): numbers only here", args[0])
		}
		return args[0], nil
	case "length":
		// Of a String: bytes.
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		return num(int64(len(s))), err
	case "isValidUTF8":
		if err := want(1); err != nil {
			return sqlValue{}, err
		}
		s, err := strArg(0)
		return boolean(utf8.ValidString(s)), err
	case "match":
		// match(haystack, pattern): re2 syntax, UTF-8, unanchored; Go's
		// regexp is RE2. (The two may differ on a haystack that is not
		// UTF-8; the bill's filter checks isValidUTF8 first.)
		if err := want(2); err != nil {
			return sqlValue{}, err
		}
		h, err := strArg(0)
		if err != nil {
			return sqlValue{}, err
		}
		p, err := strArg(1)
		if err != nil {
			return sqlValue{}, err
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return sqlValue{}, fmt.Errorf("match: pattern %q: %w", p, err)
		}
		return boolean(re.MatchString(h)), nil
	}
	return sqlValue{}, fmt.Errorf("function %s is not modelled", name)
}
