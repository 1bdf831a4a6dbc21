package docs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestReferences: every reference to a document in the repository's text
// files — code comments, help text, config comments, SQL, JSON, Markdown —
// names a file that exists, and every "§N" after it names a section the
// document has. This is what keeps a citation such as
// "docs/SEMANTICS.md §3" honest when a document moves or a section is
// renumbered (issue 13: the spec used to live outside the repository, and
// 52 files cited it).
//
// What counts as a reference (see refsOf):
//
//   - a path ending in .md, plain or with directories (README.md,
//     docs/DESIGN.md, ../docs/SEMANTICS.md): it must name a file,
//     relative to the citing file's directory or to the repository root;
//     a path inside a URL is left alone;
//   - "§N", "§N–M" and "§N, §M" right after such a path: the document must
//     have a heading numbered N ("## 6a. …" is §6a);
//   - a Markdown link target in a .md file ([text](target)): it must name a
//     file or directory relative to that file, as a Markdown viewer reads
//     it;
//   - a section of SEMANTICS or DESIGN cited without ".md": refused, so
//     that every section reference names the file it is checked against.
//
// The files are those git would commit (tracked, or new and not ignored),
// so a reference to a file that exists only in one working copy fails too.
func TestReferences(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the repository root %s has no go.mod: %v", root, err)
	}
	files := repoFiles(t, root)
	r := repo{
		files: map[string]bool{},
		read:  func(p string) ([]byte, error) { return os.ReadFile(filepath.Join(root, filepath.FromSlash(p))) },
	}
	for _, f := range files {
		r.files[f] = true
	}
	checked, problems := r.check()
	for _, p := range problems {
		t.Error(p)
	}
	// The check must have seen the references it exists for; zero would
	// mean the scan is broken, not that the repository is clean.
	if checked.docs < 50 || checked.sections < 50 {
		t.Errorf("found only %d document and %d section references; the scan is not seeing the repository", checked.docs, checked.sections)
	}
	t.Logf("%d files, %d document references, %d section references, %d Markdown links checked",
		len(files), checked.docs, checked.sections, checked.links)
}

