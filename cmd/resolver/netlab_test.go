package main

// A network lab for the partition tests (issue 12): Linux network
// namespaces joined by veth pairs to one bridge, built by the test with
// iproute2's `ip` as root, so that a link between a resolver instance and
// the broker can be cut and healed while both keep running — a partition,
// not a crash.
//
//	root ns (the test: producer, readers) ─┐
//	broker ns (the embedded broker)     ───┤
//	instance ns i0, i1, i2 (resolver run) ─┤── bridge in the switch ns
//
// Each host has one veth whose other end is a port of the bridge in a
// private switch namespace; cutting a host sets its port down (both
// directions drop, no reset: TCP connections stall and resume on heal, as
// across a failed switch). The test's own end (the root namespace's) is
// never cut. A host's path to one address only is cut with a blackhole
// route in its namespace.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netLab is one test's namespaces, bridge and links, removed at cleanup.
type netLab struct {
	t      *testing.T
	id     string // random hex, in every name the lab makes
	subnet string // the first three octets of the lab's /24
	sw     string // the switch namespace, holding the bridge
	rootIf string // the root namespace's veth (never cut)

	mu    sync.Mutex
	hosts map[string]*netHost
	log   []string // the lab's actions, for a failing test's log
	start time.Time
}

// netHost is one namespace on the bridge.
type netHost struct {
	name  string // the host's name in the test ("broker", "i0", …)
	ns    string // its namespace
	port  string // its bridge port in the switch namespace
	addrs []string
}

