package dns

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/coredns/coredns/plugin"
	mdns "github.com/miekg/dns"

	"roamgate/session"
)

// Sessions finds the live session of a client address: session.Manager.
type Sessions interface {
	ByIP(netip.Addr) (session.Session, error)
}

// Canaries are answered NXDOMAIN while a client is captive: Firefox then
// keeps its DNS-over-HTTPS off (use-application-dns.net) and iCloud Private
// Relay stays off (mask*.icloud.com), so the phone keeps asking us and can
// find the portal.
var Canaries = []string{"use-application-dns.net.", "mask.icloud.com.", "mask-h2.icloud.com."}

// ProbeHosts are the names operating systems and browsers resolve to detect
// a captive portal. While a client is captive they always resolve to the
// portal, even when a walled-garden entry (say "apple.com") covers them:
// forwarding them would tell the phone it is online and no sign-in page
// would open.
var ProbeHosts = []string{
	"captive.apple.com.", "www.apple.com.", "www.appleiphonecell.com.", "captive.g.aaplimg.com.",
	"connectivitycheck.gstatic.com.", "connectivitycheck.android.com.", "clients1.google.com.",
	"clients3.google.com.", "www.google.com.", "play.googleapis.com.",
	"www.msftconnecttest.com.", "ipv6.msftconnecttest.com.", "www.msftncsi.com.", "dns.msftncsi.com.",
	"detectportal.firefox.com.", "nmcheck.gnome.org.", "network-test.debian.org.",
	"connectivity-check.ubuntu.com.", "conncheck.opensuse.org.",
}

// AlwaysInGarden are walled-garden names every site needs: WiFi4EU's
// collection host, which counts the connections the programme funds.
var AlwaysInGarden = []string{"collection.wifi4eu.ec.europa.eu."}

// Captive is the captive plugin's handler. A query from a client with a live
// session, or for a walled-garden name, goes to Next; every other query is
// answered here so that the client finds the portal and nothing else.
type Captive struct {
	Next plugin.Handler
	// Sessions is the session index.
	Sessions Sessions
	// PortalIPv4 answers A queries; PortalIPv6, if valid, AAAA queries.
	PortalIPv4, PortalIPv6 netip.Addr
	// TTL of captive answers, in seconds.
	TTL uint32
	// Metrics counts every query; nil counts nothing.
	Metrics *Metrics

	garden  map[string]struct{}
	canary  map[string]struct{}
	probe   map[string]struct{}
	aRR     mdns.A // templates, copied per answer
	aaaaRR  mdns.AAAA
	haveV6  bool
	soaTmpl mdns.SOA
	crisis  CrisisSource // nil when Sessions does not know crisis mode
}

// NewCaptive builds the handler. garden lists the walled-garden names in any
// case, with or without the final dot; AlwaysInGarden is added.
func NewCaptive(sessions Sessions, v4, v6 netip.Addr, ttl uint32, garden []string, m *Metrics) *Captive {
	c := &Captive{
		Sessions: sessions, PortalIPv4: v4.Unmap(), PortalIPv6: v6, TTL: ttl, Metrics: m,
		garden: set(append(append([]string{}, AlwaysInGarden...), garden...)),
		canary: set(Canaries), probe: set(ProbeHosts),
	}
	c.crisis, _ = sessions.(CrisisSource)
	c.aRR = mdns.A{Hdr: mdns.RR_Header{Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: ttl}, A: c.PortalIPv4.AsSlice()}
	if v6.IsValid() {
		c.haveV6 = true
		c.aaaaRR = mdns.AAAA{Hdr: mdns.RR_Header{Rrtype: mdns.TypeAAAA, Class: mdns.ClassINET, Ttl: ttl}, AAAA: v6.AsSlice()}
	}
	// The SOA of negative answers: its minimum is the TTL, so a resolver in
	// between forgets "no such name" as soon as it forgets the portal.
	c.soaTmpl = mdns.SOA{
		Hdr: mdns.RR_Header{Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: ttl},
		Ns:  "portal.captive.invalid.", Mbox: "hostmaster.captive.invalid.",
		Serial: 1, Refresh: 60, Retry: 60, Expire: 60, Minttl: ttl,
	}
	return c
}

func set(names []string) map[string]struct{} {
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		if c, ok := canonicalName(n); ok {
			m[c] = struct{}{}
		}
	}
	return m
}

// Name implements plugin.Handler.
func (c *Captive) Name() string { return "captive" }

