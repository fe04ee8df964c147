//go:build linux

package chillitest

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Phone is a device with one MAC address: a namespace of its own, a
// browser (an HTTP client dialling from that namespace, keeping cookies),
// and a Wi-Fi link to each access point it has walked to, of which one is
// up at a time.
type Phone struct {
	Name string
	// MAC is its address on every link (lower case, colons).
	MAC string
	NS  *Netns
	// HTTP is its browser's client: cookies, no proxy, a new connection per
	// request (a connection kept open through chilli would outlive the
	// state it was opened in). Open and Submit follow redirects with it.
	HTTP *http.Client
	// OS is the operating system's own client, for its captive-portal
	// checks and the RFC 8908 API: like HTTP but without the browser's
	// cookies.
	OS    *http.Client
	t     testing.TB // its owner: processes started for it end with it
	net   *Net
	index int
	dir   string
	links map[*AP]*wifi
	cur   *wifi
}

// wifi is a phone's link to one access point and its DHCP client.
type wifi struct {
	ap     *AP
	ifname string
	lease  string // the file dhclient's script writes
	dh     *exec.Cmd
	done   chan struct{}
	log    string
}

// Lease is what the access point's DHCP server gave the phone.
type Lease struct {
	IP, Router string
	// DNS are the name servers offered (chilli's HS_DNS1/2).
	DNS []string
	// CaptivePortal is DHCP option 114 (RFC 8910), if offered.
	CaptivePortal string
}

// NewPhone creates a phone with address mac, not yet near any access point.
func (n *Net) NewPhone(t testing.TB, name, mac string) *Phone {
	t.Helper()
	n.phones++
	jar, _ := cookiejar.New(nil)
	p := &Phone{Name: name, MAC: strings.ToLower(mac), NS: NewNetns(t, "phone"+strconv.Itoa(n.phones)),
		t: t, net: n, index: n.phones, dir: t.TempDir(), links: map[*AP]*wifi{}}
	p.HTTP = &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport: &http.Transport{DialContext: p.NS.DialContext, DisableKeepAlives: true}}
	p.OS = &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{DialContext: p.NS.DialContext, DisableKeepAlives: true}}
	return p
}

// dhclientScript replaces Debian's dhclient-script, which would rewrite the
// host's /etc/resolv.conf (ip netns exec only hides /etc/netns/<name>/
// files): it sets the address and default route as that script does and
// records the lease for the test in LEASE_FILE (dhclient gives its script
// an environment of its own making, so the path is written into it).
const dhclientScript = `#!/bin/sh
case "$reason" in
BOUND|RENEW|REBIND|REBOOT)
	ip -4 addr flush dev "$interface" scope global
	ip -4 addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
	ip -4 route replace default via "${new_routers%% *}" dev "$interface"
	printf 'ip=%s\nrouters=%s\ndns=%s\ncaptive_portal=%s\n' "$new_ip_address" "$new_routers" \
		"$new_domain_name_servers" "$new_captive_portal" > 'LEASE_FILE.tmp'
	mv 'LEASE_FILE.tmp' 'LEASE_FILE'
	;;
EXPIRE|FAIL|RELEASE|STOP)
	ip -4 addr flush dev "$interface" scope global
	;;
esac
exit 0
`

// dhclientConf asks for what a phone uses, including the captive-portal
// option of RFC 8910.
const dhclientConf = `option captive-portal code 114 = text;
request subnet-mask, broadcast-address, routers, domain-name-servers, domain-name, captive-portal;
`

