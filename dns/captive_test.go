package dns

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	osprobe "roamgate/probe"
	"roamgate/session"
)

// signedIn is a fake of the Sessions interface: the addresses with a live
// session.
type signedIn map[netip.Addr]bool

func (s signedIn) ByIP(a netip.Addr) (session.Session, error) {
	if s[a] {
		return session.Session{ID: "00000000000000000000000000000001"}, nil
	}
	return session.Session{}, session.ErrNotFound
}

// upstreamAnswer stands in for cache+forward: it answers every query with a
// recognisable address, so a test sees whether the query got through.
type upstreamAnswer struct{ calls int }

func (u *upstreamAnswer) Name() string { return "upstream" }
func (u *upstreamAnswer) ServeDNS(_ context.Context, w mdns.ResponseWriter, r *mdns.Msg) (int, error) {
	u.calls++
	m := new(mdns.Msg)
	m.SetReply(r)
	m.Answer = []mdns.RR{test.A(r.Question[0].Name + " 300 IN A 192.0.2.99")}
	w.WriteMsg(m)
	return mdns.RcodeSuccess, nil
}

func newTestCaptive(t *testing.T, v6 string, reg prometheus.Registerer) (*Captive, *upstreamAnswer) {
	t.Helper()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var p6 netip.Addr
	if v6 != "" {
		p6 = netip.MustParseAddr(v6)
	}
	sessions := signedIn{netip.MustParseAddr("10.0.0.7"): true, netip.MustParseAddr("2001:db8::7"): true}
	c := NewCaptive(sessions, netip.MustParseAddr("10.0.0.1"), p6, 0, []string{"Portal.Example.ORG", "wiki.example.net.", "apple.com"}, m)
	up := &upstreamAnswer{}
	c.Next = up
	return c, up
}

