//go:build linux

// Package chillitest runs a real CoovaChilli for tests: network namespaces
// (a core with roamgate and a stand-in internet, access points running
// chilli, phones running dhclient), chilli configured the way its init
// script does it, and a phone whose HTTP client dials from inside its own
// namespace, so that everything it sees went through chilli.
//
// It needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN for `ip netns`), the
// Debian tools ip, dhclient, iptables and ethtool, and chilli built by
// scripts/build-coova-chilli.sh. Need skips a test when any is missing, or
// fails it in CI (CI=true), where make test provides them.
//
// Every namespace is called rgt-<role>-<pid>-<random> and removed by the
// test's cleanup, after every process inside it has been ended: a failed
// test leaves nothing behind. It is a test helper only.
package chillitest
