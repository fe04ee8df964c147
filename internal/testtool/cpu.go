package testtool

import (
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
