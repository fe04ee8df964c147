package dns_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"roamgate/dns"
	"roamgate/internal/resolvertest"
	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sessiontest"
)

// newManager is a real session manager on a temporary SQLite store.
func newManager(t testing.TB) *session.Manager {
	t.Helper()
	return sessiontest.New(t, sessiontest.Options{Policy: session.Policy{Lifetime: time.Hour}}).Manager
}

// Upstream answers of the local resolver the tests start: recognisable, so a
// forwarded answer cannot be mistaken for the portal's.
const (
	upstreamA    = "192.0.2.10"
	upstreamAAAA = "2001:db8::10"
	upstreamTXT  = "from-upstream"
)

// startUpstream runs a tiny resolver on loopback (UDP and TCP, one port)
// that answers every A, AAAA and TXT query with fixed records; A queries
// for names starting with "big." get 100 records (about 1.6 KB).
func startUpstream(t testing.TB) string {
	t.Helper()
	handler := mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		m := new(mdns.Msg)
		m.SetReply(r)
		if len(r.Question) == 1 {
			q := r.Question[0]
			hdr := mdns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: mdns.ClassINET, Ttl: 60}
			switch q.Qtype {
			case mdns.TypeA:
				m.Answer = []mdns.RR{&mdns.A{Hdr: hdr, A: net.ParseIP(upstreamA)}}
				if strings.HasPrefix(strings.ToLower(q.Name), "big.") {
					for i := range 99 {
						m.Answer = append(m.Answer, &mdns.A{Hdr: hdr, A: net.IPv4(192, 0, 2, byte(100+i))})
					}
				}
			case mdns.TypeAAAA:
				m.Answer = []mdns.RR{&mdns.AAAA{Hdr: hdr, AAAA: net.ParseIP(upstreamAAAA)}}
			case mdns.TypeTXT:
				m.Answer = []mdns.RR{&mdns.TXT{Hdr: hdr, Txt: []string{upstreamTXT}}}
			}
		}
		w.WriteMsg(m)
	})
	return resolvertest.Serve(t, handler)
}

