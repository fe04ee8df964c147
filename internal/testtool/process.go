//go:build unix

package testtool

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ProcessRuns says whether the process pid runs: it exists and, where
// /proc tells, is not a zombie (a process whose parent died is reaped by
// whoever adopts it, which in a container may be nobody).
func ProcessRuns(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return !os.IsNotExist(err) // no /proc: kill's word
	}
	// "pid (comm) state …": the state follows the last ')'.
	rest := strings.TrimSpace(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return !strings.HasPrefix(rest, "Z")
}