func TestCaptiveServeDNS(t *testing.T) {
	tests := []struct {
		name      string
		client    string
		qname     string
		qtype     uint16
		v6        string
		wantRcode int
		wantNext  bool   // passed to the next plugin
		wantAns   string // the answer's address, "" for none
		wantSOA   bool
	}{
		{"captive A", "10.0.0.8", "example.org.", mdns.TypeA, "", mdns.RcodeSuccess, false, "10.0.0.1", false},
		{"captive A mixed case", "10.0.0.8", "ExAmple.ORG.", mdns.TypeA, "", mdns.RcodeSuccess, false, "10.0.0.1", false},
		{"OS probe while captive", "10.0.0.8", "captive.apple.com.", mdns.TypeA, "", mdns.RcodeSuccess, false, "10.0.0.1", false},
		{"probe beats walled garden apple.com", "10.0.0.8", "www.apple.com.", mdns.TypeA, "", mdns.RcodeSuccess, false, "10.0.0.1", false},
		{"walled garden subdomain of apple.com", "10.0.0.8", "support.apple.com.", mdns.TypeA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"captive AAAA without portal v6", "10.0.0.8", "example.org.", mdns.TypeAAAA, "", mdns.RcodeSuccess, false, "", true},
		{"captive AAAA with portal v6", "10.0.0.8", "example.org.", mdns.TypeAAAA, "fd00::1", mdns.RcodeSuccess, false, "fd00::1", false},
		{"HTTPS is NODATA", "10.0.0.8", "example.org.", mdns.TypeHTTPS, "", mdns.RcodeSuccess, false, "", true},
		{"SVCB is NODATA", "10.0.0.8", "_dns.example.org.", mdns.TypeSVCB, "", mdns.RcodeSuccess, false, "", true},
		{"SOA is NODATA with SOA", "10.0.0.8", "example.org.", mdns.TypeSOA, "", mdns.RcodeSuccess, false, "", true},
		{"NS is NODATA with SOA", "10.0.0.8", "example.org.", mdns.TypeNS, "", mdns.RcodeSuccess, false, "", true},
		{"TXT refused", "10.0.0.8", "t.example.org.", mdns.TypeTXT, "", mdns.RcodeRefused, false, "", false},
		{"NULL refused", "10.0.0.8", "t.example.org.", mdns.TypeNULL, "", mdns.RcodeRefused, false, "", false},
		{"ANY refused", "10.0.0.8", "example.org.", mdns.TypeANY, "", mdns.RcodeRefused, false, "", false},
		{"MX refused", "10.0.0.8", "example.org.", mdns.TypeMX, "", mdns.RcodeRefused, false, "", false},
		{"canary DoH", "10.0.0.8", "use-application-dns.net.", mdns.TypeA, "", mdns.RcodeNameError, false, "", true},
		{"canary Private Relay", "10.0.0.8", "mask.icloud.com.", mdns.TypeAAAA, "", mdns.RcodeNameError, false, "", true},
		{"canary Private Relay h2", "10.0.0.8", "MASK-H2.icloud.com.", mdns.TypeA, "", mdns.RcodeNameError, false, "", true},
		{"walled garden portal host", "10.0.0.8", "portal.example.org.", mdns.TypeA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"walled garden below configured", "10.0.0.8", "a.b.wiki.example.net.", mdns.TypeA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"walled garden AAAA", "10.0.0.8", "wiki.example.net.", mdns.TypeAAAA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"walled garden CNAME", "10.0.0.8", "wiki.example.net.", mdns.TypeCNAME, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"walled garden HTTPS", "10.0.0.8", "wiki.example.net.", mdns.TypeHTTPS, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"walled garden SVCB", "10.0.0.8", "_dns.wiki.example.net.", mdns.TypeSVCB, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"walled garden TXT refused before sign-in", "10.0.0.8", "t.a.b.wiki.example.net.", mdns.TypeTXT, "", mdns.RcodeRefused, false, "", false},
		{"walled garden NULL refused before sign-in", "10.0.0.8", "t.wiki.example.net.", mdns.TypeNULL, "", mdns.RcodeRefused, false, "", false},
		{"walled garden MX refused before sign-in", "10.0.0.8", "wiki.example.net.", mdns.TypeMX, "", mdns.RcodeRefused, false, "", false},
		{"walled garden NS refused before sign-in", "10.0.0.8", "wiki.example.net.", mdns.TypeNS, "", mdns.RcodeRefused, false, "", false},
		{"walled garden ANY refused before sign-in", "10.0.0.8", "wiki.example.net.", mdns.TypeANY, "", mdns.RcodeRefused, false, "", false},
		{"walled garden SRV refused before sign-in", "10.0.0.8", "_sip._udp.wiki.example.net.", mdns.TypeSRV, "", mdns.RcodeRefused, false, "", false},
		{"signed-in client TXT below a garden name forwarded", "10.0.0.7", "t.wiki.example.net.", mdns.TypeTXT, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"walled garden is a suffix on labels only", "10.0.0.8", "notwiki.example.net.", mdns.TypeA, "", mdns.RcodeSuccess, false, "10.0.0.1", false},
		{"WiFi4EU collection always in garden", "10.0.0.8", "collection.wifi4eu.ec.europa.eu.", mdns.TypeA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"signed-in client forwarded", "10.0.0.7", "example.org.", mdns.TypeA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"signed-in client TXT forwarded", "10.0.0.7", "example.org.", mdns.TypeTXT, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"signed-in client probe forwarded", "10.0.0.7", "captive.apple.com.", mdns.TypeA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"signed-in IPv6 client forwarded", "2001:db8::7", "example.org.", mdns.TypeA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
		{"IPv4-mapped client address", "::ffff:10.0.0.7", "example.org.", mdns.TypeA, "", mdns.RcodeSuccess, true, "192.0.2.99", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, up := newTestCaptive(t, tc.v6, nil)
			r := new(mdns.Msg)
			r.SetQuestion(tc.qname, tc.qtype)
			rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: tc.client})
			if _, err := c.ServeDNS(context.Background(), rec, r); err != nil {
				t.Fatalf("ServeDNS: %v", err)
			}
			if rec.Msg == nil {
				t.Fatal("no response written")
			}
			if rec.Msg.Rcode != tc.wantRcode {
				t.Errorf("rcode %s, want %s", mdns.RcodeToString[rec.Msg.Rcode], mdns.RcodeToString[tc.wantRcode])
			}
			if (up.calls > 0) != tc.wantNext {
				t.Errorf("passed on: %v, want %v", up.calls > 0, tc.wantNext)
			}
			var got string
			if len(rec.Msg.Answer) > 1 {
				t.Fatalf("answers %v", rec.Msg.Answer)
			}
			if len(rec.Msg.Answer) == 1 {
				switch rr := rec.Msg.Answer[0].(type) {
				case *mdns.A:
					got = rr.A.String()
				case *mdns.AAAA:
					got = rr.AAAA.String()
				}
				if rr := rec.Msg.Answer[0]; rr.Header().Name != tc.qname {
					t.Errorf("answer owner %q, want %q", rr.Header().Name, tc.qname)
				}
				if !tc.wantNext && rec.Msg.Answer[0].Header().Ttl != 0 {
					t.Errorf("captive TTL %d, want 0", rec.Msg.Answer[0].Header().Ttl)
				}
			}
			if got != tc.wantAns {
				t.Errorf("answer %q, want %q", got, tc.wantAns)
			}
			if !tc.wantNext {
				hasSOA := len(rec.Msg.Ns) == 1 && rec.Msg.Ns[0].Header().Rrtype == mdns.TypeSOA
				if hasSOA != tc.wantSOA {
					t.Errorf("SOA in authority: %v, want %v", hasSOA, tc.wantSOA)
				}
				if q := rec.Msg.Question; len(q) != 1 || q[0].Name != tc.qname || q[0].Qtype != tc.qtype {
					t.Errorf("question not echoed: %v", q)
				}
			}
		})
	}
}

