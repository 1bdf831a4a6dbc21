//go:build unix

package bench

import (
	"syscall"
	"time"
)

// selfCPU is this process's user + system CPU so far, every thread, from
// getrusage(RUSAGE_SELF).
func selfCPU() usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return usage{}
	}
	return usage{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ok: true}
}
