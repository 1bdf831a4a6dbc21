package oplog

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// protoField is one field of a message of oplog.proto.
type protoField struct {
	num      protowire.Number
	typ      string // the proto type: uint32, string, Merge, …
	repeated bool
}

// protoFieldLine is a field declaration: [repeated] type name = number;
var protoFieldLine = regexp.MustCompile(`^(repeated\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([0-9]+)\s*;$`)

// parseProto reads the messages of a proto3 file as simple as oplog.proto
// (one declaration a line, no nesting, no options, no oneofs): message →
// field name → field. It fails the test on any line it does not
// understand, so the schema cannot grow a construct this test would miss.
func parseProto(t *testing.T, path string) map[string]map[string]protoField {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msgs := map[string]map[string]protoField{}
	var msg string // the message being read, "" outside one
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case msg == "" && (strings.HasPrefix(line, "syntax ") || strings.HasPrefix(line, "package ")):
		case msg == "" && strings.HasPrefix(line, "message ") && strings.HasSuffix(line, "{"):
			msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "message "), "{"))
			if _, dup := msgs[msg]; dup {
				t.Fatalf("%s:%d: message %s declared twice", path, n, msg)
			}
			msgs[msg] = map[string]protoField{}
		case msg != "" && line == "}":
			msg = ""
		case msg != "":
			m := protoFieldLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("%s:%d: not a field this test understands: %q", path, n, line)
			}
			num, err := strconv.Atoi(m[4])
			if err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
			for name, f := range msgs[msg] {
				if f.num == protowire.Number(num) {
					t.Fatalf("%s:%d: %s.%s reuses number %d of %s", path, n, msg, m[3], num, name)
				}
			}
			msgs[msg][m[3]] = protoField{num: protowire.Number(num), typ: m[2], repeated: m[1] != ""}
		default:
			t.Fatalf("%s:%d: not a declaration this test understands: %q", path, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if msg != "" {
		t.Fatalf("%s: message %s not closed", path, msg)
	}
	return msgs
}

// codecFields is the codec's side of oplog.proto: each field, as
// "Message.name", with the name of the constant the codec uses for it and
// that constant's value.
var codecFields = map[string]struct {
	constant string
	num      protowire.Number
}{
	"Op.version":       {"fVersion", fVersion},
	"Op.kind":          {"fKind", fKind},
	"Op.src_topic":     {"fSrcTopic", fSrcTopic},
	"Op.src_partition": {"fSrcPartition", fSrcPartition},
	"Op.src_offset":    {"fSrcOffset", fSrcOffset},
	"Op.src_index":     {"fSrcIndex", fSrcIndex},
	"Op.team":          {"fTeam", fTeam},
	"Op.distinct_id":   {"fDistinctID", fDistinctID},
	"Op.event_uuid":    {"fEventUUID", fEventUUID},
	"Op.timestamp_ms":  {"fTimestamp", fTimestamp},
	"Op.merge":         {"fMerge", fMerge},
	"Op.set":           {"fSet", fSet},
	"Op.set_once":      {"fSetOnce", fSetOnce},
	"Op.unset":         {"fUnset", fUnset},
	"Op.person_id":     {"fPersonID", fPersonID},
	"Op.block":         {"fBlock", fBlock},
	"Op.split_ids":     {"fSplitIDs", fSplitIDs},
	"Op.no_properties": {"fNoProperties", fNoProperties},
	"Op.gen":           {"fGen", fGen},
	"Op.key_id":        {"fKeyID", fKeyID},
	"Merge.other":      {"fMergeOther", fMergeOther},
	"Merge.guarded":    {"fMergeGuarded", fMergeGuarded},
	"Merge.rule":       {"fMergeRule", fMergeRule},
	"KV.key":           {"fKVKey", fKVKey},
	"KV.value":         {"fKVValue", fKVValue},
}

// varintTypes are the proto scalar types of the varint wire type; every
// other type oplog.proto uses (string, bytes, a message) is
// length-delimited.
var varintTypes = map[string]bool{"int32": true, "int64": true, "uint32": true, "uint64": true, "sint32": true, "sint64": true, "bool": true}

// wireType is the wire type of a field of proto type typ.
func wireType(typ string) protowire.Type {
	if varintTypes[typ] {
		return protowire.VarintType
	}
	return protowire.BytesType
}

