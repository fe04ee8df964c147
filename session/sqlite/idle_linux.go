package sqlite

import (
	"syscall"
	"unsafe"
)

// schedIdle is Linux's SCHED_IDLE policy (include/uapi/linux/sched.h):
// "extremely low priority (lower even than a +19 nice value)" (sched(7)).
// Beside a busy thread of normal priority the scheduler gives it the
// smallest weight it has (WEIGHT_IDLEPRIO, 3 against 1 024 for nice 0),
// a few thousandths of the CPU: its work is slow, but it ends, so that
// checkpointPatience can see a round that waited too long.
const schedIdle = 5

// idlePolicy gives the calling thread the SCHED_IDLE policy. Lowering a
// thread's policy needs no privilege (sched_setscheduler(2)).
func idlePolicy() error {
	var param struct{ priority int32 } // struct sched_param; 0 for SCHED_IDLE
	// pid 0 is the calling thread, not the whole process.
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, 0, schedIdle, uintptr(unsafe.Pointer(&param))); errno != 0 {
		return errno
	}
	return nil
}
