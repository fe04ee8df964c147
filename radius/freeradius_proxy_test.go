package radius_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"roamgate/internal/testtool"
	"roamgate/radius"
)

// FreeRADIUS 3.2 (Debian's freeradius) as the proxy a town that already runs
// FreeRADIUS for its staff WLAN puts in front of roamgate: the guest SSID's
// MAC authentication, the UAM logins (User-Name = a session ID) and their
// accounting are proxied to roamgate; roamgate's Disconnect-Requests come
// back to the proxy, which forwards them to the access point
// (deploy/freeradius-proxy.md has the same configuration, explained).

const (
	proxySecret = "proxy-and-aps-secret-1234" // NAS ↔ proxy and proxy ↔ roamgate
	dasSecret   = "proxy-to-ap-das-secret-99" // proxy → the access point's DAS
)

// freeradiusConf is the whole private configuration; radiusd.conf includes
// nothing from /etc.
var freeradiusConf = template.Must(template.New("radiusd.conf").Parse(`
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = {{.Dir}}/log
raddbdir = {{.Dir}}
radacctdir = {{.Dir}}/log
name = freeradius
confdir = {{.Dir}}
modconfdir = {{.Dir}}
run_dir = {{.Dir}}/run
db_dir = {{.Dir}}/run
libdir = /usr/lib/freeradius
pidfile = {{.Dir}}/run/radiusd.pid
correct_escapes = true
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no

log {
	destination = stdout
	colourise = no
}

security {
	allow_core_dumps = no
	max_attributes = 200
	reject_delay = 0
	status_server = yes
}

proxy_requests = yes
proxy server {
	default_fallback = no
}

# The access points and roamgate (its Disconnect-Requests): all on loopback
# here, so one entry. A real site lists the APs' network and roamgate's
# address as two clients, each with its own secret.
client loopback {
	ipaddr = 127.0.0.0/8
	secret = {{.ProxySecret}}
	require_message_authenticator = no
	limit_proxy_state = yes
}

# roamgate, as the home server of the guest realm: authentication and
# accounting on their own ports.
home_server roamgate-auth {
	type = auth
	ipaddr = 127.0.0.1
	port = {{.RoamgateAuth}}
	secret = {{.ProxySecret}}
	response_window = 5
	status_check = status-server
	check_interval = 30
	num_answers_to_alive = 1
}
home_server roamgate-acct {
	type = acct
	ipaddr = 127.0.0.1
	port = {{.RoamgateAcct}}
	secret = {{.ProxySecret}}
	response_window = 5
}
home_server_pool roamgate-auth {
	type = fail-over
	home_server = roamgate-auth
}
home_server_pool roamgate-acct {
	type = fail-over
	home_server = roamgate-acct
}
realm roamgate {
	auth_pool = roamgate-auth
	acct_pool = roamgate-acct
}

# The access point's Dynamic Authorization Server, where roamgate's
# Disconnect-Requests are forwarded.
home_server ap-das {
	type = coa
	ipaddr = 127.0.0.1
	port = {{.APDAS}}
	secret = {{.DASSecret}}
	coa {
		irt = 2
		mrt = 4
		mrc = 2
		mrd = 10
	}
}
home_server_pool ap-das {
	type = fail-over
	home_server = ap-das
}

listen {
	type = auth
	ipaddr = 127.0.0.1
	port = {{.Auth}}
	virtual_server = default
}
listen {
	type = acct
	ipaddr = 127.0.0.1
	port = {{.Acct}}
	virtual_server = default
}
listen {
	type = coa
	ipaddr = 127.0.0.1
	port = {{.CoA}}
	virtual_server = coa
}

modules {
	always reject {
		rcode = reject
	}
	always ok {
		rcode = ok
	}
}

server default {
	authorize {
		# The guest SSID's MAC authentication, and UAM logins (User-Name
		# is a roamgate session ID), go to roamgate; the staff WLAN's
		# requests stay here (here: rejected).
		if (&User-Name && &User-Name =~ /^[0-9a-f]{32}$/) {
			update control {
				&Proxy-To-Realm := "roamgate"
			}
		}
		elsif (&Called-Station-Id && &Called-Station-Id =~ /:WiFi4EU$/i) {
			update control {
				&Proxy-To-Realm := "roamgate"
			}
		}
		else {
			reject
		}
	}
	authenticate {
	}
	preacct {
		# roamgate's Access-Accept put the session ID in Class.
		if (&Class && &Class =~ /^0x[0-9a-f]{64}$/) {
			update control {
				&Proxy-To-Realm := "roamgate"
			}
		}
		elsif (&Called-Station-Id && &Called-Station-Id =~ /:WiFi4EU$/i) {
			update control {
				&Proxy-To-Realm := "roamgate"
			}
		}
	}
	accounting {
		ok
	}
}

# roamgate's Disconnect- and CoA-Requests (recv-coa handles both): forward
# them to the access point the request's NAS-Identifier names.
server coa {
	recv-coa {
		switch &NAS-Identifier {
			case "rathaus-chilli" {
				update control {
					&Home-Server-Pool := "ap-das"
				}
			}
			case {
				reject
			}
		}
		ok
	}
	send-coa {
		ok
	}
}
`))

