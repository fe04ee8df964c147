package radius_test

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/internal/testtool"
	"roamgate/radius"
	"roamgate/session"
)

// Revocation that real access points obey: for each implementation, the
// device signs in through the access point as its firmware does it (real
// radclient sending the attributes the firmware sends), roamgate's
// Disconnect-Request reaches the stand-in DAS (standin_das_test.go), is
// ACKed, and the device is gone from the access point. Each test also shows
// that the one Disconnect-Request roamgate used to send every NAS is refused
// by that implementation.

var (
	deviceMAC  = [6]byte{0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e}
	deviceCSI  = "02-1A-2B-3C-4D-5E" // RFC 3580
	loopback   = netip.MustParseAddr("127.0.0.1")
	loopback2  = netip.MustParseAddr("127.0.0.2")
	userNameRe = regexp.MustCompile(`\tUser-Name = "([^"]*)"\n`)
)

// dasRig is a rig whose client speaks the dialect of vendor, with short
// Disconnect timeouts, and whose DAS is at port.
func dasRig(t *testing.T, vendor string, port int, edit func(*radius.Client)) *rig {
	return startRig(t, func(c *radius.Config, d *radius.Deps) {
		c.Clients[0].Vendor = vendor
		c.Clients[0].CoAPort = port
		if edit != nil {
			edit(&c.Clients[0])
		}
		d.CoATimeout, d.CoATries = 300*time.Millisecond, 2
	})
}

// current is the session as the manager has it now (with the NAS that
// reported it).
func (r *rig) current(t *testing.T, id string) session.Session {
	t.Helper()
	s, err := r.mgr.ByID(id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDASCoovaChilli(t *testing.T) {
	chilli := startChilliDAS(t, loopback, acceptSecret) // HS_RADIUS = roamgate's address
	r := dasRig(t, "chilli", chilli.port(), nil)

	t.Run("after MAC authentication", func(t *testing.T) {
		s := r.signIn(t, deviceCSI)
		// chilli's MAC authentication (HS_MACAUTH): User-Name and
		// password the MAC in MAC_FMT (chilli.c:1565-1591).
		out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, `User-Name = "02-1A-2B-3C-4D-5E"
User-Password = "02-1A-2B-3C-4D-5E"
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Called-Station-Id = "02-AA-BB-CC-DD-EE"
NAS-Identifier = "bahnhof-chilli"
Message-Authenticator = 0x00
`)
		if !ok {
			t.Fatalf("MAC authentication failed:\n%s", out)
		}
		// chilli takes the Access-Accept's User-Name as the device's name
		// (chilli.c:4681-4690), else keeps the MAC.
		name := "02-1A-2B-3C-4D-5E"
		if m := userNameRe.FindStringSubmatch(out[strings.Index(out, "Received Access-Accept"):]); m != nil {
			name = m[1]
		}
		chilli.loggedIn(name, "69a0f3c2000000001")

		// Before dialects: the Disconnect roamgate sent had no User-Name,
		// and chilli does not even answer it.
		if ans := chilli.exchange(t, loopback, legacyDisconnect(t, acceptSecret, "bahnhof-chilli", "69a0f3c2000000001", deviceMAC, netip.Addr{})); ans != nil {
			t.Errorf("chilli answered the old Disconnect-Request with code %d", ans[0])
		}
		if !chilli.online(name) {
			t.Fatal("the old Disconnect-Request took the device offline at chilli")
		}

		res, err := r.srv.Disconnect(context.Background(), r.current(t, s.ID))
		if err != nil || res.Outcome != radius.CoAACK {
			t.Fatalf("Disconnect = %+v, %v; want ACK", res, err)
		}
		if chilli.online(name) {
			t.Error("ACKed, but the device is still online at chilli")
		}
	})

	t.Run("after UAM login", func(t *testing.T) {
		s := r.signIn(t, "02-1a-2b-3c-4d-5f")
		out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, fmt.Sprintf(`User-Name = %q
User-Password = %q
Calling-Station-Id = "02-1A-2B-3C-4D-5F"
NAS-Identifier = "bahnhof-chilli"
Message-Authenticator = 0x00
`, s.ID, r.mgr.UAMSecret(s.ID)))
		if !ok {
			t.Fatalf("UAM login failed:\n%s", out)
		}
		chilli.loggedIn(s.ID, "69a0f3c2000000002") // /logon's username (redir.c)
		res, err := r.srv.Disconnect(context.Background(), r.current(t, s.ID))
		if err != nil || res.Outcome != radius.CoAACK || chilli.online(s.ID) {
			t.Fatalf("Disconnect = %+v, %v; still online %v", res, err, chilli.online(s.ID))
		}
	})
}

