package radius_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"roamgate/internal/testtool"
	"roamgate/radius"
	"roamgate/session"
	"roamgate/session/sessiontest"
)

// The acceptance tests drive the real server, backed by the real
// session.Manager on a temporary SQLite store, with FreeRADIUS's radclient,
// as an access point would.

const acceptSecret = "acceptance-secret-1234"

// rig is a running server and its session manager.
type rig struct {
	srv     *radius.Server
	mgr     *session.Manager
	metrics *prometheus.Registry
}

// newManager opens a session manager on a temporary SQLite store, closed
// when the test ends.
func newManager(t testing.TB) *session.Manager {
	t.Helper()
	return sessiontest.New(t, sessiontest.Options{Policy: session.Policy{Lifetime: 2 * time.Hour, IdleTimeout: 30 * time.Minute}}).Manager
}

// startRig serves on free loopback ports until the test ends. edit may
// change the configuration and dependencies first.
func startRig(t *testing.T, edit func(*radius.Config, *radius.Deps)) *rig {
	return startRigTB(t, edit)
}

func startRigB(b *testing.B) *rig { return startRigTB(b, nil) }

func startRigTB(t testing.TB, edit func(*radius.Config, *radius.Deps)) *rig {
	t.Helper()
	mgr := newManager(t)
	cfg := radius.DefaultConfig()
	cfg.AuthListen, cfg.AcctListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Clients = []radius.Client{{Name: "aps", CIDR: "127.0.0.0/8", Secret: acceptSecret, Location: "rathaus", Vendor: "coova"}}
	reg := prometheus.NewRegistry()
	deps := radius.Deps{
		Sessions:    mgr,
		IdleTimeout: mgr.Policy().IdleTimeout,
		Networks:    map[string]radius.Bandwidth{"wifi4eu": {UpKbps: 2000, DownKbps: 10000}},
		Metrics:     reg,
	}
	if edit != nil {
		edit(&cfg, &deps)
	}
	srv, err := radius.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if !errors.Is(err, radius.ErrServerClosed) {
				t.Errorf("Serve = %v, want ErrServerClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
	})
	return &rig{srv: srv, mgr: mgr, metrics: reg}
}