// freeradius is a private FreeRADIUS started by a test.
type freeradius struct {
	auth, acct, coa int
	out             testtool.LogBuffer // its -X output
}

func freePort(t *testing.T, network string) int {
	t.Helper()
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	t.Fatalf("network %q", network)
	return 0
}

// startFreeRADIUS runs freeradius -X on a configuration generated for
// roamgate at rg and the access point's DAS at apDAS, until the test ends.
func startFreeRADIUS(t *testing.T, rgAuth, rgAcct, apDAS, coa int) *freeradius {
	t.Helper()
	bin := testtool.Need(t, "freeradius", "freeradius")
	dir := t.TempDir()
	for _, d := range []string{"log", "run"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f := &freeradius{auth: freePort(t, "udp"), acct: freePort(t, "udp"), coa: coa}
	var conf bytes.Buffer
	if err := freeradiusConf.Execute(&conf, map[string]any{
		"Dir": dir, "ProxySecret": proxySecret, "DASSecret": dasSecret,
		"RoamgateAuth": rgAuth, "RoamgateAcct": rgAcct, "APDAS": apDAS,
		"Auth": f.auth, "Acct": f.acct, "CoA": f.coa,
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "radiusd.conf"), conf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-X", "-d", dir, "-n", "radiusd")
	cmd.Stdout, cmd.Stderr = &f.out, &f.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("freeradius -X:\n%s", f.out.String())

		}
	})
	ready := testtool.Poll(30*time.Second, func() bool {
		select {
		case <-exited:
			t.Fatalf("freeradius exited:\n%s", f.out.String())
		default:
		}
		return strings.Contains(f.out.String(), "Ready to process requests")
	})
	if !ready {
		t.Fatalf("freeradius not ready after 30 s:\n%s", f.out.String())
	}
	return f
}

