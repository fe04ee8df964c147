//go:build linux

package chillitest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Netns is a network namespace a test created with `ip netns add`.
type Netns struct {
	// Name is rgt-<role>-<pid>-<random>: ours, and unique among parallel runs.
	Name string
}

// NewNetns creates a namespace for role with its loopback up. The test's
// cleanup kills every process still inside it and deletes it.
func NewNetns(t testing.TB, role string) *Netns {
	t.Helper()
	var r [3]byte
	rand.Read(r[:])
	n := &Netns{Name: fmt.Sprintf("rgt-%s-%d-%s", role, os.Getpid(), hex.EncodeToString(r[:]))}
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v\n%s", n.Name, err, out)
	}
	t.Cleanup(func() { n.remove(t) })
	n.IP(t, "link", "set", "lo", "up")
	return n
}

// remove ends whatever still runs inside the namespace (the processes the
// test started have been stopped by their own, later registered, cleanups;
// this catches their children and anything a failed test left), then
// deletes it. Its veth ends and tun devices go with it.
func (n *Netns) remove(t testing.TB) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := n.pids()
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("netns %s: processes %v survive SIGKILL", n.Name, pids)
			break
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond) // let the kernel reap them; bounded by the deadline
	}
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		t.Errorf("ip netns del %s: %v\n%s", n.Name, err, out)
	}
}

// pids lists the processes whose network namespace this is, except this
// test process: Do may have its main thread inside for a moment.
func (n *Netns) pids() []int {
	out, _ := exec.Command("ip", "netns", "pids", n.Name).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// IP runs `ip -n NAME args…` and fails the test if it fails.
func (n *Netns) IP(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip -n %s %s: %v\n%s", n.Name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Run runs a command inside the namespace and fails the test if it fails.
func (n *Netns) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := n.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s %s: %v\n%s", n.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Command is name run inside the namespace by `ip netns exec`, which execs
// it: the command's PID is the process's own.
func (n *Netns) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Do runs f on an OS thread switched into the namespace. Sockets f creates
// belong to the namespace for their whole life (a socket's namespace is
// fixed when it is created), so a dial or listen inside f talks from
// there; the goroutine using the socket afterwards may run anywhere. This
// is the setns pattern of the CNI plugins' ns package.
func (n *Netns) Do(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Without UnlockOSThread the thread ends with this goroutine, so a
		// thread left in the wrong namespace is never reused.
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		target, err := os.Open("/run/netns/" + n.Name)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := setns(target); err != nil {
			runtime.UnlockOSThread() // setns failed: the thread is where it was
			errc <- fmt.Errorf("setns %s: %w", n.Name, err)
			return
		}
		ferr := f()
		if err := setns(orig); err != nil {
			errc <- fmt.Errorf("setns back from %s: %w", n.Name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func setns(f *os.File) error { return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET) }

// DialContext dials from inside the namespace; it fits http.Transport.
func (n *Netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() error {
		var err error
		c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// Listen listens inside the namespace.
func (n *Netns) Listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	if err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	}); err != nil {
		t.Fatalf("listen %s in %s: %v", addr, n.Name, err)
	}
	return l
}

// Veth connects a and b with a veth pair: nameA in a, nameB in b. macB
// sets b's end's address when not empty.
func Veth(t testing.TB, a *Netns, nameA string, b *Netns, nameB, macB string) {
	t.Helper()
	args := []string{"link", "add", nameA, "type", "veth", "peer", "name", nameB, "netns", b.Name}
	if macB != "" {
		args = append(args, "address", macB)
	}
	a.IP(t, args...)
}
