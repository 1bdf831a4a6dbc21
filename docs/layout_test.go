package docs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestPublicPackages checks what DESIGN.md's "Packages" says of pkg/: every
// package there has a runnable Example (one with an "// Output:" comment,
// which go test runs and compares), and its exported API names no type of
// an internal/ package — a program importing the package could not name
// such a type. An alias the package declares is the exception: it is the
// type's public name (stream.PersonRow = feed.PersonRow), and the type
// behind it is checked in its place.
//
// The types come from the compiler's export data (go list -export), so the
// check sees exactly what a user of the package sees.
func TestPublicPackages(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-export", "-deps", "-json=ImportPath,Dir,Export,Module", "./pkg/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	type listed struct {
		ImportPath, Dir, Export string
		Module                  *struct {
			Path string
			Main bool
		}
	}
	exports := map[string]string{}
	var module string
	var public []listed
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		exports[p.ImportPath] = p.Export
		if p.Module != nil && p.Module.Main && strings.HasPrefix(p.ImportPath, p.Module.Path+"/pkg/") {
			module = p.Module.Path
			public = append(public, p)
		}
	}
	if len(public) < 5 {
		t.Fatalf("found %d packages under pkg/; the listing is broken", len(public))
	}
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok || f == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	})
	for _, p := range public {
		pkg, err := imp.Import(p.ImportPath)
		if err != nil {
			t.Fatalf("import %s: %v", p.ImportPath, err)
		}
		for _, leak := range internalInAPI(pkg, module+"/internal/") {
			t.Errorf("%s: a user of the package cannot name this type (move it to pkg/, or declare a public alias)", leak)
		}
		n, err := runnableExamples(p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s has no runnable Example (a func Example… with an // Output: comment, in a _test.go file)", p.ImportPath)
		}
		t.Logf("%s: %d runnable examples", p.ImportPath, n)
	}
}

// TestInternalInAPIFindsLeaks runs the API check over a made-up pair of
// packages and expects exactly the exported uses of the internal type.
func TestInternalInAPIFindsLeaks(t *testing.T) {
	fset := token.NewFileSet()
	check := func(path, src string, imp types.Importer) *types.Package {
		f, err := parser.ParseFile(fset, path+".go", src, 0)
		if err != nil {
			t.Fatal(err)
		}
		pkg, err := (&types.Config{Importer: imp}).Check(path, fset, []*ast.File{f}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return pkg
	}
	x := check("m/internal/x", `package x
type T struct{ N int }
type U struct{ V *T }
`, nil)
	p := check("m/pkg/p", `package p
import "m/internal/x"
type A = x.T         // allowed: the public name of x.T
type B = x.U         // allowed, but x.U's field V is *x.T: a leak
type S struct {
	F x.T            // leak
	f x.T            // unexported: fine
	G func([]x.T)    // leak
}
func F() *x.T { return nil }        // leak
func G() A { return A{} }           // fine: through the alias
func (S) M(m map[string]x.T) {}     // leak
func (S) m() x.T { return x.T{} }   // unexported: fine
var V x.T                           // leak
type I interface{ Do() x.T }        // leak
type s struct{ F x.T }              // unexported type: fine
`, importerFunc(func(string) (*types.Package, error) { return x, nil }))
	got := internalInAPI(p, "m/internal/")
	want := []string{
		"m/pkg/p.B.V: m/internal/x.T",
		"m/pkg/p.F: m/internal/x.T",
		"m/pkg/p.I.Do: m/internal/x.T",
		"m/pkg/p.S.F: m/internal/x.T",
		"m/pkg/p.S.G: m/internal/x.T",
		"m/pkg/p.S.M: m/internal/x.T",
		"m/pkg/p.V: m/internal/x.T",
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

type importerFunc func(string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// internalInAPI lists every exported identifier of pkg (functions,
// variables, constants, types with their exported fields and methods)
// whose type mentions a named type of a package under internal (an import
// path prefix), other than through an alias pkg declares, each as
// "identifier: internal type".
func internalInAPI(pkg *types.Package, internal string) []string {
	w := apiWalker{internal: internal, seen: map[*types.Named]bool{}}
	for _, name := range pkg.Scope().Names() {
		obj := pkg.Scope().Lookup(name)
		if !obj.Exported() {
			continue
		}
		where := pkg.Path() + "." + name
		switch o := obj.(type) {
		case *types.TypeName:
			// A declared alias is the public name of what it stands for,
			// whose members are checked here in its place.
			if n, ok := types.Unalias(o.Type()).(*types.Named); ok {
				w.members(n, where)
			}
		default:
			w.walk(obj.Type(), where)
		}
	}
	return w.leaks
}

type apiWalker struct {
	internal string
	seen     map[*types.Named]bool
	leaks    []string
}

func (w *apiWalker) report(obj *types.TypeName, where string) {
	if obj.Pkg() != nil && strings.HasPrefix(obj.Pkg().Path(), w.internal) {
		w.leaks = append(w.leaks, where+": "+obj.Pkg().Path()+"."+obj.Name())
	}
}

// members walks the exported fields and methods of a type the package
// declares or aliases.
func (w *apiWalker) members(n *types.Named, where string) {
	if w.seen[n] {
		return
	}
	w.seen[n] = true
	switch u := n.Underlying().(type) {
	case *types.Struct:
		for i := range u.NumFields() {
			if f := u.Field(i); f.Exported() {
				w.walk(f.Type(), where+"."+f.Name())
			}
		}
	case *types.Interface:
		for i := range u.NumMethods() {
			if m := u.Method(i); m.Exported() {
				w.walk(m.Type(), where+"."+m.Name())
			}
		}
	default:
		w.walk(u, where)
	}
	for i := range n.NumMethods() {
		if m := n.Method(i); m.Exported() {
			w.walk(m.Type(), where+"."+m.Name())
		}
	}
}

func (w *apiWalker) walk(t types.Type, where string) {
	switch t := t.(type) {
	case *types.Alias:
		// A public alias is nameable; what it stands for is checked where
		// the alias is declared.
		w.report(t.Obj(), where)
	case *types.Named:
		w.report(t.Obj(), where)
		for i := range t.TypeArgs().Len() {
			w.walk(t.TypeArgs().At(i), where)
		}
	case *types.Pointer:
		w.walk(t.Elem(), where)
	case *types.Slice:
		w.walk(t.Elem(), where)
	case *types.Array:
		w.walk(t.Elem(), where)
	case *types.Chan:
		w.walk(t.Elem(), where)
	case *types.Map:
		w.walk(t.Key(), where)
		w.walk(t.Elem(), where)
	case *types.Signature:
		for _, tup := range []*types.Tuple{t.Params(), t.Results()} {
			for i := range tup.Len() {
				w.walk(tup.At(i).Type(), where)
			}
		}
	case *types.Struct:
		for i := range t.NumFields() {
			if f := t.Field(i); f.Exported() {
				w.walk(f.Type(), where)
			}
		}
	case *types.Interface:
		for i := range t.NumMethods() {
			if m := t.Method(i); m.Exported() {
				w.walk(m.Type(), where)
			}
		}
	}
}

// runnableExamples counts the Example functions of the _test.go files in
// dir that go test runs and checks: those with an "// Output:" comment.
func runnableExamples(dir string) (int, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		return 0, err
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			return 0, err
		}
		files = append(files, f)
	}
	n := 0
	for _, ex := range doc.Examples(files...) {
		if ex.Output != "" || ex.EmptyOutput {
			n++
		}
	}
	return n, nil
}