// TestReferencesFindsBrokenOnes runs the check over a small made-up tree
// with one reference of every kind, good and bad, and expects exactly the
// bad ones, each named by file and line. (The names of missing documents
// are built from parts, so that this file itself cites nothing missing.)
func TestReferencesFindsBrokenOnes(t *testing.T) {
	md, sec := ".md", " §"
	tree := map[string]string{
		"docs/SEMANTICS" + md: "# Rules\n\n## 1. Input\n\n## 6a. Round two\n\nSee [the design](DESIGN" + md + ") and [code](../pkg/x/x.go).\n" +
			"A [broken link](../docs/NOPE" + md + "#top) and [another](missing/dir).\n",
		"docs/DESIGN" + md: "# Design\n\n## Zombies\n",
		"README" + md:      "Read docs/SEMANTICS" + md + " §1 and [docs](docs/) and https://example.com/GONE" + md + ".\n",
		"pkg/x/x.go": "package x\n\n// docs/SEMANTICS" + md + " §1–6a, §1\n// docs/SEMANTICS" + md + " §2\n" +
			"// docs/SEMANTICS" + md + " §1, §7\n// SEMANTICS" + md + " §1 (no docs/)\n// README" + md + " is at the root\n" +
			"// SEMANTICS" + sec + "1 without a file\n// docs/DESIGN" + md + " §3\n",
		"pkg/x/y.sql": "-- see ../../docs/DESIGN" + md + " and docs/OLD" + md + "\n",
	}
	r := repo{files: map[string]bool{}, read: func(p string) ([]byte, error) {
		b, ok := tree[p]
		if !ok {
			return nil, fs.ErrNotExist
		}
		return []byte(b), nil
	}}
	for p := range tree {
		r.files[p] = true
	}
	_, got := r.check()
	want := []string{
		"docs/SEMANTICS" + md + ":8: Markdown link to ../docs/NOPE" + md + "#top: no such file or directory (docs/NOPE" + md + ")",
		"docs/SEMANTICS" + md + ":8: Markdown link to missing/dir: no such file or directory (docs/missing/dir)",
		"pkg/x/x.go:4: docs/SEMANTICS" + md + " has no section §2",
		"pkg/x/x.go:5: docs/SEMANTICS" + md + " has no section §7",
		"pkg/x/x.go:6: SEMANTICS" + md + " is not a file (relative to pkg/x or to the repository root)",
		"pkg/x/x.go:8: \"SEMANTICS" + sec + "\" names no file: write docs/SEMANTICS" + md + sec + "N",
		"pkg/x/x.go:9: docs/DESIGN" + md + " has no section §3",
		"pkg/x/y.sql:1: docs/OLD" + md + " is not a file (relative to pkg/x or to the repository root)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// repo is a set of files to check and a way to read them.
type repo struct {
	files map[string]bool // every file, slash-separated, relative to the root
	read  func(path string) ([]byte, error)
}

// counts are what check looked at.
type counts struct{ docs, sections, links int }

var (
	// docRef is a path ending in .md. RE2 has no look-behind, so a match
	// inside a URL is dropped by inURL.
	docRef = regexp.MustCompile(`(?:[\w.-]+/)*[\w-][\w.-]*\.md\b`)
	// sectionRef is what may follow a document: " §1", " §1–2", " §6a".
	sectionRef = regexp.MustCompile(`^ ?§ ?(\d+[a-z]?)(?: ?[–-] ?(\d+[a-z]?))?`)
	// moreSections continues a list: ", §5" or " and §5".
	moreSections = regexp.MustCompile(`^(?:, ?| and | or )§ ?(\d+[a-z]?)`)
	// mdLink is a Markdown inline link's target.
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// bareSection is a section reference without its file.
	bareSection = regexp.MustCompile(`\b(SEMANTICS|DESIGN) §`)
	// headingNumber is the number of a Markdown heading: "## 6a. Title",
	// "## §8 Title".
	headingNumber = regexp.MustCompile(`^#+\s+§?\s*(\d+[a-z]?)[.:)\s]`)
)

// check returns what it checked and every problem, as "file:line: what",
// in file and line order.
func (r repo) check() (counts, []string) {
	var c counts
	var problems []string
	sections := map[string]map[string]bool{} // document → its section numbers
	sectionsOf := func(doc string) map[string]bool {
		if s, ok := sections[doc]; ok {
			return s
		}
		s := map[string]bool{}
		if b, err := r.read(doc); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if m := headingNumber.FindStringSubmatch(line); m != nil {
					s[m[1]] = true
				}
			}
		}
		sections[doc] = s
		return s
	}
	paths := make([]string, 0, len(r.files))
	for p := range r.files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, file := range paths {
		b, err := r.read(file)
		if err != nil {
			problems = append(problems, file+": "+err.Error())
			continue
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		dir := path.Dir(file)
		isMarkdown := strings.HasSuffix(file, ".md")
		for n, line := range strings.Split(string(b), "\n") {
			at := func(format string, args ...any) {
				problems = append(problems, file+":"+strconv.Itoa(n+1)+": "+fmt.Sprintf(format, args...))
			}
			var links [][]int // Markdown link targets, checked below
			if isMarkdown {
				links = mdLink.FindAllStringSubmatchIndex(line, -1)
			}
			for _, m := range docRef.FindAllStringIndex(line, -1) {
				if inURL(line, m[0]) || inLink(links, m[0]) {
					continue
				}
				ref := line[m[0]:m[1]]
				c.docs++
				doc, ok := r.resolve(dir, ref)
				if !ok {
					at("%s is not a file (relative to %s or to the repository root)", ref, dir)
					continue
				}
				rest := line[m[1]:]
				sm := sectionRef.FindStringSubmatchIndex(rest)
				if sm == nil {
					continue
				}
				nums := []string{rest[sm[2]:sm[3]]}
				if sm[4] >= 0 {
					nums = append(nums, rest[sm[4]:sm[5]])
				}
				rest = rest[sm[1]:]
				for {
					mm := moreSections.FindStringSubmatchIndex(rest)
					if mm == nil {
						break
					}
					nums = append(nums, rest[mm[2]:mm[3]])
					rest = rest[mm[1]:]
				}
				have := sectionsOf(doc)
				for _, num := range nums {
					c.sections++
					if !have[num] {
						at("%s has no section §%s", ref, num)
					}
				}
			}
			if m := bareSection.FindStringSubmatch(line); m != nil {
				at("%q names no file: write docs/"+m[1]+".md §N", m[1]+" §")
			}
			if !isMarkdown {
				continue
			}
			for _, l := range links {
				link := line[l[2]:l[3]]
				target, _, _ := strings.Cut(link, "#")
				if target == "" || strings.Contains(target, ":") {
					continue // an anchor in this page, a URL, mailto:
				}
				c.links++
				p := path.Join(dir, target)
				if !r.files[p] && !r.isDir(p) {
					at("Markdown link to %s: no such file or directory (%s)", link, p)
				}
			}
		}
	}
	return c, problems
}

// resolve finds the file ref names, relative to dir or to the root.
func (r repo) resolve(dir, ref string) (string, bool) {
	for _, p := range []string{path.Join(dir, ref), path.Clean(ref)} {
		if r.files[p] {
			return p, true
		}
	}
	return "", false
}

// isDir reports whether some file lies under p.
func (r repo) isDir(p string) bool {
	if p == "." {
		return true
	}
	prefix := strings.TrimSuffix(p, "/") + "/"
	for f := range r.files {
		if strings.HasPrefix(f, prefix) {
			return true
		}
	}
	return false
}

// inLink reports whether i lies in one of the link targets (submatch 1 of
// mdLink).
func inLink(links [][]int, i int) bool {
	for _, l := range links {
		if i >= l[2] && i < l[3] {
			return true
		}
	}
	return false
}

// inURL reports whether the match at i is part of a URL: the word it
// stands in (back to a space, quote or bracket) holds "://".
func inURL(line string, i int) bool {
	start := strings.LastIndexAny(line[:i], " \t\"'`(<[{") + 1
	end := i + strings.IndexAny(line[i:]+" ", " \t\"'`)>]}")
	return strings.Contains(line[start:end], "://")
}

// localDirs are the top-level directories of local state that .gitignore
// keeps out of the repository (a Badger replica, a built binary).
var localDirs = map[string]bool{"data": true, "state": true, "bin": true, "tmp": true}

// repoFiles returns the files git would commit, slash-separated and
// relative to root: tracked files that still exist, and new files that
// are not ignored. Without git (a source tarball), every file under root
// outside hidden directories and the directories .gitignore names for
// local state (data, state, bin, tmp), skipping files over 4 MiB.
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f == "" {
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(f))); err != nil {
				continue // deleted in the working copy
			}
			files = append(files, f)
		}
		slices.Sort(files)
		files = slices.Compact(files)
		return files
	}
	var ee *exec.ExitError
	if !errors.Is(err, exec.ErrNotFound) && !errors.As(err, &ee) {
		t.Fatalf("git ls-files: %v", err)
	}
	t.Logf("no git work tree (%v): walking %s", err, root)
	var files []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root {
			if strings.HasPrefix(d.Name(), ".") || filepath.Dir(p) == root && localDirs[d.Name()] {
				return filepath.SkipDir
			}
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err != nil || info.Size() > 4<<20 {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