// signIn creates a session for mac, as the portal does.
func (r *rig) signIn(t *testing.T, mac string) session.Session {
	t.Helper()
	m, err := session.ParseMAC(mac)
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := r.mgr.Create(context.Background(), session.CreateRequest{MAC: m, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// radclient is FreeRADIUS's radclient (testtool.Need: a failure in CI, a
// skip elsewhere).
func radclient(t *testing.T) string {
	t.Helper()
	return testtool.Need(t, "radclient", "freeradius-utils")
}

// run sends the attribute list input with radclient (one try, 1 s timeout)
// and returns its output and whether it got an acceptable answer.
func run(t *testing.T, addr net.Addr, kind, secret, input string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, radclient(t), "-x", "-r", "1", "-t", "1", addr.String(), kind, secret)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func matchAll(t *testing.T, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("radclient output does not match %q:\n%s", re, out)
		}
	}
}

const (
	acceptLine = `Received Access-Accept Id \d+ from \S+ to \S+ length \d+\n\tMessage-Authenticator = 0x[0-9a-f]{32}\n`
	rejectLine = `Received Access-Reject Id \d+ from \S+ to \S+ length \d+\n\tMessage-Authenticator = 0x[0-9a-f]{32}\n`
)

func classOf(id string) string { return `\tClass = 0x` + hex.EncodeToString([]byte(id)) + `\n` }

func TestAcceptanceMACAuth(t *testing.T) {
	r := startRig(t, nil)
	s := r.signIn(t, "02-1a-2b-3c-4d-5e")
	tests := []struct {
		name, input string
	}{
		{"RFC 3580 in both", "User-Name = \"02-1A-2B-3C-4D-5E\"\nUser-Password = \"02-1A-2B-3C-4D-5E\"\nCalling-Station-Id = \"02-1A-2B-3C-4D-5E\"\n"},
		{"hostapd bare hex in User-Name, empty password", "User-Name = \"021a2b3c4d5e\"\nUser-Password = \"\"\n"},
		{"MikroTik colons in Calling-Station-Id", "Calling-Station-Id = \"02:1A:2B:3C:4D:5E\"\n"},
		{"Cisco dotted in both", "User-Name = \"021a.2b3c.4d5e\"\nCalling-Station-Id = \"021a.2b3c.4d5e\"\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret,
				tt.input+"Called-Station-Id = \"02-AA-BB-CC-DD-EE:WiFi4EU\"\nMessage-Authenticator = 0x00\n")
			if !ok {
				t.Errorf("radclient failed:\n%s", out)
			}
			matchAll(t, out, acceptLine, classOf(s.ID), `\tSession-Timeout = \d+\n`, `\tIdle-Timeout = 1800\n`,
				`\tAcct-Interim-Interval = 300\n`,
				// The client's vendor is coova: ChilliSpot bandwidth in kbit/s.
				`\tChilliSpot-Bandwidth-Max-Up = 2000\n`, `\tChilliSpot-Bandwidth-Max-Down = 10000\n`)
		})
	}
	t.Run("unknown MAC is rejected with a Reply-Message", func(t *testing.T) {
		out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, "User-Name = \"aa-bb-cc-dd-ee-ff\"\nMessage-Authenticator = 0x00\n")
		if ok {
			t.Error("radclient reported success for a reject")
		}
		matchAll(t, out, rejectLine, `\tReply-Message = "no session: please sign in at the portal"\n`)
	})
	t.Run("metrics count what happened", func(t *testing.T) {
		if got := testtool.Counter(t, r.metrics, "roamgate_radius_requests_total", "client", "aps", "code", "Access-Request"); got != 5 {
			t.Errorf("requests_total{aps, Access-Request} = %v, want 5", got)
		}
		if got := testtool.Counter(t, r.metrics, "roamgate_radius_accepts_total", "reason", "mac"); got != 4 {
			t.Errorf("accepts_total{mac} = %v, want 4", got)
		}
		if got := testtool.Counter(t, r.metrics, "roamgate_radius_rejects_total", "reason", "no_session"); got != 1 {
			t.Errorf("rejects_total{no_session} = %v, want 1", got)
		}
		// The worker observes a batch's latency after it sent the replies,
		// so radclient may have the last one before it is counted.
		samples := func() uint64 {
			mfs, err := r.metrics.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if mf.GetName() == "roamgate_radius_request_duration_seconds" {
					for _, m := range mf.GetMetric() {
						if hasLabelValue(m, "auth") {
							return m.GetHistogram().GetSampleCount()
						}
					}
				}
			}
			return 0
		}
		testtool.Eventually(t, 5*time.Second, "5 auth latency samples", func() bool { return samples() >= 5 })
		if got := samples(); got != 5 {
			t.Errorf("auth latency samples = %d, want 5", got)
		}
	})
	t.Run("revoked session is rejected at once", func(t *testing.T) {
		gone := r.signIn(t, "02-00-00-00-00-99")
		if err := r.mgr.Revoke(context.Background(), gone.ID); err != nil {
			t.Fatal(err)
		}
		out, _ := run(t, r.srv.AuthAddr(), "auth", acceptSecret, "Calling-Station-Id = \"02-00-00-00-00-99\"\nMessage-Authenticator = 0x00\n")
		matchAll(t, out, rejectLine)
	})
}

func TestAcceptanceUAM(t *testing.T) {
	r := startRig(t, nil)
	s := r.signIn(t, "02-1a-2b-3c-4d-60")
	secret := r.mgr.UAMSecret(s.ID)
	tests := []struct {
		name, input string
		accept      bool
	}{
		{"PAP", fmt.Sprintf("User-Name = %q\nUser-Password = %q\n", s.ID, secret), true},
		{"CHAP, request authenticator as challenge", fmt.Sprintf("User-Name = %q\nCHAP-Password = %q\n", s.ID, secret), true},
		{"CHAP with CHAP-Challenge", fmt.Sprintf("User-Name = %q\nCHAP-Password = %q\nCHAP-Challenge = 0x00112233445566778899aabbccddeeff\n", s.ID, secret), true},
		{"PAP, wrong password", fmt.Sprintf("User-Name = %q\nUser-Password = \"not-it\"\n", s.ID), false},
		{"CHAP, wrong password", fmt.Sprintf("User-Name = %q\nCHAP-Password = \"not-it\"\n", s.ID), false},
		{"PAP, unknown session", "User-Name = \"00000000000000000000000000000000\"\nUser-Password = \"x\"\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, tt.input+"Message-Authenticator = 0x00\n")
			if ok != tt.accept {
				t.Errorf("radclient success %v, want %v", ok, tt.accept)
			}
			if tt.accept {
				matchAll(t, out, acceptLine, classOf(s.ID))
			} else {
				matchAll(t, out, rejectLine, `\tReply-Message = "`)
			}
		})
	}
}