// ipCmd is the path of iproute2's ip, or "" where there is none.
func ipCmd() string {
	for _, p := range []string{"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// newNetLab makes the switch namespace and the test's own link to it, or
// skips the test, saying why, where namespaces cannot be made (not root,
// no iproute2, a sandbox without CAP_SYS_ADMIN or veth support).
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("partition tests need Linux network namespaces")
	}
	if os.Geteuid() != 0 {
		t.Skip("partition tests need root to make network namespaces (ip netns add); run the tests as root, as .ci/run does")
	}
	if ipCmd() == "" {
		t.Skip("partition tests need iproute2's ip (apt-get install -y iproute2; .ci/run installs it)")
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	l := &netLab{t: t, id: hex.EncodeToString(b), hosts: map[string]*netHost{}, start: time.Now()}
	l.subnet = fmt.Sprintf("10.%d.%d", 200+int(b[0])%50, 1+int(b[1])%250)
	l.sw = "rz" + l.id + "-sw"
	l.rootIf = "rz" + l.id // 8 characters: within IFNAMSIZ
	if out, err := l.run("netns", "add", l.sw); err != nil {
		t.Skipf("partition tests cannot make a network namespace here (ip netns add: %v: %s)", err, out)
	}
	t.Cleanup(l.remove)
	l.must("-n", l.sw, "link", "add", "br0", "type", "bridge")
	l.must("-n", l.sw, "link", "set", "br0", "up")
	l.must("-n", l.sw, "link", "set", "lo", "up")
	// The test's own end, in the root namespace.
	if out, err := l.run("link", "add", l.rootIf, "type", "veth", "peer", "name", "p-root", "netns", l.sw); err != nil {
		t.Skipf("partition tests cannot make a veth pair here (%v: %s)", err, out)
	}
	l.must("-n", l.sw, "link", "set", "p-root", "master", "br0")
	l.must("-n", l.sw, "link", "set", "p-root", "up")
	l.must("addr", "add", l.subnet+".254/24", "dev", l.rootIf)
	l.must("link", "set", l.rootIf, "up")
	return l
}

// run runs ip with args and returns its combined output.
func (l *netLab) run(args ...string) (string, error) {
	out, err := exec.Command(ipCmd(), args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// must runs ip with args, failing the test on an error.
func (l *netLab) must(args ...string) {
	l.t.Helper()
	if out, err := l.run(args...); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// addr is the lab address with last octet n.
func (l *netLab) addr(n int) string { return fmt.Sprintf("%s.%d", l.subnet, n) }

// addHost makes a namespace for name with a veth on the bridge carrying
// the given last octets as addresses, and returns the first address.
func (l *netLab) addHost(name string, octets ...int) string {
	l.t.Helper()
	h := &netHost{name: name, ns: "rz" + l.id + "-" + name, port: "p-" + name}
	l.must("netns", "add", h.ns)
	l.must("-n", h.ns, "link", "set", "lo", "up")
	l.must("-n", h.ns, "link", "add", "veth0", "type", "veth", "peer", "name", h.port, "netns", l.sw)
	l.must("-n", l.sw, "link", "set", h.port, "master", "br0")
	l.must("-n", l.sw, "link", "set", h.port, "up")
	for _, o := range octets {
		a := l.addr(o)
		l.must("-n", h.ns, "addr", "add", a+"/24", "dev", "veth0")
		h.addrs = append(h.addrs, a)
	}
	l.must("-n", h.ns, "link", "set", "veth0", "up")
	l.mu.Lock()
	l.hosts[name] = h
	l.mu.Unlock()
	return h.addrs[0]
}

// host returns a host the lab made.
func (l *netLab) host(name string) *netHost {
	l.t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.hosts[name]
	if !ok {
		l.t.Fatalf("no lab host %q", name)
	}
	return h
}

// note records an action of the lab with its time.
func (l *netLab) note(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, fmt.Sprintf("%8v %s", time.Since(l.start).Round(time.Millisecond), fmt.Sprintf(format, args...)))
}

// cut takes the named hosts off the bridge: their ports go down, and no
// packet passes between them and anyone until heal.
func (l *netLab) cut(names ...string) {
	l.t.Helper()
	for _, n := range names {
		l.must("-n", l.sw, "link", "set", l.host(n).port, "down")
		l.note("cut %s", n)
	}
}

// heal puts the named hosts back on the bridge.
func (l *netLab) heal(names ...string) {
	l.t.Helper()
	for _, n := range names {
		l.must("-n", l.sw, "link", "set", l.host(n).port, "up")
		l.note("heal %s", n)
	}
}

// cutPath drops every packet host from sends to addr (a blackhole route in
// its namespace): host can no longer reach addr, nor get answers from it,
// while its other paths stay up.
func (l *netLab) cutPath(host, addr string) {
	l.t.Helper()
	l.must("-n", l.host(host).ns, "route", "add", "blackhole", addr+"/32")
	l.note("cut %s → %s", host, addr)
}

// healPath removes cutPath's route.
func (l *netLab) healPath(host, addr string) {
	l.t.Helper()
	l.must("-n", l.host(host).ns, "route", "del", "blackhole", addr+"/32")
	l.note("heal %s → %s", host, addr)
}

// command returns a command that runs bin with args inside host's
// namespace. ip netns exec execs the program, so the command's process is
// bin's own: a signal to it reaches bin.
func (l *netLab) command(host, bin string, args ...string) *exec.Cmd {
	return exec.Command(ipCmd(), append([]string{"netns", "exec", l.host(host).ns, bin}, args...)...)
}

// listen makes a TCP listener on addr inside host's namespace, from a
// thread that enters the namespace and dies with its goroutine (a socket
// keeps the namespace it was made in; the thread is never reused).
func (l *netLab) listen(host, addr string) (net.Listener, error) {
	ns := l.host(host).ns
	type result struct {
		ln  net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("setns %s: %w", ns, err)}
			return
		}
		ln, err := net.Listen("tcp", addr)
		ch <- result{ln, err}
	}()
	r := <-ch
	return r.ln, r.err
}

// remove deletes the lab's namespaces (their veths go with them) and the
// test's own link; on failure it logs the lab's actions.
func (l *netLab) remove() {
	if l.t.Failed() {
		l.mu.Lock()
		l.t.Logf("network lab %s (%s.0/24):\n%s", l.id, l.subnet, strings.Join(l.log, "\n"))
		l.mu.Unlock()
	}
	for _, h := range l.hosts {
		_, _ = l.run("netns", "del", h.ns)
	}
	_, _ = l.run("netns", "del", l.sw)
	_, _ = l.run("link", "del", l.rootIf)
}