func TestDASUSpot(t *testing.T) {
	noMA := false
	for _, tt := range []struct {
		name        string
		uspotFormat string // uspot's mac_format
		ours        string // radius.clients[].mac_format
		want        radius.CoAOutcome
	}{
		{"default mac_format", "", "", radius.CoAACK},
		{"mac_format set on both sides", "aa-bb-cc-dd-ee-ff", "aa-bb-cc-dd-ee-ff", radius.CoAACK},
		{"mac_format set at uspot only", "aa-bb-cc-dd-ee-ff", "", radius.CoANAK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			uspot := startUSpotDAS(t, acceptSecret)
			r := dasRig(t, "uspot", uspot.port(), func(c *radius.Client) {
				// radcli before 1.5 signs nothing (deploy/access-points/coovachilli-uspot.md).
				c.RequireMessageAuthenticator = &noMA
				c.MACFormat = tt.ours
			})
			s := r.signIn(t, deviceCSI)
			// uspot formats the MAC (uspotlib.uc:9-35) from spotfilter's
			// upper case with colons (uspot.uc:711).
			fmac := "02:1A:2B:3C:4D:5E"
			if tt.uspotFormat == "aa-bb-cc-dd-ee-ff" {
				fmac = "02-1a-2b-3c-4d-5e"
			}
			// uspot's UAM login, as client_auth builds it (uspot.uc:762-780)
			// and radcli sends it: no Message-Authenticator.
			request := map[byte]string{
				atUserName: s.ID, atCallingStationID: fmac, atCalledStationID: "02:AA:BB:CC:DD:EE:WiFi4EU",
				atAcctSessionID: "5f0e3b21c0d1e2f3", atFramedIPAddress: "10.0.0.23", atNASIdentifier: "stadtpark-uspot",
			}
			out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, fmt.Sprintf(`User-Name = %q
User-Password = %q
Calling-Station-Id = %q
Called-Station-Id = %q
Acct-Session-Id = %q
Framed-IP-Address = %s
NAS-Identifier = %q
`, s.ID, r.mgr.UAMSecret(s.ID), fmac, request[atCalledStationID], request[atAcctSessionID], request[atFramedIPAddress], request[atNASIdentifier]))
			if !ok {
				t.Fatalf("UAM login without Message-Authenticator failed:\n%s", out)
			}
			uspot.authenticated(request)

			// Before dialects: Message-Authenticator and Event-Timestamp
			// (and Framed-IP-Address) make uspot NAK.
			ans := uspot.exchange(t, loopback, legacyDisconnect(t, acceptSecret, "stadtpark-uspot", "5f0e3b21c0d1e2f3", deviceMAC, netip.MustParseAddr("10.0.0.23")))
			if ans == nil || ans[0] != codeDisconnectNAK || uspot.online() != 1 {
				t.Fatalf("uspot's answer to the old Disconnect-Request: %v, clients %d; want a NAK", ans, uspot.online())
			}

			res, err := r.srv.Disconnect(context.Background(), r.current(t, s.ID))
			if err != nil || res.Outcome != tt.want {
				t.Fatalf("Disconnect = %+v, %v; want %v", res, err, tt.want)
			}
			if online := uspot.online() == 1; online != (tt.want != radius.CoAACK) {
				t.Errorf("uspot clients after %v: %d", res.Outcome, uspot.online())
			}
		})
	}
}