// TestAcceptanceUAMFromAnotherDevice: a UAM login with a session's right
// credentials is refused when the access point says it comes from another
// device (issue 11 item 1). CoovaChilli sends the device's MAC as
// Calling-Station-Id in its own notation ("XX-XX-XX-XX-XX-XX", pkt.h
// MAC_FMT) with every login (redir.c redir_radius → chilli.c
// chilli_req_attrs).
func TestAcceptanceUAMFromAnotherDevice(t *testing.T) {
	r := startRig(t, nil)
	s := r.signIn(t, "02-1a-2b-3c-4d-61")
	noMAC, _, err := r.mgr.Create(context.Background(), session.CreateRequest{Network: "wifi4eu", Location: "bahnhof"})
	if err != nil {
		t.Fatal(err)
	}
	chap := func(id string) string {
		return fmt.Sprintf("User-Name = %q\nCHAP-Password = %q\nCHAP-Challenge = 0x00112233445566778899aabbccddeeff\n", id, r.mgr.UAMSecret(id))
	}
	pap := func(id string) string {
		return fmt.Sprintf("User-Name = %q\nUser-Password = %q\n", id, r.mgr.UAMSecret(id))
	}
	tests := []struct {
		name, input string
		accept      bool
	}{
		{"CHAP from the session's device", chap(s.ID) + "Calling-Station-Id = \"02-1A-2B-3C-4D-61\"\n", true},
		{"CHAP from another device", chap(s.ID) + "Calling-Station-Id = \"02-1A-2B-3C-4D-99\"\n", false},
		{"PAP from another device", pap(s.ID) + "Calling-Station-Id = \"02-1A-2B-3C-4D-99\"\n", false},
		{"a Calling-Station-Id that is no MAC", pap(s.ID) + "Calling-Station-Id = \"10.1.0.7\"\n", false},
		{"a session signed in without a MAC, from a device", chap(noMAC.ID) + "Calling-Station-Id = \"02-1A-2B-3C-4D-99\"\n", false},
		{"no Calling-Station-Id: nothing to compare", chap(noMAC.ID), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, tt.input+"Message-Authenticator = 0x00\n")
			if ok != tt.accept {
				t.Errorf("radclient success %v, want %v:\n%s", ok, tt.accept, out)
			}
			if !tt.accept {
				matchAll(t, out, rejectLine, `\tReply-Message = "this session was signed in for another device"\n`)
			}
		})
	}
	if got := testtool.Counter(t, r.metrics, "roamgate_radius_rejects_total", "reason", "uam_wrong_device"); got != 4 {
		t.Errorf("rejects_total{uam_wrong_device} = %v, want 4", got)
	}
	// A sign-in without the token takes the MAC over (session.Manager.Create):
	// the displaced session's credentials no longer log that device in.
	r.signIn(t, "02-1a-2b-3c-4d-61")
	out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, chap(s.ID)+"Calling-Station-Id = \"02-1A-2B-3C-4D-61\"\nMessage-Authenticator = 0x00\n")
	if ok {
		t.Errorf("the displaced session's credentials were accepted:\n%s", out)
	}
}