func startDNS(t testing.TB, cfg dns.Config, sessions dns.Sessions, reg prometheus.Registerer) *dns.Server {
	t.Helper()
	s, err := dns.New(cfg, dns.Deps{Sessions: sessions, PortalURL: "https://portal.wlan.example/", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := s.Shutdown(sctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, dns.ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return s
}

func needDig(t testing.TB) {
	t.Helper()
	testtool.Need(t, "dig", "dnsutils")
}

// answer is what dig reported.
type answer struct {
	status string   // NOERROR, NXDOMAIN, REFUSED …
	data   []string // the answer section's data fields
	out    string
}

var digStatus = regexp.MustCompile(`status: ([A-Z]+)`)

// dig asks the real dig. opts are extra dig options (+tcp, -b ADDR).
func dig(t testing.TB, server netip.AddrPort, name, qtype string, opts ...string) answer {
	t.Helper()
	args := append([]string{"@" + server.Addr().String(), "-p", fmt.Sprint(server.Port()),
		"+time=2", "+tries=1", "+noall", "+comments", "+answer", name, qtype}, opts...)
	out, err := exec.Command("dig", args...).CombinedOutput()
	a := answer{out: string(out)}
	m := digStatus.FindStringSubmatch(a.out)
	if err != nil || m == nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	a.status = m[1]
	for _, line := range strings.Split(a.out, "\n") {
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 5 {
			a.data = append(a.data, strings.Trim(strings.Join(f[4:], " "), `"`))
		}
	}
	return a
}

func (a answer) is(t testing.TB, what, status string, data ...string) {
	t.Helper()
	if a.status != status || strings.Join(a.data, ",") != strings.Join(data, ",") {
		t.Errorf("%s: got %s %v, want %s %v\n%s", what, a.status, a.data, status, data, a.out)
	}
}

func TestDigAgainstEmbeddedCoreDNS(t *testing.T) {
	needDig(t)
	mgr := newManager(t)
	cfg := dns.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.PortalIP = "10.1.0.1"
	cfg.Upstream = []string{startUpstream(t)}
	cfg.WalledGarden = []string{"stadt.example"}
	reg := prometheus.NewRegistry()
	srv := startDNS(t, cfg, mgr, reg)
	addr := srv.Addr()

	for _, proto := range []string{"+notcp", "+tcp"} {
		t.Run(proto, func(t *testing.T) {
			dig(t, addr, "example.org", "A", proto, "-b", "127.0.0.5").is(t, "captive client, example.org", "NOERROR", "10.1.0.1")
			dig(t, addr, "captive.apple.com", "A", proto, "-b", "127.0.0.5").is(t, "captive client, OS probe", "NOERROR", "10.1.0.1")
			dig(t, addr, "example.org", "AAAA", proto, "-b", "127.0.0.5").is(t, "captive AAAA without portal_ipv6", "NOERROR")
			dig(t, addr, "example.org", "HTTPS", proto, "-b", "127.0.0.5").is(t, "captive HTTPS", "NOERROR")
			dig(t, addr, "tunnel.example.org", "TXT", proto, "-b", "127.0.0.5").is(t, "TXT before sign-in", "REFUSED")
			dig(t, addr, "example.org", "ANY", proto, "-b", "127.0.0.5").is(t, "ANY before sign-in", "REFUSED")
			dig(t, addr, "use-application-dns.net", "A", proto, "-b", "127.0.0.5").is(t, "DoH canary", "NXDOMAIN")
			dig(t, addr, "mask.icloud.com", "A", proto, "-b", "127.0.0.5").is(t, "Private Relay canary", "NXDOMAIN")
			dig(t, addr, "mask-h2.icloud.com", "AAAA", proto, "-b", "127.0.0.5").is(t, "Private Relay canary h2", "NXDOMAIN")
			dig(t, addr, "www.stadt.example", "A", proto, "-b", "127.0.0.5").is(t, "configured walled garden", "NOERROR", upstreamA)
			dig(t, addr, "portal.wlan.example", "A", proto, "-b", "127.0.0.5").is(t, "portal host", "NOERROR", upstreamA)
			dig(t, addr, "collection.wifi4eu.ec.europa.eu", "A", proto, "-b", "127.0.0.5").is(t, "WiFi4EU collection", "NOERROR", upstreamA)
			// Before sign-in a garden name is no tunnel: only the types a
			// browser needs, and no large answers.
			dig(t, addr, "t.www.stadt.example", "TXT", proto, "-b", "127.0.0.5").is(t, "garden TXT before sign-in", "REFUSED")
			big := dig(t, addr, "big.stadt.example", "A", proto, "-b", "127.0.0.5")
			big.is(t, "garden answer over the size cap", "REFUSED")
			if !strings.Contains(big.out, "EDE: 17 (Filtered)") {
				t.Errorf("no Extended DNS Error for the size cap:\n%s", big.out)
			}
		})
	}

	// A sign-in at the portal from 127.0.0.5 …
	s1, _, err := mgr.Create(context.Background(), session.CreateRequest{
		Network: "wifi4eu", Location: "bahnhof", ClientIP: netip.MustParseAddr("127.0.0.5"),
	})
	if err != nil {
		t.Fatal(err)
	}
	// … and a session whose address only accounting reported (Start with
	// Framed-IP-Address 127.0.0.6).
	s2, _, err := mgr.Create(context.Background(), session.CreateRequest{Network: "wifi4eu", Location: "stadtpark"})
	if err != nil {
		t.Fatal(err)
	}
	dig(t, addr, "example.org", "A", "-b", "127.0.0.6").is(t, "before accounting", "NOERROR", "10.1.0.1")
	if _, err := mgr.Seen(s2.ID, session.Activity{IP: netip.MustParseAddr("127.0.0.6")}); err != nil {
		t.Fatal(err)
	}
	for _, client := range []string{"127.0.0.5", "127.0.0.6"} {
		for _, proto := range []string{"+notcp", "+tcp"} {
			t.Run("signed in "+client+" "+proto, func(t *testing.T) {
				dig(t, addr, "example.org", "A", proto, "-b", client).is(t, "forwarded A", "NOERROR", upstreamA)
				dig(t, addr, "captive.apple.com", "A", proto, "-b", client).is(t, "forwarded probe", "NOERROR", upstreamA)
				dig(t, addr, "example.org", "AAAA", proto, "-b", client).is(t, "forwarded AAAA", "NOERROR", upstreamAAAA)
				dig(t, addr, "tunnel.example.org", "TXT", proto, "-b", client).is(t, "forwarded TXT", "NOERROR", upstreamTXT)
				dig(t, addr, "t.www.stadt.example", "TXT", proto, "-b", client).is(t, "forwarded garden TXT", "NOERROR", upstreamTXT)
				if a := dig(t, addr, "big.stadt.example", "A", proto, "-b", client, "+ignore"); a.status != "NOERROR" {
					t.Errorf("large answer for a signed-in client: %s\n%s", a.status, a.out)
				}
			})
		}
	}
	// A revoked session is captive again at once (the cache sits behind
	// the plugin, so nothing cached leaks to it).
	if err := mgr.Revoke(context.Background(), s1.ID); err != nil {
		t.Fatal(err)
	}
	dig(t, addr, "example.org", "A", "-b", "127.0.0.5").is(t, "after revocation", "NOERROR", "10.1.0.1")
	dig(t, addr, "example.org", "A", "-b", "127.0.0.6").is(t, "the other session still forwarded", "NOERROR", upstreamA)

	// Another client is still captive: the cache behind the plugin must not
	// hand it the signed-in client's answer.
	dig(t, addr, "example.org", "A", "-b", "127.0.0.7").is(t, "other client still captive", "NOERROR", "10.1.0.1")

	for _, c := range []struct{ result, qtype string }{{"captive", "A"}, {"session", "A"}, {"canary", "A"}, {"refused", "TXT"}, {"walled_garden", "A"}} {
		if v := testtool.Counter(t, reg, "roamgate_dns_queries_total", "result", c.result, "qtype", c.qtype); v == 0 {
			t.Errorf("roamgate_dns_queries_total{result=%q,qtype=%q} = 0", c.result, c.qtype)
		}
	}
}

// TestOneAnswerPerQuery: every query gets exactly one UDP answer. The
// plugin's REFUSED and FORMERR answers used to be followed by a second one
// from CoreDNS (plugin.ClientWrite: a plugin that returns REFUSED has not
// written), which doubled what a refused flood got back.
func TestOneAnswerPerQuery(t *testing.T) {
	mgr := newManager(t)
	cfg := dns.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	srv := startDNS(t, cfg, mgr, nil)
	twoQuestions := new(mdns.Msg)
	twoQuestions.SetQuestion("example.org.", mdns.TypeA)
	twoQuestions.Question = append(twoQuestions.Question, twoQuestions.Question[0])
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		msg   *mdns.Msg
		rcode int
	}{
		{"captive A", "example.org.", mdns.TypeA, nil, mdns.RcodeSuccess},
		{"TXT refused", "example.org.", mdns.TypeTXT, nil, mdns.RcodeRefused},
		{"canary", "use-application-dns.net.", mdns.TypeA, nil, mdns.RcodeNameError},
		{"two questions", "", 0, twoQuestions, mdns.RcodeFormatError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			q := tc.msg
			if q == nil {
				q = new(mdns.Msg)
				q.SetQuestion(tc.qname, tc.qtype)
			}
			pkt, err := q.Pack()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Write(pkt); err != nil {
				t.Fatal(err)
			}
			var answers []int
			buf := make([]byte, 1500)
			// The first answer within 2 s; a second one would follow at
			// once, so 300 ms more is plenty to see it.
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			for {
				n, err := conn.Read(buf)
				if err != nil {
					break
				}
				m := new(mdns.Msg)
				if err := m.Unpack(buf[:n]); err != nil {
					t.Fatalf("answer does not parse: %v", err)
				}
				answers = append(answers, m.Rcode)
				conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			}
			if len(answers) != 1 || answers[0] != tc.rcode {
				t.Errorf("answers %v, want exactly one %s", answers, mdns.RcodeToString[tc.rcode])
			}
		})
	}
}

func TestDigIPv6Loopback(t *testing.T) {
	needDig(t)
	testtool.NeedIPv6Loopback(t)
	mgr := newManager(t)
	cfg := dns.DefaultConfig()
	cfg.Listen = "[::1]:0"
	cfg.PortalIP = "10.1.0.1"
	cfg.PortalIPv6 = "fd00::1"
	cfg.Upstream = []string{startUpstream(t)}
	srv := startDNS(t, cfg, mgr, nil)
	addr := srv.Addr()
	for _, proto := range []string{"+notcp", "+tcp"} {
		dig(t, addr, "example.org", "AAAA", proto).is(t, "captive AAAA "+proto, "NOERROR", "fd00::1")
		dig(t, addr, "example.org", "A", proto).is(t, "captive A "+proto, "NOERROR", "10.1.0.1")
	}
	if _, _, err := mgr.Create(context.Background(), session.CreateRequest{Network: "wifi4eu", ClientIP: netip.MustParseAddr("::1")}); err != nil {
		t.Fatal(err)
	}
	for _, proto := range []string{"+notcp", "+tcp"} {
		dig(t, addr, "example.org", "AAAA", proto).is(t, "signed-in AAAA "+proto, "NOERROR", upstreamAAAA)
	}
}

func TestNoUpstreamRefusesSignedInClients(t *testing.T) {
	needDig(t)
	mgr := newManager(t)
	cfg := dns.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	srv := startDNS(t, cfg, mgr, nil)
	if _, _, err := mgr.Create(context.Background(), session.CreateRequest{Network: "wifi4eu", ClientIP: netip.MustParseAddr("127.0.0.9")}); err != nil {
		t.Fatal(err)
	}
	dig(t, srv.Addr(), "example.org", "A", "-b", "127.0.0.9").is(t, "signed in, no upstream", "REFUSED")
	dig(t, srv.Addr(), "example.org", "A", "-b", "127.0.0.10").is(t, "captive, no upstream", "NOERROR", "127.0.0.1")
}

// TestShutdownFreesThePort binds the port without SO_REUSEPORT after
// Shutdown: that fails while any socket of CoreDNS is still open.
func TestShutdownFreesThePort(t *testing.T) {
	mgr := newManager(t)
	cfg := dns.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	s, err := dns.New(cfg, dns.Deps{Sessions: mgr})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	if u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr)); err == nil {
		u.Close()
		t.Fatalf("%s/udp could be bound while the server runs", addr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx) }()
	// A query over TCP leaves a connection that Shutdown must close.
	c := &mdns.Client{Net: "tcp", Timeout: 2 * time.Second}
	q := new(mdns.Msg)
	q.SetQuestion("example.org.", mdns.TypeA)
	if _, _, err := c.Exchange(q, addr.String()); err != nil {
		t.Fatalf("query before shutdown: %v", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := s.Shutdown(sctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, dns.ErrServerClosed) {
			t.Fatalf("Serve = %v, want ErrServerClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
	cancel()
	u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("%s/udp still taken after Shutdown: %v", addr, err)
	}
	u.Close()
	l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatalf("%s/tcp still taken after Shutdown: %v", addr, err)
	}
	l.Close()
	if err := s.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestListenErrorNamesTheKey(t *testing.T) {
	mgr := newManager(t)
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	cfg := dns.DefaultConfig()
	cfg.Listen = taken.LocalAddr().String()
	s, err := dns.New(cfg, dns.Deps{Sessions: mgr})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	err = s.Listen()
	if err == nil || !strings.Contains(err.Error(), "dns.listen") {
		t.Fatalf("Listen on a taken port: %v", err)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