func TestDASHostapd(t *testing.T) {
	hostapd := startHostapdDAS(t, loopback, "stadtpark-ap-1", acceptSecret)
	r := dasRig(t, "hostapd", hostapd.port(), nil)
	s := r.signIn(t, deviceCSI)

	// hostapd's MAC ACL request (src/ap/ieee802_11_auth.c): User-Name and
	// password in RADIUS_ADDR_FORMAT, Calling-Station-Id in RFC 3580 form.
	out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, `User-Name = "021a2b3c4d5e"
User-Password = "021a2b3c4d5e"
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Called-Station-Id = "02-AA-BB-CC-DD-EE:WiFi4EU"
NAS-Identifier = "stadtpark-ap-1"
Message-Authenticator = 0x00
`)
	if !ok {
		t.Fatalf("MAC authentication failed:\n%s", out)
	}
	const acctID = "5D2F0A1B3C4E6F70" // hostapd's "%016llX"
	hostapd.associated(deviceMAC, acctID)
	out, ok = run(t, r.srv.AcctAddr(), "acct", acceptSecret, `Acct-Status-Type = Start
Acct-Session-Id = "`+acctID+`"
Class = 0x`+hex.EncodeToString([]byte(s.ID))+`
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Framed-IP-Address = 10.20.3.40
NAS-Identifier = "stadtpark-ap-1"
`)
	if !ok {
		t.Fatalf("accounting Start not answered:\n%s", out)
	}

	// Before dialects: Framed-IP-Address is not on hostapd's list: NAK 401.
	ans := hostapd.exchange(t, loopback, legacyDisconnect(t, acceptSecret, "stadtpark-ap-1", acctID, deviceMAC, netip.MustParseAddr("10.20.3.40")))
	if ans == nil || ans[0] != codeDisconnectNAK || !hostapd.isAssociated(deviceMAC) {
		t.Fatalf("hostapd's answer to the old Disconnect-Request: %v; want a NAK", ans)
	}
	if as, _ := parseAttrs(ans); string(mustFirst(t, as, atErrorCause)) != "\x00\x00\x01\x91" {
		t.Errorf("NAK without Error-Cause 401: %x", ans)
	}

	t.Run("CoA is not sent: hostapd has none", func(t *testing.T) {
		before := hostapd.count()
		if _, err := r.srv.CoA(context.Background(), r.current(t, s.ID)); !errors.Is(err, radius.ErrNoCoA) {
			t.Errorf("CoA = %v, want ErrNoCoA", err)
		}
		if hostapd.count() != before {
			t.Error("a CoA-Request was sent to hostapd")
		}
	})

	res, err := r.srv.Disconnect(context.Background(), r.current(t, s.ID))
	if err != nil || res.Outcome != radius.CoAACK {
		t.Fatalf("Disconnect = %+v, %v; want ACK", res, err)
	}
	if hostapd.isAssociated(deviceMAC) {
		t.Error("ACKed, but the station is still associated")
	}
}

func mustFirst(t *testing.T, as []rawAttr, typ byte) []byte {
	t.Helper()
	v, ok := first(as, typ)
	if !ok {
		t.Errorf("no attribute %d", typ)
	}
	return v
}