func TestAcceptanceSilence(t *testing.T) {
	r := startRig(t, nil)
	noMA := false
	legacy := startRig(t, func(c *radius.Config, _ *radius.Deps) {
		// A client that may go without Message-Authenticator, so that the
		// Proxy-State rule (limit_proxy_state) is what drops the request.
		c.Clients[0].RequireMessageAuthenticator = &noMA
	})
	for _, rr := range []*rig{r, legacy} {
		rr.signIn(t, "02-1a-2b-3c-4d-5e")
	}
	tests := []struct {
		name, secret, input string
		rig                 *rig
		dropped             func(radius.Drops) uint64
	}{
		{"no Message-Authenticator", acceptSecret, "Calling-Station-Id = \"02-1A-2B-3C-4D-5E\"\n", r,
			func(d radius.Drops) uint64 { return d.MissingAuthenticator }},
		{"wrong secret", "not-the-secret-at-all", "Calling-Station-Id = \"02-1A-2B-3C-4D-5E\"\nMessage-Authenticator = 0x00\n", r,
			func(d radius.Drops) uint64 { return d.BadAuthenticator }},
		{"Proxy-State without Message-Authenticator", acceptSecret, "Calling-Station-Id = \"02-1A-2B-3C-4D-5E\"\nProxy-State = 0x01\n", legacy,
			func(d radius.Drops) uint64 { return d.ProxyState }},
		{"Proxy-State without Message-Authenticator, strict client", acceptSecret, "Calling-Station-Id = \"02-1A-2B-3C-4D-5E\"\nProxy-State = 0x01\n", r,
			func(d radius.Drops) uint64 { return d.MissingAuthenticator }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.dropped(tt.rig.srv.Stats().Dropped)
			out, ok := run(t, tt.rig.srv.AuthAddr(), "auth", tt.secret, tt.input)
			if ok || !strings.Contains(out, "No reply from server") {
				t.Errorf("got an answer, want none:\n%s", out)
			}
			if got := tt.dropped(tt.rig.srv.Stats().Dropped); got != before+1 {
				t.Errorf("drop counter %d → %d, want +1", before, got)
			}
		})
	}
	t.Run("the legacy client is answered without Proxy-State", func(t *testing.T) {
		out, ok := run(t, legacy.srv.AuthAddr(), "auth", acceptSecret, "Calling-Station-Id = \"02-1A-2B-3C-4D-5E\"\n")
		if !ok {
			t.Errorf("no accept:\n%s", out)
		}
	})
}

func TestAcceptanceProxyStateAndStatusServer(t *testing.T) {
	r := startRig(t, nil)
	r.signIn(t, "02-1a-2b-3c-4d-5e")
	out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret,
		"Calling-Station-Id = \"02-1A-2B-3C-4D-5E\"\nProxy-State = 0xaa01\nProxy-State = 0xbb02\nMessage-Authenticator = 0x00\n")
	if !ok {
		t.Errorf("radclient failed:\n%s", out)
	}
	matchAll(t, out, acceptLine, `\tProxy-State = 0xaa01\n\tProxy-State = 0xbb02\n`)

	for _, addr := range []net.Addr{r.srv.AuthAddr(), r.srv.AcctAddr()} {
		t.Run("Status-Server on "+addr.String(), func(t *testing.T) {
			out, ok := run(t, addr, "status", acceptSecret, "Message-Authenticator = 0x00\n")
			if !ok {
				t.Errorf("no answer to Status-Server:\n%s", out)
			}
			matchAll(t, out, `Received (Access-Accept|Accounting-Response) Id \d+`)
		})
	}
	if got := r.srv.Stats().StatusServer; got != 2 {
		t.Errorf("Stats().StatusServer = %d, want 2", got)
	}
}

