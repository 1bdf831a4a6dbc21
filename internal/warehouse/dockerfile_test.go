package warehouse

import (
	"bufio"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper-case: FROM, RUN, …
	args string
}

func loadDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if more, ok := strings.CutSuffix(line, "\\"); ok {
			cur.WriteString(more)
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.Join(strings.Fields(args), " ")})
		cur.Reset()
	}
	require.NoError(t, sc.Err())
	require.Zero(t, cur.Len(), "the Dockerfile ends inside a continued line")
	return out
}

// buildCommand is the Dockerfile's build step: the plain go build below,
// the only RUN that builds.
const buildCommand = `CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=${VERSION} -X main.commit=${COMMIT}" -o /out/resolver ./cmd/resolver`

// TestDockerfileShape checks the two stages: golang builder, distroless
// nonroot runtime with the binary, a state volume, the admin port, and the
// entrypoint.
func TestDockerfileShape(t *testing.T) {
	ins := loadDockerfile(t)
	var froms, runs []string
	last := map[string]string{} // the runtime stage's last instruction of each kind
	stage := 0
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in.args)
			stage++
			clear(last)
		}
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			runs = append(runs, in.args)
		}
		if stage == 2 {
			if prev, ok := last[in.cmd]; ok && in.cmd != "COPY" {
				t.Errorf("runtime stage has two %s: %q and %q", in.cmd, prev, in.args)
			}
			last[in.cmd] = in.args
		}
	}
	require.Len(t, froms, 2, "a builder and a runtime stage")
	assert.Equal(t, "golang:1.26 AS build", froms[0])
	assert.Equal(t, "gcr.io/distroless/static-debian12:nonroot", froms[1])
	assert.Equal(t, []string{buildCommand}, runs)

	assert.Equal(t, "65532:65532", last["USER"], "distroless nonroot")
	assert.Equal(t, `["/var/lib/resolver"]`, last["VOLUME"])
	assert.Equal(t, "9464", last["EXPOSE"], "the admin port")
	assert.Equal(t, `["/usr/local/bin/resolver"]`, last["ENTRYPOINT"])
	assert.Equal(t, `["run"]`, last["CMD"])
	assert.Contains(t, last["ENV"], "RESOLVER_STATE_DIR=/var/lib/resolver")
	assert.Contains(t, last["ENV"], "RESOLVER_ADMIN_ADDR=0.0.0.0:9464")
	// Issue 11: beyond loopback the admin server needs a token, which the
	// operator passes; none is baked into the image.
	assert.NotContains(t, last["ENV"], "RESOLVER_ADMIN_TOKEN")
	var copies []string
	for _, in := range ins[len(ins)-len(last)-2:] {
		if in.cmd == "COPY" {
			copies = append(copies, in.args)
		}
	}
	assert.Contains(t, copies, "--from=build /out/resolver /usr/local/bin/resolver")
	assert.Contains(t, copies, "--from=build --chown=65532:65532 /out/state /var/lib/resolver", "a fresh state volume is owned by the runtime user")

	// ENV names are config keys.
	keys := configKeys(t)
	envKey := map[string]bool{}
	for k := range keys {
		envKey[envName(k)] = true
	}
	for _, kv := range strings.Fields(last["ENV"]) {
		name, _, _ := strings.Cut(kv, "=")
		assert.True(t, envKey[name], "ENV %s is not a config key", name)
	}
}

// TestDockerignoreKeepsSources checks that .dockerignore leaves every file
// the build needs in the context and drops build litter.
func TestDockerignoreKeepsSources(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), ".dockerignore"))
	require.NoError(t, err)
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			require.False(t, strings.HasPrefix(l, "!"), "no exceptions: keep the file simple")
			patterns = append(patterns, strings.TrimPrefix(l, "/"))
		}
	}
	// ignored reports whether p (slash-separated, relative) or a parent is
	// matched; ** matches any number of directories, as in Docker.
	ignored := func(p string) bool {
		for _, pat := range patterns {
			for dir := p; dir != "." && dir != "/"; dir = path.Dir(dir) {
				if matchDockerignore(pat, dir) {
					return true
				}
			}
		}
		return false
	}
	for _, keep := range []string{"go.mod", "go.sum", "cmd/resolver/main.go", "pkg/stream/pipeline.go", "configs/resolver.yaml"} {
		assert.False(t, ignored(keep), "%s is needed in the build context", keep)
	}
	for _, drop := range []string{".git/config", "resolver", "pkg/event/event.test", "data/identity/MANIFEST"} {
		assert.True(t, ignored(drop), "%s should not be sent to the builder", drop)
	}
}

// matchDockerignore matches a .dockerignore pattern against a path.
func matchDockerignore(pattern, p string) bool {
	if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
		segs := strings.Split(p, "/")
		for i := range segs {
			if ok, _ := path.Match(rest, strings.Join(segs[i:], "/")); ok {
				return true
			}
		}
		return false
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

// TestDockerfileBuildStep runs the Dockerfile's build command here, into a
// temporary directory: the image's build is the plain go build of this
// module, and its output is a static binary (no ELF interpreter), as the
// distroless static image requires.
func TestDockerfileBuildStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the resolver")
	}
	out := filepath.Join(t.TempDir(), "resolver")
	// Run by a shell, as the RUN instruction is, with the build arguments
	// in its environment.
	script := strings.Replace(buildCommand, "/out/resolver", out, 1)
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "VERSION=9.8.7-test", "COMMIT=0123abc")
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s\n%s", script, b)

	// The build arguments are what the binary reports.
	ver, err := exec.Command(out, "version").CombinedOutput()
	require.NoError(t, err, "%s", ver)
	assert.Contains(t, string(ver), "9.8.7-test")
	assert.Contains(t, string(ver), "0123abc")

	f, err := elf.Open(out)
	require.NoError(t, err)
	defer f.Close()
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "the binary is dynamically linked")
	}
	libs, err := f.ImportedLibraries()
	require.NoError(t, err)
	assert.Empty(t, libs)

	help, err := exec.Command(out, "--help").CombinedOutput()
	require.NoError(t, err, "%s", help)
	assert.Contains(t, string(help), "run", "the image's CMD is a command of the binary")

	// The built resolver accepts each compose instance's environment (with
	// the Dockerfile's ENV under it) as its configuration: a command that
	// loads the config and then finds no state exits 1; an invalid config
	// exits 2 naming the key (README, Configuration).
	c := loadCompose(t)
	for _, name := range resolverServices(c) {
		cmd := exec.Command(out, "fingerprint", "--state-dir", t.TempDir())
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		for _, in := range loadDockerfile(t) {
			if in.cmd == "ENV" {
				cmd.Env = append(cmd.Env, strings.Fields(in.args)...)
			}
		}
		for k, v := range c.Services[name].Environment {
			cmd.Env = append(cmd.Env, k+"="+expand(v))
		}
		b, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			assert.NotEqual(t, 2, exit.ExitCode(), "%s: the resolver rejects the configuration:\n%s", name, b)
		} else {
			require.NoError(t, err, "%s: %s", name, b)
		}
		assert.NotContains(t, string(b), "config:", "%s", name)
	}
}
