//go:build linux

package chillitest

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The core's addresses (on its loopback, reached through the access
// points' WAN links). Fixed: they live only inside the test's namespaces.
const (
	// CoreIP is where the gateway under test listens.
	CoreIP = "10.99.0.1"
	// InternetIP is the stand-in internet's web server.
	InternetIP = "203.0.113.80"
	// InternetMarker starts every page of the stand-in internet, so a
	// phone can tell it reached it and not a portal.
	InternetMarker = "the open internet: "
)

// Net is the test's network: a core namespace and the access points
// attached to it. Phones join an access point's LAN.
type Net struct {
	inst Install
	// Core holds the gateway under test (on CoreIP) and the stand-in
	// internet (on InternetIP).
	Core   *Netns
	aps    []*AP
	phones int
}

// NewNet creates the core namespace.
func NewNet(t testing.TB, inst Install) *Net {
	t.Helper()
	n := &Net{inst: inst, Core: NewNetns(t, "core")}
	n.Core.IP(t, "addr", "add", CoreIP+"/32", "dev", "lo")
	n.Core.IP(t, "addr", "add", InternetIP+"/32", "dev", "lo")
	return n
}

// AP is an access point: a namespace with a bridge "lan" that phones join
// and a veth "wan" to the core, routed (no NAT), so the core sees phones by
// their own addresses.
type AP struct {
	// Name is the place, e.g. "bahnhof".
	Name string
	NS   *Netns
	// Index numbers the access point from 1; its addresses follow from it.
	Index int
	// WANIP is where it sends RADIUS from (10.99.<i>.2).
	WANIP string
	// Network is its phones' /24 (10.<i>.0.0) and UAMListen chilli's
	// address in it (10.<i>.0.1).
	Network, UAMListen string
	// MAC is the LAN bridge's address: chilli's Called-Station-Id and the
	// redirect's called=.
	MAC    string
	Chilli *Chilli
	inst   Install
}

// AddAP creates access point number len+1 with its links and routes.
func (n *Net) AddAP(t testing.TB, name string) *AP {
	t.Helper()
	i := len(n.aps) + 1
	ap := &AP{
		Name: name, NS: NewNetns(t, "ap"+strconv.Itoa(i)), Index: i,
		WANIP:     fmt.Sprintf("10.99.%d.2", i),
		Network:   fmt.Sprintf("10.%d.0.0", i),
		UAMListen: fmt.Sprintf("10.%d.0.1", i),
		MAC:       fmt.Sprintf("02:00:5e:10:%02x:01", i),
		inst:      n.inst,
	}
	coreIf := "ap" + strconv.Itoa(i)
	Veth(t, n.Core, coreIf, ap.NS, "wan", "")
	n.Core.IP(t, "addr", "add", fmt.Sprintf("10.99.%d.1/24", i), "dev", coreIf)
	n.Core.IP(t, "link", "set", coreIf, "up")
	n.Core.IP(t, "route", "add", ap.Network+"/24", "via", ap.WANIP)
	ap.NS.IP(t, "addr", "add", ap.WANIP+"/24", "dev", "wan")
	ap.NS.IP(t, "link", "set", "wan", "up")
	ap.NS.IP(t, "route", "add", "default", "via", fmt.Sprintf("10.99.%d.1", i))
	ap.NS.IP(t, "link", "add", "lan", "address", ap.MAC, "type", "bridge")
	ap.NS.IP(t, "link", "set", "lan", "up")
	n.aps = append(n.aps, ap)
	return ap
}

// StartChilli runs chilli on the access point with the topology's
// variables (interfaces, network, UAM address, tun device) followed by
// vars (RADIUS, portal, secrets …).
func (ap *AP) StartChilli(t testing.TB, vars ...Var) *Chilli {
	t.Helper()
	base := []Var{
		{"HS_WANIF", "wan"},
		{"HS_LANIF", "lan"},
		{"HS_NETWORK", ap.Network},
		{"HS_NETMASK", "255.255.255.0"},
		{"HS_UAMLISTEN", ap.UAMListen},
		{"HS_TUNDEV", "tun0"}, // a tun of its own: the namespace is its own
	}
	ap.Chilli = startChilli(t, ap.inst, ap.NS, append(base, vars...))
	return ap.Chilli
}

// ServeInternet starts the stand-in internet in the core: every path
// answers InternetMarker and the path; /bytes/N answers N bytes more. It
// runs in the test process, listening inside the core namespace.
func (n *Net) ServeInternet(t testing.TB) string {
	t.Helper()
	l := n.Core.Listen(t, "tcp", InternetIP+":80")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, "%s%s\n", InternetMarker, r.URL.Path)
		if size, ok := strings.CutPrefix(r.URL.Path, "/bytes/"); ok {
			if k, err := strconv.Atoi(size); err == nil && k > 0 && k <= 16<<20 {
				w.Write([]byte(strings.Repeat("x", k)))
			}
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return "http://" + InternetIP
}