func TestFreeRADIUSProxy(t *testing.T) {
	radclient(t)
	// The access point behind the proxy is a CoovaChilli whose HS_RADIUS
	// is the proxy (127.0.0.1).
	chilli := startChilliDAS(t, loopback, dasSecret)
	proxyCoA := freePort(t, "udp")
	r := startRig(t, func(c *radius.Config, d *radius.Deps) {
		// roamgate's one client is the proxy; its DAS is the proxy's CoA
		// listener, which forwards to the access point.
		c.Clients = []radius.Client{{Name: "freeradius", CIDR: "127.0.0.0/8", Secret: proxySecret, Location: "rathaus", Vendor: "coova"}}
		c.Clients[0].CoAPort = proxyCoA
		d.CoATimeout, d.CoATries = 5*time.Second, 1
	})
	fr := startFreeRADIUS(t, r.srv.AuthAddr().(*net.UDPAddr).Port, r.srv.AcctAddr().(*net.UDPAddr).Port, chilli.port(), proxyCoA)
	proxyAuth := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: fr.auth}
	proxyAcct := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: fr.acct}

	s := r.signIn(t, deviceCSI)
	t.Run("MAC authentication", func(t *testing.T) {
		out, ok := run(t, proxyAuth, "auth", proxySecret, `User-Name = "02-1A-2B-3C-4D-5E"
User-Password = "02-1A-2B-3C-4D-5E"
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Called-Station-Id = "02-AA-BB-CC-DD-EE:WiFi4EU"
NAS-Identifier = "rathaus-chilli"
Message-Authenticator = 0x00
`)
		if !ok {
			t.Fatalf("MAC authentication through the proxy failed:\n%s", out)
		}
		matchAll(t, out, acceptLine, classOf(s.ID), `\tSession-Timeout = \d+\n`, `\tUser-Name = "`+s.ID+`"\n`)
		if strings.Contains(out[strings.Index(out, "Received"):], "Proxy-State") {
			t.Errorf("the proxy passed its Proxy-State on:\n%s", out)
		}
		chilli.loggedIn(s.ID, "5b3e0c7e00000001") // the Access-Accept's User-Name
	})
	t.Run("a staff request stays at the proxy", func(t *testing.T) {
		before := r.srv.Stats().Received
		out, _ := run(t, proxyAuth, "auth", proxySecret, "User-Name = \"alice\"\nUser-Password = \"x\"\nCalled-Station-Id = \"02-AA-BB-CC-DD-EE:Staff\"\nMessage-Authenticator = 0x00\n")
		if !strings.Contains(out, "Received Access-Reject") || r.srv.Stats().Received != before {
			t.Errorf("staff request reached roamgate (%d → %d) or was not rejected:\n%s", before, r.srv.Stats().Received, out)
		}
	})
	t.Run("UAM login without Message-Authenticator", func(t *testing.T) {
		// As uspot through radcli < 1.5 sends it. The proxy adds
		// Proxy-State, so roamgate answers only a signed request: FreeRADIUS
		// 3.2 signs every Access-Request it proxies, so the default
		// require_message_authenticator holds behind it.
		out, ok := run(t, proxyAuth, "auth", proxySecret, fmt.Sprintf("User-Name = %q\nUser-Password = %q\nNAS-Identifier = \"rathaus-chilli\"\n", s.ID, r.mgr.UAMSecret(s.ID)))
		if !ok || !strings.Contains(out, "Received Access-Accept") {
			t.Fatalf("UAM login through the proxy failed:\n%s", out)
		}
		if st := r.srv.Stats(); st.Dropped.ProxyState != 0 || st.Dropped.MissingAuthenticator != 0 {
			t.Errorf("roamgate dropped proxied requests: %+v", st.Dropped)
		}
	})
	t.Run("accounting", func(t *testing.T) {
		out, ok := run(t, proxyAcct, "acct", proxySecret, `Acct-Status-Type = Start
Acct-Session-Id = "5b3e0c7e00000001"
Class = 0x`+fmt.Sprintf("%x", s.ID)+`
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Called-Station-Id = "02-AA-BB-CC-DD-EE:WiFi4EU"
NAS-Identifier = "rathaus-chilli"
`)
		if !ok || !strings.Contains(out, "Received Accounting-Response") {
			t.Fatalf("accounting through the proxy failed:\n%s", out)
		}
		if got := r.current(t, s.ID).NAS.AcctSessionID; got != "5b3e0c7e00000001" {
			t.Errorf("session's Acct-Session-Id %q", got)
		}
	})
	t.Run("Disconnect forwarded by the proxy", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := r.srv.Disconnect(ctx, r.current(t, s.ID))
		if err != nil || res.Outcome != radius.CoAACK {
			t.Fatalf("Disconnect through the proxy = %+v, %v; want the access point's ACK", res, err)
		}
		if chilli.online(s.ID) {
			t.Error("ACKed, but the device is still online at the access point")
		}
	})
}