func TestAcceptanceAccounting(t *testing.T) {
	r := startRig(t, nil)
	s := r.signIn(t, "02-1a-2b-3c-4d-5e")
	class := "Class = 0x" + hex.EncodeToString([]byte(s.ID)) + "\n"
	acct := func(t *testing.T, input string) {
		t.Helper()
		out, ok := run(t, r.srv.AcctAddr(), "acct", acceptSecret, input)
		if !ok {
			t.Fatalf("no Accounting-Response:\n%s", out)
		}
		matchAll(t, out, `Received Accounting-Response Id \d+`)
	}
	get := func(t *testing.T) session.Session {
		t.Helper()
		got, err := r.mgr.ByID(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	acct(t, class+`Acct-Status-Type = Start
Acct-Session-Id = "A1"
NAS-Identifier = "park-ap"
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Called-Station-Id = "02-AA-BB-CC-DD-EE:WiFi4EU"
Framed-IP-Address = 10.20.30.40
Framed-IPv6-Prefix = 2001:db8:1:2::/64
`)
	got := get(t)
	if got.CurrentLocation != "rathaus" || got.AP != "02:aa:bb:cc:dd:ee" || got.Roams != 1 ||
		got.NAS != (session.NAS{Addr: netip.MustParseAddr("127.0.0.1"), ID: "park-ap", AcctSessionID: "A1"}) ||
		got.Device.IP != netip.MustParseAddr("10.20.30.40") || got.Device.IPv6Prefix != netip.MustParsePrefix("2001:db8:1:2::/64") {
		t.Errorf("after Start: %+v", got)
	}
	if ip, err := r.mgr.ByIP(netip.MustParseAddr("10.20.30.40")); err != nil || ip.ID != s.ID {
		t.Errorf("ByIP after Start = %v, %v", ip.ID, err)
	}

	acct(t, class+`Acct-Status-Type = Interim-Update
Acct-Session-Id = "A1"
NAS-Identifier = "park-ap"
Acct-Input-Octets = 1000
Acct-Input-Gigawords = 2
Acct-Output-Octets = 4242
`)
	if got := get(t); got.InputOctets != 2<<32+1000 || got.OutputOctets != 4242 {
		t.Errorf("after Interim-Update: octets %d / %d", got.InputOctets, got.OutputOctets)
	}

	acct(t, class+`Acct-Status-Type = Stop
Acct-Session-Id = "A1"
NAS-Identifier = "park-ap"
Acct-Input-Octets = 5000
Acct-Output-Octets = 9000
`)
	if got := get(t); got.InputOctets != 5000 || got.OutputOctets != 9000 {
		t.Errorf("after Stop: octets %d / %d", got.InputOctets, got.OutputOctets)
	}

	acct(t, "Acct-Status-Type = Accounting-On\nNAS-Identifier = \"park-ap\"\n")
	if got := get(t); got.CurrentLocation != "" || got.NAS != (session.NAS{}) {
		t.Errorf("after Accounting-On the session is still present: location %q, NAS %+v", got.CurrentLocation, got.NAS)
	}
	if got := r.srv.Stats().AccountingResponses; got != 4 {
		t.Errorf("AccountingResponses = %d, want 4", got)
	}
	for status, want := range map[string]float64{"start": 1, "interim_update": 1, "stop": 1, "accounting_on": 1, "accounting_off": 0, "other": 0} {
		if got := testtool.Counter(t, r.metrics, "roamgate_radius_accounting_requests_total", "status", status); got != want {
			t.Errorf("accounting_requests_total{status=%q} = %v, want %v", status, got, want)
		}
	}
}

// TestAcceptanceRetransmission sends the same Access-Request twice: the
// second answer must be the first byte for byte, and the handler must not
// have run again (the session's Seen would have moved).
func TestAcceptanceRetransmission(t *testing.T) {
	r := startRig(t, nil)
	r.signIn(t, "02-1a-2b-3c-4d-5e")
	for _, tt := range []struct {
		name string
		code layeh.Code
		addr net.Addr
		attr func(p *layeh.Packet)
	}{
		{"Access-Request", layeh.CodeAccessRequest, r.srv.AuthAddr(), func(p *layeh.Packet) {
			rfc2865.CallingStationID_SetString(p, "02-1A-2B-3C-4D-5E")
		}},
		{"Accounting-Request", layeh.CodeAccountingRequest, r.srv.AcctAddr(), func(p *layeh.Packet) {
			rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := layeh.New(tt.code, []byte(acceptSecret))
			tt.attr(p)
			b := encodeSigned(t, p)
			conn, err := net.DialUDP("udp", nil, tt.addr.(*net.UDPAddr))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			before := r.srv.Stats()
			first := roundTrip(t, conn, b)
			second := roundTrip(t, conn, b)
			if !bytes.Equal(first, second) {
				t.Errorf("retransmission answered differently:\n%x\n%x", first, second)
			}
			if !layeh.IsAuthenticResponse(first, b, []byte(acceptSecret)) {
				t.Error("reply does not authenticate")
			}
			after := r.srv.Stats()
			if after.Resent != before.Resent+1 {
				t.Errorf("Resent %d → %d, want +1", before.Resent, after.Resent)
			}
			answered := func(s radius.Stats) uint64 { return s.Accepted + s.Rejected + s.AccountingResponses }
			if answered(after) != answered(before)+1 {
				t.Errorf("the handler ran %d times, want once", answered(after)-answered(before))
			}
			// A new request reusing the identifier is a new request.
			p.Authenticator[0] ^= 0xff                    // Access-Request
			rfc2865.NASIdentifier_SetString(p, "changed") // Accounting-Request
			third := roundTrip(t, conn, encodeSigned(t, p))
			if bytes.Equal(third, first) {
				t.Error("a new request with the same identifier got the cached reply")
			}
		})
	}
}

// encodeSigned encodes p with a Message-Authenticator computed here (RFC 3579
// §3.2); Accounting-Requests over a zero authenticator, then their Request
// Authenticator.
func encodeSigned(t *testing.T, p *layeh.Packet) []byte {
	t.Helper()
	p.Del(80)
	p.Add(80, make(layeh.Attribute, 16))
	q := *p
	if p.Code == layeh.CodeAccountingRequest {
		q.Authenticator = [16]byte{}
	}
	b, err := q.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(md5.New, p.Secret)
	h.Write(b)
	copy(p.Get(80), h.Sum(nil))
	out, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func roundTrip(t *testing.T, conn *net.UDPConn, b []byte) []byte {
	t.Helper()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

// testNAS is a UDP listener that answers Disconnect- and CoA-Requests as
// told and hands over what it received.
type testNAS struct {
	conn *net.UDPConn
	got  chan *layeh.Packet
}

func startNAS(t *testing.T, answer func(req *layeh.Packet) *layeh.Packet) *testNAS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNAS{conn: conn, got: make(chan *layeh.Packet, 16)}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			b := bytes.Clone(buf[:k])
			if !layeh.IsAuthenticRequest(b, []byte(acceptSecret)) {
				t.Errorf("NAS: request does not authenticate")
				continue
			}
			if !requestMAOK(b) {
				t.Errorf("NAS: Message-Authenticator missing or wrong")
				continue
			}
			req, err := layeh.Parse(b, []byte(acceptSecret))
			if err != nil {
				t.Errorf("NAS: %v", err)
				continue
			}
			n.got <- req
			if resp := answer(req); resp != nil {
				out, err := resp.Encode()
				if err != nil {
					t.Errorf("NAS: %v", err)
					continue
				}
				conn.WriteToUDP(out, from)
			}
		}
	}()
	return n
}

func (n *testNAS) port() int { return n.conn.LocalAddr().(*net.UDPAddr).Port }

// requestMAOK checks a Disconnect/CoA-Request's Message-Authenticator:
// HMAC-MD5 over the packet with a zero authenticator and the value zeroed.
func requestMAOK(b []byte) bool {
	q := bytes.Clone(b)
	copy(q[4:20], make([]byte, 16))
	for i := 20; i+1 < len(q); i += int(q[i+1]) {
		if q[i] == 80 && q[i+1] == 18 {
			want := bytes.Clone(q[i+2 : i+18])
			copy(q[i+2:i+18], make([]byte, 16))
			h := hmac.New(md5.New, []byte(acceptSecret))
			h.Write(q)
			return hmac.Equal(h.Sum(nil), want)
		}
		if q[i+1] < 2 {
			return false
		}
	}
	return false
}

func TestAcceptanceDisconnectOnRevoke(t *testing.T) {
	nas := startNAS(t, func(req *layeh.Packet) *layeh.Packet { return req.Response(layeh.CodeDisconnectACK) })
	r := startRig(t, func(c *radius.Config, _ *radius.Deps) {
		c.Clients[0].CoAPort = nas.port()
		c.Clients[0].Vendor = "mac-auth" // the RFC 5176 dialect (dialect.go)
	})
	r.mgr.OnEnd(r.srv.SessionEnded) // as the gateway wires it
	s := r.signIn(t, "02-1a-2b-3c-4d-5e")

	// The access point reports the session, so RADIUS knows where it is.
	out, ok := run(t, r.srv.AcctAddr(), "acct", acceptSecret, "Class = 0x"+hex.EncodeToString([]byte(s.ID))+`
Acct-Status-Type = Start
Acct-Session-Id = "sess-77"
NAS-Identifier = "bahnhof-ap1"
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Framed-IP-Address = 10.1.2.3
`)
	if !ok {
		t.Fatalf("accounting Start not answered:\n%s", out)
	}
	if err := r.mgr.Revoke(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	var req *layeh.Packet
	select {
	case req = <-nas.got:
	case <-time.After(10 * time.Second):
		t.Fatal("the NAS received no Disconnect-Request")
	}
	if req.Code != layeh.CodeDisconnectRequest {
		t.Fatalf("NAS received %v", req.Code)
	}
	for attr, want := range map[string]string{
		"Acct-Session-Id":    rfc2866.AcctSessionID_GetString(req),
		"NAS-Identifier":     rfc2865.NASIdentifier_GetString(req),
		"Calling-Station-Id": rfc2865.CallingStationID_GetString(req),
		"Framed-IP-Address":  rfc2865.FramedIPAddress_Get(req).String(),
	} {
		exp := map[string]string{"Acct-Session-Id": "sess-77", "NAS-Identifier": "bahnhof-ap1",
			"Calling-Station-Id": "02-1A-2B-3C-4D-5E", "Framed-IP-Address": "10.1.2.3"}[attr]
		if want != exp {
			t.Errorf("%s = %q, want %q", attr, want, exp)
		}
	}
	if ts, err := rfc2869.EventTimestamp_Lookup(req); err != nil || time.Since(ts) > time.Minute {
		t.Errorf("Event-Timestamp %v, %v", ts, err)
	}
	testtool.Eventually(t, 10*time.Second, "the ACK to be counted", func() bool {
		return testtool.Counter(t, r.metrics, "roamgate_radius_disconnects_total", "result", "ack") == 1
	})
}

func TestAcceptanceDisconnectResults(t *testing.T) {
	nak := func(req *layeh.Packet) *layeh.Packet {
		resp := req.Response(layeh.CodeDisconnectNAK)
		resp.Add(101, layeh.Attribute(binary.BigEndian.AppendUint32(nil, 503)))
		return resp
	}
	tests := []struct {
		name      string
		answer    func(*layeh.Packet) *layeh.Packet
		want      radius.CoAOutcome
		wantCause uint32
		wantTries int
	}{
		{"ACK", func(req *layeh.Packet) *layeh.Packet { return req.Response(layeh.CodeDisconnectACK) }, radius.CoAACK, 0, 1},
		{"NAK with Error-Cause", nak, radius.CoANAK, 503, 1},
		{"silent NAS", func(*layeh.Packet) *layeh.Packet { return nil }, radius.CoATimeout, 0, 2},
		{"wrong secret in the answer", func(req *layeh.Packet) *layeh.Packet {
			resp := req.Response(layeh.CodeDisconnectACK)
			resp.Secret = []byte("forged")
			return resp
		}, radius.CoATimeout, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nas := startNAS(t, tt.answer)
			r := startRig(t, func(c *radius.Config, d *radius.Deps) {
				c.Clients[0].CoAPort = nas.port()
				d.CoATimeout, d.CoATries = 200*time.Millisecond, 2
			})
			s := r.signIn(t, "02-1a-2b-3c-4d-5e")
			s.NAS = session.NAS{Addr: netip.MustParseAddr("127.0.0.1"), AcctSessionID: "x"}
			res, err := r.srv.Disconnect(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if res.Outcome != tt.want || res.ErrorCause != tt.wantCause || res.Tries != tt.wantTries {
				t.Errorf("Disconnect = %+v, want %v cause %d tries %d", res, tt.want, tt.wantCause, tt.wantTries)
			}
		})
	}
	t.Run("no NAS known", func(t *testing.T) {
		r := startRig(t, nil)
		s := r.signIn(t, "02-1a-2b-3c-4d-5e")
		if _, err := r.srv.Disconnect(context.Background(), s); !errors.Is(err, radius.ErrNoNAS) {
			t.Errorf("Disconnect = %v, want ErrNoNAS", err)
		}
	})
	t.Run("CoA-Request carries the new authorisation", func(t *testing.T) {
		nas := startNAS(t, func(req *layeh.Packet) *layeh.Packet { return req.Response(layeh.CodeCoAACK) })
		r := startRig(t, func(c *radius.Config, _ *radius.Deps) {
			c.Clients[0].CoAPort = nas.port()
			c.Clients[0].Vendor = "mac-auth" // coova takes no CoA (dialect.go)
		})
		s := r.signIn(t, "02-1a-2b-3c-4d-5e")
		s.NAS = session.NAS{Addr: netip.MustParseAddr("127.0.0.1"), ID: "ap"}
		res, err := r.srv.CoA(context.Background(), s)
		if err != nil || res.Outcome != radius.CoAACK {
			t.Fatalf("CoA = %+v, %v", res, err)
		}
		req := <-nas.got
		if req.Code != layeh.CodeCoARequest || rfc2865.SessionTimeout_Get(req) == 0 {
			t.Errorf("CoA-Request %v without Session-Timeout", req.Code)
		}
	})
}

func hasLabelValue(m *dto.Metric, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetValue() == v {
			return true
		}
	}
	return false
}

// byNASID is a Locator that places access points by NAS-Identifier.
type byNASID map[string]string

func (l byNASID) Locate(nasID, _, _ string, _ netip.Addr) (string, string) {
	return l[nasID], "wifi4eu"
}

// TestAcceptanceOldAssociation replays, with radclient, what a real
// CoovaChilli sent when a phone roamed from the Bahnhof AP to the Stadtpark
// AP (issue 11 item 3): the Bahnhof AP went on reporting the association
// the phone had left — chilli keeps it until its Idle-Timeout — and each of
// those records used to move the session back and count a roam. Start@A,
// Access-Request@B, Start@B, Interim@A, Stop@A: one roam, the session at
// the Stadtpark with the Stadtpark's Acct-Session-Id (where a Disconnect
// must go).
func TestAcceptanceOldAssociation(t *testing.T) {
	r := startRig(t, func(_ *radius.Config, d *radius.Deps) {
		d.Locator = byNASID{"bahnhof-ap": "bahnhof", "stadtpark-ap": "stadtpark"}
	})
	const mac = "02-1A-2B-3C-4D-70"
	s := r.signIn(t, mac)
	class := "Class = 0x" + hex.EncodeToString([]byte(s.ID)) + "\n"
	atA := "NAS-Identifier = \"bahnhof-ap\"\nCalled-Station-Id = \"02-AA-00-00-00-0A:WiFi4EU\"\nAcct-Session-Id = \"A1\"\nCalling-Station-Id = \"" + mac + "\"\n"
	atB := "NAS-Identifier = \"stadtpark-ap\"\nCalled-Station-Id = \"02-AA-00-00-00-0B:WiFi4EU\"\nAcct-Session-Id = \"B1\"\nCalling-Station-Id = \"" + mac + "\"\n"
	acct := func(t *testing.T, input string) {
		t.Helper()
		out, ok := run(t, r.srv.AcctAddr(), "acct", acceptSecret, input)
		if !ok {
			t.Fatalf("no Accounting-Response:\n%s", out)
		}
	}
	steps := []struct {
		name  string
		send  func(t *testing.T)
		loc   string
		roams int
		acct  string
	}{
		{"Start@A", func(t *testing.T) { acct(t, class+atA+"Acct-Status-Type = Start\n") }, "bahnhof", 0, "A1"},
		{"Access-Request@B", func(t *testing.T) {
			out, _ := run(t, r.srv.AuthAddr(), "auth", acceptSecret, "User-Name = \""+mac+"\"\nCalling-Station-Id = \""+mac+
				"\"\nNAS-Identifier = \"stadtpark-ap\"\nCalled-Station-Id = \"02-AA-00-00-00-0B:WiFi4EU\"\nMessage-Authenticator = 0x00\n")
			matchAll(t, out, acceptLine, classOf(s.ID))
		}, "stadtpark", 1, ""},
		{"Start@B", func(t *testing.T) { acct(t, class+atB+"Acct-Status-Type = Start\n") }, "stadtpark", 1, "B1"},
		{"Interim@A", func(t *testing.T) {
			acct(t, class+atA+"Acct-Status-Type = Interim-Update\nAcct-Input-Octets = 7000\n")
		}, "stadtpark", 1, "B1"},
		{"Stop@A", func(t *testing.T) { acct(t, class+atA+"Acct-Status-Type = Stop\nAcct-Input-Octets = 7100\n") }, "stadtpark", 1, "B1"},
	}
	for _, st := range steps {
		st.send(t)
		got, err := r.mgr.ByID(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantNAS := map[string]string{"bahnhof": "bahnhof-ap", "stadtpark": "stadtpark-ap"}[st.loc]
		if got.CurrentLocation != st.loc || got.Roams != st.roams || got.NAS.ID != wantNAS || got.NAS.AcctSessionID != st.acct {
			t.Errorf("after %s: at %s, %d roams, NAS %+v; want %s, %d, %s/%q", st.name, got.CurrentLocation, got.Roams, got.NAS, st.loc, st.roams, wantNAS, st.acct)
		}
		if got.InputOctets != 0 {
			t.Errorf("after %s: the left association's octets (%d) became the session's", st.name, got.InputOctets)
		}
	}
	if c := r.mgr.Counters(); c.StaleActivity != 2 {
		t.Errorf("StaleActivity = %d, want 2", c.StaleActivity)
	}
	if got := r.srv.Stats().AccountingResponses; got != 4 {
		t.Errorf("AccountingResponses = %d, want 4: a stale record is answered too", got)
	}
}
