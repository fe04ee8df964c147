//go:build linux

package chillitest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"roamgate/internal/testtool"
)

// Version names the CoovaChilli source snapshot in
// ../shared/third_party/coova-chilli/ (its tarball without .tar.gz), and so
// the cache directory scripts/build-coova-chilli.sh installs it into. Change
// both together.
const Version = "coova-chilli-e0c7d7af9506"

// PrefixEnv overrides where chilli is installed (the build script reads it
// too).
const PrefixEnv = "ROAMGATE_CHILLI_PREFIX"

// Install is a chilli built and installed by scripts/build-coova-chilli.sh.
type Install struct {
	// Prefix is its --prefix: sbin/, etc/chilli/, var/run/.
	Prefix string
}

// Sbin is the path of one of chilli's programs.
func (i Install) Sbin(name string) string { return filepath.Join(i.Prefix, "sbin", name) }

// Need checks everything a chilli test needs and returns the chilli
// installation. What is missing fails the test in CI (CI=true: make test
// installs and builds it all, so a gap there is a broken machine) and skips
// it elsewhere, saying what to do.
func Need(t testing.TB) Install {
	t.Helper()
	for _, c := range []struct {
		bit  uint
		name string
	}{{12, "CAP_NET_ADMIN"}, {21, "CAP_SYS_ADMIN"}} {
		if !hasCap(c.bit) {
			testtool.Missing(t, "network-namespace tests need root (%s, for ip netns and veth pairs)", c.name)
		}
	}
	for _, tool := range [][2]string{{"ip", "iproute2"}, {"dhclient", "isc-dhcp-client"}, {"iptables", "iptables"}, {"ethtool", "ethtool"}} {
		testtool.Need(t, tool[0], tool[1])
	}
	prefix := os.Getenv(PrefixEnv)
	if prefix == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			testtool.Missing(t, "no cache directory for chilli: %v (set %s)", err, PrefixEnv)
		}
		prefix = filepath.Join(cache, "roamgate", Version)
	}
	inst := Install{Prefix: prefix}
	for _, f := range []string{filepath.Join(prefix, ".built"), inst.Sbin("chilli"), inst.Sbin("chilli_query")} {
		if _, err := os.Stat(f); err != nil {
			testtool.Missing(t, "CoovaChilli is not built in %s (%v): run make test or scripts/build-coova-chilli.sh", prefix, err)
		}
	}
	return inst
}

// hasCap reports whether this process has capability bit in its effective
// set (CapEff in /proc/self/status).
func hasCap(bit uint) bool {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<bit) != 0
		}
	}
	return false
}