func TestCaptiveTTLAndEDNS(t *testing.T) {
	c := NewCaptive(signedIn{}, netip.MustParseAddr("10.0.0.1"), netip.Addr{}, 5, nil, nil)
	r := new(mdns.Msg)
	r.SetQuestion("example.org.", mdns.TypeA)
	r.SetEdns0(4096, false)
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	c.ServeDNS(context.Background(), rec, r)
	if len(rec.Msg.Answer) != 1 || rec.Msg.Answer[0].Header().Ttl != 5 {
		t.Fatalf("answer %v, want one A with TTL 5", rec.Msg.Answer)
	}
	if rec.Msg.IsEdns0() == nil {
		t.Error("EDNS query answered without OPT")
	}
}

func TestCaptiveNoUpstreamRefusesSignedIn(t *testing.T) {
	c := NewCaptive(signedIn{netip.MustParseAddr("10.0.0.7"): true}, netip.MustParseAddr("10.0.0.1"), netip.Addr{}, 0, nil, nil)
	r := new(mdns.Msg)
	r.SetQuestion("example.org.", mdns.TypeA)
	rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: "10.0.0.7"})
	c.ServeDNS(context.Background(), rec, r)
	if rec.Msg == nil || rec.Msg.Rcode != mdns.RcodeRefused {
		t.Fatalf("got %v, want REFUSED", rec.Msg)
	}
}

func TestCaptiveMalformed(t *testing.T) {
	two := new(mdns.Msg)
	two.SetQuestion("example.org.", mdns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	withAnswer := new(mdns.Msg)
	withAnswer.SetQuestion("example.org.", mdns.TypeA)
	withAnswer.Answer = []mdns.RR{test.A("example.org. 1 IN A 10.0.0.9")}
	response := new(mdns.Msg)
	response.SetQuestion("example.org.", mdns.TypeA)
	response.Response = true
	notify := new(mdns.Msg)
	notify.SetNotify("example.org.")
	extraA := new(mdns.Msg)
	extraA.SetQuestion("example.org.", mdns.TypeA)
	extraA.Extra = []mdns.RR{test.A("x.example.org. 1 IN A 10.0.0.9")}
	relative := new(mdns.Msg)
	relative.Question = []mdns.Question{{Name: "example.org", Qtype: mdns.TypeA, Qclass: mdns.ClassINET}}
	tests := []struct {
		name string
		msg  *mdns.Msg
	}{
		{"no question", new(mdns.Msg)},
		{"two questions", two},
		{"answer section in a query", withAnswer},
		{"NOTIFY opcode", notify},
		{"additional record not OPT", extraA},
		{"relative name", relative},
	}
	reg := prometheus.NewRegistry()
	c, up := newTestCaptive(t, "", reg)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: "10.0.0.7"})
			c.ServeDNS(context.Background(), rec, tc.msg)
			if rec.Msg == nil || rec.Msg.Rcode != mdns.RcodeFormatError {
				t.Fatalf("got %v, want FORMERR", rec.Msg)
			}
		})
	}
	t.Run("a response is dropped", func(t *testing.T) {
		rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: "10.0.0.7"})
		c.ServeDNS(context.Background(), rec, response)
		if rec.Msg != nil {
			t.Fatalf("answered a response: %v", rec.Msg)
		}
	})
	if up.calls != 0 {
		t.Errorf("%d malformed queries passed on", up.calls)
	}
	if got := counter(c.Metrics, "formerr", "other"); got != float64(len(tests)+1) {
		t.Errorf("formerr counter %v, want %d", got, len(tests)+1)
	}
}

func TestCaptiveMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c, _ := newTestCaptive(t, "", reg)
	ask := func(client, name string, qtype uint16) {
		r := new(mdns.Msg)
		r.SetQuestion(name, qtype)
		c.ServeDNS(context.Background(), dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: client}), r)
	}
	ask("10.0.0.8", "example.org.", mdns.TypeA)
	ask("10.0.0.8", "example.org.", mdns.TypeA)
	ask("10.0.0.8", "example.org.", mdns.TypeTXT)
	ask("10.0.0.8", "use-application-dns.net.", mdns.TypeA)
	ask("10.0.0.8", "portal.example.org.", mdns.TypeAAAA)
	ask("10.0.0.7", "example.org.", mdns.TypeA)
	ask("10.0.0.8", "example.org.", mdns.TypeHTTPS)
	ask("10.0.0.8", "example.org.", 65000)
	// Every label pair exists from the start (zero), so compare the
	// non-zero series.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() != "roamgate_dns_queries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); v != 0 {
				var l []string
				for _, lp := range m.GetLabel() {
					l = append(l, lp.GetName()+"="+lp.GetValue())
				}
				got = append(got, fmt.Sprintf("%s %g", strings.Join(l, ","), v))
			}
		}
	}
	want := []string{
		"qtype=A,result=canary 1", "qtype=A,result=captive 2", "qtype=A,result=session 1",
		"qtype=AAAA,result=walled_garden 1", "qtype=HTTPS,result=nodata 1",
		"qtype=TXT,result=refused 1", "qtype=other,result=refused 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("non-zero counters:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// counter reads one series of roamgate_dns_queries_total.
func counter(m *Metrics, result, qtype string) float64 {
	return testutil.ToFloat64(m.queries.WithLabelValues(result, qtype))
}

// TestEveryProbeHostGoesToThePortal: every host of the one probe list
// (roamgate/probe, which the portal answers) resolves to the portal while
// the client is captive, even when the walled garden covers its domain; a
// signed-in client's query for it is forwarded.
func TestEveryProbeHostGoesToThePortal(t *testing.T) {
	var garden []string
	for _, h := range osprobe.Hosts() {
		labels := strings.Split(h, ".")
		garden = append(garden, strings.Join(labels[len(labels)-2:], ".")) // apple.com, gstatic.com …
	}
	c := NewCaptive(signedIn{netip.MustParseAddr("10.0.0.7"): true}, netip.MustParseAddr("10.0.0.1"), netip.Addr{}, 0, garden, nil)
	up := &upstreamAnswer{}
	c.Next = up
	for _, h := range osprobe.Hosts() {
		r := new(mdns.Msg)
		r.SetQuestion(h+".", mdns.TypeA)
		rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: "10.0.0.8"})
		c.ServeDNS(context.Background(), rec, r)
		if rec.Msg == nil || len(rec.Msg.Answer) != 1 || rec.Msg.Answer[0].(*mdns.A).A.String() != "10.0.0.1" {
			t.Errorf("captive %s: %v, want the portal", h, rec.Msg)
		}
		calls := up.calls
		rec = dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: "10.0.0.7"})
		c.ServeDNS(context.Background(), rec, r)
		if up.calls != calls+1 {
			t.Errorf("signed-in %s not forwarded", h)
		}
	}
	if up.calls != len(osprobe.Hosts()) {
		t.Errorf("%d queries forwarded, want only the signed-in client's %d", up.calls, len(osprobe.Hosts()))
	}
}