// Meraki's cloud sends the RADIUS requests (here from 127.0.0.2) but takes
// Disconnect-Requests only at the organisation's host name (here
// "localhost", the stand-in on 127.0.0.1).
func TestDASMeraki(t *testing.T) {
	meraki := startMerakiDAS(t, "127.0.0.1:0", acceptSecret)
	r := dasRig(t, "meraki", meraki.port(), func(c *radius.Client) { c.DASAddress = "localhost" })
	s := r.signIn(t, deviceCSI)

	// The sign-on's Access-Request, from the Meraki cloud's address.
	conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, r.srv.AuthAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p := layeh.New(layeh.CodeAccessRequest, []byte(acceptSecret))
	rfc2865.UserName_SetString(p, s.ID)
	rfc2865.UserPassword_SetString(p, r.mgr.UAMSecret(s.ID))
	rfc2865.CallingStationID_SetString(p, deviceCSI)
	rfc2865.NASIdentifier_SetString(p, "Meraki Stadtpark")
	if resp := roundTrip(t, conn, encodeSigned(t, p)); layeh.Code(resp[0]) != layeh.CodeAccessAccept {
		t.Fatalf("sign-on got %v", layeh.Code(resp[0]))
	}
	meraki.signedOn(deviceCSI)
	cur := r.current(t, s.ID)
	if cur.NAS.Addr != loopback2 {
		t.Fatalf("NAS %v, want the cloud's address", cur.NAS.Addr)
	}

	if _, err := r.srv.CoA(context.Background(), cur); !errors.Is(err, radius.ErrNoCoA) {
		t.Errorf("CoA = %v, want ErrNoCoA (Meraki takes Disconnect only)", err)
	}
	res, err := r.srv.Disconnect(context.Background(), cur)
	if err != nil || res.Outcome != radius.CoAACK {
		t.Fatalf("Disconnect = %+v, %v; want ACK", res, err)
	}
	if meraki.online(deviceCSI) {
		t.Error("ACKed, but the device is still signed on")
	}
}

// Disconnect-Requests leave from the RADIUS listen address: an access point
// that takes them only from its configured server (hostapd's
// radius_das_client, chilli's HS_RADIUS) takes them although the route to
// it would pick another source address (127.0.0.1 for 127.0.0.1).
func TestDASSourceAddress(t *testing.T) {
	hostapd := startHostapdDAS(t, loopback2, "ap", acceptSecret) // radius_das_client=127.0.0.2
	r := startRig(t, func(c *radius.Config, d *radius.Deps) {
		c.AuthListen, c.AcctListen = "127.0.0.2:0", "127.0.0.2:0"
		c.Clients[0].Vendor = "hostapd"
		c.Clients[0].CoAPort = hostapd.port()
		d.CoATimeout, d.CoATries = 300*time.Millisecond, 2
	})
	s := r.signIn(t, deviceCSI)
	s.NAS = session.NAS{Addr: loopback, ID: "ap"}
	hostapd.associated(deviceMAC, "0000000000000001")
	res, err := r.srv.Disconnect(context.Background(), s)
	if err != nil || res.Outcome != radius.CoAACK {
		t.Fatalf("Disconnect = %+v, %v; want ACK from a DAS that takes requests from 127.0.0.2 only", res, err)
	}
}

