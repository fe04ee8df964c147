//go:build unix

package testtool

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// Helper is the test binary run again as a helper process of a kill -9
// test: the test named by StartHelper, with an environment variable that
// makes it the helper. Lines has its stdout's complete lines (a line the
// kill cut off was never printed) and is closed when stdout is.
type Helper struct {
	Cmd    *exec.Cmd
	Lines  <-chan string
	Stderr LogBuffer
	waited bool
}

// StartHelper starts the test run (a -test.run pattern) of this binary with
// env added to its environment; the helper is killed and reaped when the
// test ends, if it still runs.
func StartHelper(t *testing.T, run string, env ...string) *Helper {
	t.Helper()
	h := &Helper{Cmd: exec.Command(os.Args[0], "-test.run="+run, "-test.timeout=5m")}
	h.Cmd.Env = append(os.Environ(), env...)
	h.Cmd.Stderr = &h.Stderr
	stdout, err := h.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !h.waited {
			h.Cmd.Process.Kill()
			h.Cmd.Wait()
		}
	})
	lines := make(chan string)
	h.Lines = lines
	go func() {
		defer close(lines)
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	return h
}

// Kill sends the helper SIGKILL.
func (h *Helper) Kill(t *testing.T) {
	t.Helper()
	if err := h.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill: %v", err)
	}
}

// WaitKilled reaps the helper and fails the test unless SIGKILL ended it.
func (h *Helper) WaitKilled(t *testing.T) {
	t.Helper()
	err := h.Cmd.Wait()
	h.waited = true
	if ws, ok := h.Cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("helper was not killed by SIGKILL mid-stream (wait: %v); stderr:\n%s", err, h.Stderr.String())
	}
}