// Join walks the phone to ap: the link to the access point it was at goes
// down without a DHCP release (it walked out of range; that access point
// keeps its association until its own idle timeout), the link to ap comes
// up and dhclient runs on it until it has a lease.
func (p *Phone) Join(t testing.TB, ap *AP) Lease {
	t.Helper()
	if p.cur != nil {
		if p.cur.ap == ap {
			t.Fatalf("%s is already at %s", p.Name, ap.Name)
		}
		p.leave(t)
	}
	w := p.links[ap]
	if w == nil {
		w = &wifi{ap: ap, ifname: "wl" + strconv.Itoa(ap.Index)}
		apSide := "ph" + strconv.Itoa(p.index)
		Veth(t, ap.NS, apSide, p.NS, w.ifname, p.MAC)
		ap.NS.IP(t, "link", "set", apSide, "master", "lan")
		ap.NS.IP(t, "link", "set", apSide, "up")
		// chilli reads the phone's frames from a raw socket and writes
		// them to its tun unchanged. A veth leaves TCP/UDP checksums to
		// the receiver (CHECKSUM_PARTIAL), so the forwarded packets would
		// carry wrong checksums and the core would drop them; a real
		// phone's Wi-Fi chip fills them in, and so must this one.
		p.NS.Run(t, "ethtool", "-K", w.ifname, "tx", "off")
		p.links[ap] = w
	}
	p.NS.IP(t, "link", "set", w.ifname, "up")
	w.lease = filepath.Join(p.dir, w.ifname+".lease")
	os.Remove(w.lease)
	script := filepath.Join(p.dir, w.ifname+".dhclient-script")
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(dhclientScript, "LEASE_FILE", w.lease)), 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(p.dir, "dhclient.conf")
	if err := os.WriteFile(conf, []byte(dhclientConf), 0o644); err != nil {
		t.Fatal(err)
	}
	w.log = filepath.Join(p.dir, w.ifname+".dhclient.log")
	logf, err := os.Create(w.log)
	if err != nil {
		t.Fatal(err)
	}
	// -d: stay in the foreground, so this process is the one we stop.
	w.dh = p.NS.Command("dhclient", "-d", "-v", "-cf", conf, "-sf", script,
		"-lf", filepath.Join(p.dir, w.ifname+".leases"), "-pf", filepath.Join(p.dir, w.ifname+".pid"), w.ifname)
	w.dh.Stdout, w.dh.Stderr = logf, logf
	if err := w.dh.Start(); err != nil {
		logf.Close()
		t.Fatalf("dhclient: %v", err)
	}
	w.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		logf.Close()
		close(done)
	}(w.dh, w.done)
	p.t.Cleanup(func() { w.stop(p.t) })
	p.cur = w

	deadline := time.Now().Add(30 * time.Second)
	for {
		if raw, err := os.ReadFile(w.lease); err == nil {
			return parseLease(string(raw))
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(w.log)
			t.Fatalf("%s got no DHCP lease from %s within 30s:\n%s\nchilli:\n%s", p.Name, ap.Name, logs, ap.Chilli.LogTail(30))
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// leave takes the current link down and stops its DHCP client.
func (p *Phone) leave(t testing.TB) {
	t.Helper()
	w := p.cur
	p.NS.IP(t, "link", "set", w.ifname, "down")
	w.stop(t)
	p.NS.IP(t, "-4", "addr", "flush", "dev", w.ifname)
	p.cur = nil
}

// stop ends dhclient (SIGTERM: it exits without releasing the lease).
func (w *wifi) stop(t testing.TB) {
	if w.dh == nil {
		return
	}
	w.dh.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		w.dh.Process.Kill()
		<-w.done
		t.Errorf("dhclient on %s still running 5s after SIGTERM", w.ifname)
	}
	w.dh = nil
}

// AP is the access point the phone is at, or nil.
func (p *Phone) AP() *AP {
	if p.cur == nil {
		return nil
	}
	return p.cur.ap
}

func parseLease(s string) Lease {
	var l Lease
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "ip":
			l.IP = v
		case "routers":
			l.Router, _, _ = strings.Cut(v, " ")
		case "dns":
			l.DNS = strings.Fields(v)
		case "captive_portal":
			l.CaptivePortal = v
		}
	}
	return l
}

func (l Lease) String() string {
	return fmt.Sprintf("ip %s router %s dns %v", l.IP, l.Router, l.DNS)
}