// The Access-Accept carries the bandwidth in the attributes of the client's
// family, whatever name the configuration gives it (aliases included), and
// for CoovaChilli the User-Name it will know the device by — as radclient,
// with FreeRADIUS's vendor dictionaries, reads them.
func TestAcceptVendorAttributes(t *testing.T) {
	tests := []struct {
		vendor string
		want   []string
		not    []string
	}{
		{"coova", []string{`\tChilliSpot-Bandwidth-Max-Up = 2000\n`, `\tChilliSpot-Bandwidth-Max-Down = 10000\n`, `\tUser-Name = "%s"\n`}, nil},
		{"coovachilli", []string{`\tChilliSpot-Bandwidth-Max-Up = 2000\n`, `\tUser-Name = "%s"\n`}, nil},
		{"chilli", []string{`\tChilliSpot-Bandwidth-Max-Down = 10000\n`, `\tUser-Name = "%s"\n`}, nil},
		{"uspot", []string{`\tChilliSpot-Bandwidth-Max-Up = 2000\n`, `\tChilliSpot-Bandwidth-Max-Down = 10000\n`}, []string{`User-Name`}},
		{"wispr", []string{`\tWISPr-Bandwidth-Max-Up = 2000000\n`, `\tWISPr-Bandwidth-Max-Down = 10000000\n`}, nil},
		{"mikrotik", []string{`\tMikrotik-Rate-Limit = "2000k/10000k"\n`}, nil},
		{"cisco", []string{`\tAirespace-Data-Bandwidth-Average-Contract = 10000\n`, `\tAirespace-Data-Bandwidth-Average-Contract-Upstream = 2000\n`}, nil},
		{"aruba", []string{`\tAruba-User-Role = "guest-10m"\n`}, nil},
		{"hostapd", nil, []string{`Bandwidth`, `User-Name`, `Rate-Limit`}},
	}
	for _, tt := range tests {
		t.Run(tt.vendor, func(t *testing.T) {
			r := startRig(t, func(c *radius.Config, d *radius.Deps) {
				c.Clients[0].Vendor = tt.vendor
				d.Networks = map[string]radius.Bandwidth{"wifi4eu": {UpKbps: 2000, DownKbps: 10000, Role: "guest-10m"}}
			})
			s := r.signIn(t, deviceCSI)
			out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, "Calling-Station-Id = \"02-1A-2B-3C-4D-5E\"\nMessage-Authenticator = 0x00\n")
			if !ok {
				t.Fatalf("MAC authentication failed:\n%s", out)
			}
			accept := out[strings.Index(out, "Received Access-Accept"):]
			for _, w := range tt.want {
				if strings.Contains(w, "%s") {
					w = fmt.Sprintf(w, s.ID)
				}
				if !regexp.MustCompile(w).MatchString(accept) {
					t.Errorf("Access-Accept lacks %q:\n%s", w, accept)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(accept, n) {
					t.Errorf("Access-Accept has %q:\n%s", n, accept)
				}
			}
		})
	}
}

// A client without Message-Authenticator (uspot through radcli before 1.5)
// works, is named by UnsignedClients (the admin dashboard shows it) and is
// logged once when serving starts; Proxy-State still needs a signature.
func TestUnsignedClient(t *testing.T) {
	noMA := false
	var logs testtool.LogBuffer
	r := startRig(t, func(c *radius.Config, d *radius.Deps) {
		c.Clients = []radius.Client{
			{Name: "stadtpark-uspot", CIDR: "127.0.0.1", Secret: acceptSecret, Vendor: "uspot", RequireMessageAuthenticator: &noMA},
			{Name: "bahnhof-chilli", CIDR: "127.0.0.0/8", Secret: acceptSecret, Vendor: "coova"},
		}
		d.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	if got := r.srv.UnsignedClients(); !slices.Equal(got, []string{"stadtpark-uspot"}) {
		t.Errorf("UnsignedClients = %q", got)
	}
	testtool.Eventually(t, 10*time.Second, "the start-up warning", func() bool { return strings.Contains(logs.String(), "client=stadtpark-uspot") })
	s := r.signIn(t, deviceCSI)
	uam := fmt.Sprintf("User-Name = %q\nUser-Password = %q\n", s.ID, r.mgr.UAMSecret(s.ID))
	if out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, uam); !ok {
		t.Errorf("unsigned UAM login refused:\n%s", out)
	}
	if out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, uam+"Proxy-State = 0x01\n"); ok {
		t.Errorf("unsigned request with Proxy-State answered:\n%s", out)
	}
	if n := strings.Count(logs.String(), "without Message-Authenticator"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, logs.String())
	}
}

