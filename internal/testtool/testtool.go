// Package testtool holds what the project's tests share about the real
// tools they run (radclient, dig, chromium, redis-server, promtool,
// systemd-analyze …): one rule for a tool that is missing.
package testtool

import (
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
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (make test installs the Debian package %s)", name, debianPackage)
	}
	t.Skipf("%s is missing: run make test, or apt-get install %s", name, debianPackage)
	return ""
}
