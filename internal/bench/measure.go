package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// usage is a process's resource use at one instant.
type usage struct {
	cpu time.Duration // user + system CPU so far
	ok  bool
}

// procSelf is how this process's own CPU is read: getrusage (usage_unix.go).
var procSelf = selfCPU

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// which is 100 on every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// pidCPU reads another process's user + system CPU from /proc/<pid>/stat.
func pidCPU(pid int) usage {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return usage{}
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return usage{}
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return usage{}
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return usage{}
	}
	return usage{cpu: time.Duration(ut+st) * clockTick, ok: true}
}

// peakRSS reads VmHWM (the resident set's high-water mark) of a process
// ("self" or a pid) from /proc, in bytes; 0 when it cannot.
func peakRSS(pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS resets a process's VmHWM to its current RSS (Linux ≥ 4.0,
// "5" to /proc/<pid>/clear_refs), so that the next peakRSS is the peak of
// what follows. It reports whether it could; if not, VmHWM stays the peak
// since the process started.
func resetPeakRSS(pid string) bool {
	return os.WriteFile("/proc/"+pid+"/clear_refs", []byte("5"), 0) == nil
}