// Re-authorising a device that has just signed in at a MAC-authentication
// access point: its session has no NAS yet (the NAS's Access-Request for it
// was rejected), so the request goes to the NAS the portal saw it arrive
// through — found by the NAS-Identifier, AP MAC or address other devices'
// requests came with. hostapd takes no CoA: not sent, counted as such.
func TestReauthorize(t *testing.T) {
	nas := startNAS(t, func(req *layeh.Packet) *layeh.Packet { return req.Response(layeh.CodeCoAACK) })
	r := dasRig(t, "mac-auth", nas.port(), nil)
	// Another device, already signed in, associates at bahnhof-ap1: its
	// accepted Access-Request tells where that NAS is.
	r.signIn(t, "02-00-00-00-00-01")
	if out, ok := run(t, r.srv.AuthAddr(), "auth", acceptSecret, `Calling-Station-Id = "02-00-00-00-00-01"
Called-Station-Id = "02-AA-BB-CC-DD-EE:WiFi4EU"
NAS-Identifier = "bahnhof-ap1"
Message-Authenticator = 0x00
`); !ok {
		t.Fatalf("MAC authentication failed:\n%s", out)
	}

	s := r.signIn(t, deviceCSI) // just signed in: no NAS has reported it
	if _, err := r.srv.CoA(context.Background(), s); !errors.Is(err, radius.ErrNoNAS) {
		t.Fatalf("CoA without a NAS = %v; want ErrNoNAS (what sign-in used to end with)", err)
	}
	ap, _ := session.ParseMAC("02-AA-BB-CC-DD-EE")
	for _, tt := range []struct {
		name string
		hint radius.NASHint
	}{
		{"by NAS-Identifier", radius.NASHint{ID: "bahnhof-ap1"}},
		{"by AP MAC", radius.NASHint{AP: ap, HasAP: true}},
		{"by the access point's address", radius.NASHint{Addr: loopback}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := r.srv.Reauthorize(context.Background(), s, tt.hint)
			if err != nil || res.Outcome != radius.CoAACK {
				t.Fatalf("Reauthorize = %+v, %v; want ACK", res, err)
			}
			req := <-nas.got
			if req.Code != layeh.CodeCoARequest || rfc2865.CallingStationID_GetString(req) != deviceCSI || rfc2865.SessionTimeout_Get(req) == 0 {
				t.Errorf("NAS got %v for %q, Session-Timeout %d", req.Code, rfc2865.CallingStationID_GetString(req), rfc2865.SessionTimeout_Get(req))
			}
		})
	}
	if _, err := r.srv.Reauthorize(context.Background(), s, radius.NASHint{ID: "elsewhere"}); !errors.Is(err, radius.ErrNoNAS) {
		t.Errorf("unknown NAS: %v, want ErrNoNAS", err)
	}
	if got := testtool.Counter(t, r.metrics, "roamgate_radius_reauthorizations_total", "result", "ack"); got != 3 {
		t.Errorf("reauthorizations{ack} = %v, want 3", got)
	}
	if got := testtool.Counter(t, r.metrics, "roamgate_radius_reauthorizations_total", "result", "no_nas"); got != 1 {
		t.Errorf("reauthorizations{no_nas} = %v, want 1", got)
	}

	t.Run("hostapd takes no CoA", func(t *testing.T) {
		hostapd := startHostapdDAS(t, loopback, "stadtpark-ap-1", acceptSecret)
		r := dasRig(t, "hostapd", hostapd.port(), nil)
		s := r.signIn(t, deviceCSI)
		if _, err := r.srv.Reauthorize(context.Background(), s, radius.NASHint{Addr: loopback}); !errors.Is(err, radius.ErrNoCoA) {
			t.Errorf("Reauthorize = %v, want ErrNoCoA", err)
		}
		if hostapd.count() != 0 {
			t.Error("a request reached hostapd")
		}
		if got := testtool.Counter(t, r.metrics, "roamgate_radius_reauthorizations_total", "result", "unsupported"); got != 1 {
			t.Errorf("reauthorizations{unsupported} = %v, want 1", got)
		}
	})
}