// ServeDNS implements plugin.Handler.
func (c *Captive) ServeDNS(ctx context.Context, w mdns.ResponseWriter, r *mdns.Msg) (int, error) {
	if r == nil || r.Response {
		// Answering a response could start a loop between two servers:
		// dropped silently, as the DNS library's own filter does.
		c.count(ResultFormErr, 0)
		return mdns.RcodeSuccess, nil
	}
	if !wellFormed(r) {
		c.count(ResultFormErr, 0)
		return c.reply(w, r, mdns.RcodeFormatError, nil, false)
	}
	q := r.Question[0]
	if c.crisis != nil && c.crisis.CrisisActive() {
		c.count(ResultCrisis, q.Qtype)
		return c.next(ctx, w, r)
	}
	if client, ok := clientAddr(w); ok {
		if _, err := c.Sessions.ByIP(client); err == nil {
			c.count(ResultSession, q.Qtype)
			return c.next(ctx, w, r)
		}
	}
	name := lower(q.Name)
	if _, ok := c.canary[name]; ok {
		c.count(ResultCanary, q.Qtype)
		return c.reply(w, r, mdns.RcodeNameError, nil, true)
	}
	if _, probe := c.probe[name]; !probe && c.inGarden(name) {
		c.count(ResultWalledGarden, q.Qtype)
		return c.next(ctx, w, r)
	}
	if q.Qclass != mdns.ClassINET {
		c.count(ResultRefused, q.Qtype)
		return c.reply(w, r, mdns.RcodeRefused, nil, false)
	}
	switch q.Qtype {
	case mdns.TypeA:
		rr := c.aRR
		rr.Hdr.Name = q.Name
		c.count(ResultCaptive, q.Qtype)
		return c.reply(w, r, mdns.RcodeSuccess, &rr, false)
	case mdns.TypeAAAA:
		if c.haveV6 {
			rr := c.aaaaRR
			rr.Hdr.Name = q.Name
			c.count(ResultCaptive, q.Qtype)
			return c.reply(w, r, mdns.RcodeSuccess, &rr, false)
		}
		c.count(ResultNoData, q.Qtype)
		return c.reply(w, r, mdns.RcodeSuccess, nil, true)
	case mdns.TypeHTTPS, mdns.TypeSVCB, mdns.TypeNS, mdns.TypeSOA:
		// No HTTPS/SVCB record: the browser must not be told about ECH or
		// HTTP/3 for a name we answer falsely. NS and SOA get the
		// synthetic SOA in the authority section only.
		c.count(ResultNoData, q.Qtype)
		return c.reply(w, r, mdns.RcodeSuccess, nil, true)
	default:
		// TXT, NULL, ANY, CNAME, MX … would only serve DNS tunnels before
		// sign-in.
		c.count(ResultRefused, q.Qtype)
		return c.reply(w, r, mdns.RcodeRefused, nil, false)
	}
}

func (c *Captive) count(r Result, qtype uint16) { c.Metrics.count(r, qtype) }

// next hands the query to the next plugin, or refuses it when there is none
// (no upstream configured).
func (c *Captive) next(ctx context.Context, w mdns.ResponseWriter, r *mdns.Msg) (int, error) {
	if c.Next == nil {
		return c.reply(w, r, mdns.RcodeRefused, nil, false)
	}
	return plugin.NextOrFailure(c.Name(), c.Next, ctx, w, r)
}

// reply writes the answer. It returns the rcode and nil: CoreDNS writes
// nothing more for an error the plugin has answered itself.
func (c *Captive) reply(w mdns.ResponseWriter, r *mdns.Msg, rcode int, answer mdns.RR, soa bool) (int, error) {
	m := new(mdns.Msg)
	if len(r.Question) > 0 {
		m.SetReply(r)
	} else {
		m.SetRcodeFormatError(r)
	}
	m.Rcode = rcode
	m.Authoritative = rcode != mdns.RcodeRefused && rcode != mdns.RcodeFormatError
	m.RecursionAvailable = true
	if answer != nil {
		m.Answer = []mdns.RR{answer}
	}
	if soa && len(r.Question) > 0 {
		rr := c.soaTmpl
		rr.Hdr.Name = r.Question[0].Name
		m.Ns = []mdns.RR{&rr}
	}
	if opt := r.IsEdns0(); opt != nil {
		m.SetEdns0(1232, false)
	}
	w.WriteMsg(m)
	return rcode, nil
}

// wellFormed accepts what a stub resolver sends: a query with exactly one
// question, nothing in the answer and authority sections, and at most an
// OPT record in the additional section.
func wellFormed(r *mdns.Msg) bool {
	if r.Opcode != mdns.OpcodeQuery || len(r.Question) != 1 ||
		len(r.Answer) != 0 || len(r.Ns) != 0 || len(r.Extra) > 1 {
		return false
	}
	if len(r.Extra) == 1 && r.Extra[0].Header().Rrtype != mdns.TypeOPT {
		return false
	}
	// A name off the wire is always fully qualified; one that is not came
	// from a caller that built the message by hand.
	name := r.Question[0].Name
	return len(name) > 0 && name[len(name)-1] == '.'
}

// inGarden reports whether name or one of its parents is a walled-garden
// name. name is lower case and fully qualified; the lookups take substrings,
// so they do not allocate.
func (c *Captive) inGarden(name string) bool {
	for i := 0; i < len(name); {
		if _, ok := c.garden[name[i:]]; ok {
			return true
		}
		j := strings.IndexByte(name[i:], '.')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}

// lower returns name in lower case, allocating only when it has upper-case
// letters (0x20-randomised queries).
func lower(name string) string {
	for i := 0; i < len(name); i++ {
		if c := name[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(name)
		}
	}
	return name
}

// clientAddr is the query's source address without allocating.
func clientAddr(w mdns.ResponseWriter) (netip.Addr, bool) {
	var ip net.IP
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip = a.IP
	case *net.TCPAddr:
		ip = a.IP
	default:
		return netip.Addr{}, false
	}
	addr, ok := netip.AddrFromSlice(ip)
	return addr.Unmap(), ok
}
