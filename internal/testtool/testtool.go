// Package testtool holds what the project's tests share, as
// net/http/httptest does for net/http: the one rule for a real tool
// (radclient, dig, chromium, redis-server, promtool, systemd-analyze …) or
// a facility (IPv6 loopback) that is missing; a log buffer the server's
// goroutines and the test may share; a clock the test moves; waiting on a
// condition with a deadline; and reading a Prometheus counter through a
// Gatherer.
package testtool

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// Need returns the path of the command name. When it is missing the test
// fails in CI (CI=true: make test installs it, so its absence is a broken
// machine) and is skipped elsewhere with a hint naming the Debian package.
func Need(t testing.TB, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	Missing(t, "%s is missing: run make test (it installs the Debian package %s), or apt-get install %s", name, debianPackage, debianPackage)
	return ""
}

// Missing is the rule for anything a test needs and this machine lacks:
// in CI (CI=true, which .ci/run sets; make test installs every tool) the
// test fails, since the absence is a broken machine; elsewhere it is
// skipped with the message, which should say how to get the thing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// InCI reports whether the tests run in CI (CI=true).
func InCI() bool { return os.Getenv("CI") == "true" }

// NeedIPv6Loopback is Missing unless this machine can listen on ::1.
func NeedIPv6Loopback(t testing.TB) {
	t.Helper()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		Missing(t, "no IPv6 loopback here (%v): enable IPv6 on lo (sysctl net.ipv6.conf.lo.disable_ipv6=0)", err)
		return
	}
	l.Close()
}

// BrowserTempDir returns TMPDIR set to a directory of the test's own, for
// a browser the test starts (chromedp.Env). Chromium puts the socket of
// its profile lock in a directory of its own under TMPDIR and removes it
// only when it exits by itself; a browser the test kills (as chromedp's
// cancel does) left one such directory in /tmp per run, hundreds a day.
func BrowserTempDir(t testing.TB) string {
	return "TMPDIR=" + t.TempDir()
}