// oplog.proto is the schema others read identity_log with, and nothing
// compiles it: this test is what keeps it and the hand-laid codec the
// same. Every field of every message must be one the codec knows, under
// the same number, with the wire type its proto type has; every field
// number constant of the codec must be a field of the schema; and the
// version must be field 1 of Op. Adding a field to one side only, or
// renumbering or renaming one, fails here.
func TestProtoMatchesCodec(t *testing.T) {
	msgs := parseProto(t, "oplog.proto")
	if got := slices.Sorted(maps.Keys(msgs)); !slices.Equal(got, []string{"KV", "Merge", "Op"}) {
		t.Fatalf("oplog.proto declares messages %v; the codec encodes Op, Merge and KV", got)
	}
	declared := map[string]bool{}
	for msg, fields := range msgs {
		for name, f := range fields {
			key := msg + "." + name
			declared[key] = true
			c, ok := codecFields[key]
			switch {
			case !ok:
				t.Errorf("oplog.proto field %s = %d: the codec has no constant for it", key, f.num)
			case c.num != f.num:
				t.Errorf("oplog.proto field %s = %d, but the codec's %s = %d", key, f.num, c.constant, c.num)
			}
			if msg != "Op" {
				continue // Merge's and KV's wire types: TestEncodingMatchesProto
			}
			// The decoder's tables of Op's varint and length-delimited
			// fields: a field of the wrong wire type is refused.
			if varint := wireType(f.typ) == protowire.VarintType; varint != isVarintField(f.num) || varint == isBytesField(f.num) {
				t.Errorf("oplog.proto field %s is a %s (varint: %v), but isVarintField(%d) = %v, isBytesField(%d) = %v",
					key, f.typ, varint, f.num, isVarintField(f.num), f.num, isBytesField(f.num))
			}
		}
	}
	for key, c := range codecFields {
		if !declared[key] {
			t.Errorf("the codec's %s = %d is %s, which oplog.proto does not declare", c.constant, c.num, key)
		}
	}
	if v := msgs["Op"]["version"]; v.num != VersionField || v.typ != "uint32" {
		t.Errorf("oplog.proto's Op.version is %s = %d; every reader finds the version as field %d, a varint", v.typ, v.num, VersionField)
	}

	// Every field number constant declared in the codec is in the table
	// above, under its own name and value.
	consts := numberConstants(t)
	for name, num := range consts {
		found := false
		for key, c := range codecFields {
			if c.constant == name {
				found = true
				if c.num != num {
					t.Errorf("%s: %s = %d in the source, %d in the table", key, name, num, c.num)
				}
			}
		}
		if !found {
			t.Errorf("the codec declares the field number %s = %d, which no field of oplog.proto has (add it to oplog.proto and to codecFields)", name, num)
		}
	}
	if len(consts) < len(codecFields) {
		t.Errorf("the source declares %d field number constants, the table names %d", len(consts), len(codecFields))
	}
}

// numberConstants are the constants of type protowire.Number declared, with
// a literal value, in the package's non-test files.
func numberConstants(t *testing.T) map[string]protowire.Number {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]protowire.Number{}
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				sel, ok := vs.Type.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Number" {
					continue
				}
				if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "protowire" {
					continue
				}
				for i, name := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.INT {
						t.Fatalf("%s: %s is not a literal number", fset.Position(vs.Pos()), name.Name)
					}
					n, err := strconv.Atoi(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[name.Name] = protowire.Number(n)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no protowire.Number constants found in the package's source")
	}
	return out
}

// What Encode writes is what oplog.proto says: an op with every field set
// encodes to fields that are all declared, under their message, with their
// type's wire type, and it covers every declared field.
func TestEncodingMatchesProto(t *testing.T) {
	msgs := parseProto(t, "oplog.proto")
	op := unionfind.Op{Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 42, Index: 1},
		Team: "1", DistinctID: "a", EventUUID: "u", Timestamp: 1_767_225_600_000,
		Merge:    &unionfind.Merge{Other: "b", Guarded: true, Rule: unionfind.RuleAlias},
		Set:      []unionfind.KV{{Key: "k", Value: json.RawMessage(`1`)}},
		SetOnce:  []unionfind.KV{{Key: "o", Value: json.RawMessage(`"x"`)}},
		Unset:    []string{"z"},
		PersonID: uuid.MustParse("5f1b3c2e-8d4a-5b6c-9e0f-1a2b3c4d5e6f"),
		Block:    true, SplitIDs: []string{"c"}, NoProperties: true, Gen: 3, KeyID: 1 << 63}
	seen := map[string]bool{}
	var walk func(msg string, b []byte)
	walk = func(msg string, b []byte) {
		byNum := map[protowire.Number]string{}
		for name, f := range msgs[msg] {
			byNum[f.num] = name
		}
		err := eachField(b, func(f field) error {
			name, ok := byNum[f.num]
			if !ok {
				t.Errorf("Encode wrote field %d of %s, which oplog.proto does not declare", f.num, msg)
				return nil
			}
			pf := msgs[msg][name]
			seen[msg+"."+name] = true
			if want := wireType(pf.typ); f.typ != want {
				t.Errorf("Encode wrote %s.%s (a %s) with wire type %d, want %d", msg, name, pf.typ, f.typ, want)
			}
			if _, nested := msgs[pf.typ]; nested {
				walk(pf.typ, f.b)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
	}
	walk("Op", Encode(&op))
	for msg, fields := range msgs {
		for name := range fields {
			if !seen[msg+"."+name] {
				t.Errorf("oplog.proto declares %s.%s, but Encode of an op with every field set does not write it", msg, name)
			}
		}
	}
}
