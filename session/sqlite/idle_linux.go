package sqlite

import (
	"syscall"
	"unsafe"
)

// schedIdle is Linux's SCHED_IDLE policy (include/uapi/linux/sched.h):
// a thread that runs only on a CPU that nothing else wants, and never
// takes one from a thread that does (sched(7)).
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
