package testtool

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the CPU time (user and system) the process has used so
// far. Benchmarks of background work report it beside the wall time:
// the background writers rest between their turns (session.BackgroundTurn),
// about a millisecond each in an otherwise idle process, so the wall time
// overstates what they take from the RADIUS answers.
func ProcessCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProcessWritten is how many bytes the process has handed to write system
// calls so far (wchar in /proc/self/io: write, pwrite and the like, to
// files and sockets, whether or not they reached a disk yet), and false
// where the kernel does not count them (not Linux). A benchmark of a
// store's background writes reports it per operation: unlike its CPU
// time on a shared VM, the bytes a write path produces are the same in
// every run.
func ProcessWritten(tb testing.TB) (int64, bool) {
	data, err := os.ReadFile("/proc/self/io")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false
	}
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				tb.Fatalf("/proc/self/io: %q: %v", line, err)
			}
			return n, true
		}
	}
	tb.Fatalf("/proc/self/io has no wchar line: %q", data)
	return 0, false
}
