package dns

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/coredns/coredns/plugin"
	mdns "github.com/miekg/dns"

	osprobe "roamgate/probe" // server.go has a func probe
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

	limit     *rateLimiter // nil: no per-client limit
	gardenMax int          // 0: no cap on walled-garden answers
}

// Limits bound what one client can ask of the resolver (see ratelimit.go).
type Limits struct {
	// Rate is the queries a second one client address may send on average;
	// queries beyond it are dropped without an answer. 0: no limit.
	Rate int
	// Burst is how many queries a client may send at once; below 1 is 1.
	Burst int
	// GardenMaxResponse caps, in bytes, the answers to walled-garden
	// queries of clients without a session; a larger answer is replaced
	// by REFUSED. 0: no cap.
	GardenMaxResponse int
}

// SetLimits sets the per-client limits. Call it before serving.
func (c *Captive) SetLimits(l Limits) {
	c.limit = nil
	if l.Rate > 0 {
		c.limit = newRateLimiter(l.Rate, l.Burst)
	}
	c.gardenMax = max(l.GardenMaxResponse, 0)
}

// NewCaptive builds the handler. garden lists the walled-garden names in any
// case, with or without the final dot; AlwaysInGarden is added.
func NewCaptive(sessions Sessions, v4, v6 netip.Addr, ttl uint32, garden []string, m *Metrics) *Captive {
	c := &Captive{
		Sessions: sessions, PortalIPv4: v4.Unmap(), PortalIPv6: v6, TTL: ttl, Metrics: m,
		garden: set(append(append([]string{}, AlwaysInGarden...), garden...)),
		// The OS probe hosts always resolve to the portal while a client
		// is captive, even when a walled-garden entry (say "apple.com")
		// covers them: forwarding them would tell the phone it is online,
		// and no sign-in page would open.
		canary: set(Canaries), probe: set(osprobe.Hosts()),
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
	client, hasClient := clientAddr(w)
	if c.limit != nil && hasClient && !c.limit.allow(client) {
		// Dropped without an answer, as unbound's ip-ratelimit and
		// dnsdist's MaxQPSIPRule do: an answer would cost as much as a
		// captive one, and keep a flooding tool that waits for answers
		// at full speed.
		c.count(ResultRateLimited, qtypeOf(r))
		return mdns.RcodeSuccess, nil
	}
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
	if hasClient {
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
		return c.forwardGarden(ctx, w, r)
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

// forwardGarden passes a walled-garden query of a client without a session on to
// the next plugin, for the types a browser needs to reach a site (A, AAAA,
// CNAME, HTTPS, SVCB) and with the answer's size capped: anything else
// would let a tunnel through a garden name whose subdomains someone else
// controls (a TXT answer carries 24 times the query).
func (c *Captive) forwardGarden(ctx context.Context, w mdns.ResponseWriter, r *mdns.Msg) (int, error) {
	q := r.Question[0]
	if q.Qclass != mdns.ClassINET || !gardenType(q.Qtype) {
		c.count(ResultRefused, q.Qtype)
		return c.reply(w, r, mdns.RcodeRefused, nil, false)
	}
	if c.gardenMax == 0 || c.Next == nil {
		c.count(ResultWalledGarden, q.Qtype)
		return c.next(ctx, w, r)
	}
	cw := &cappedWriter{ResponseWriter: w, c: c, req: r}
	rcode, err := c.next(ctx, cw, r)
	if cw.capped {
		c.count(ResultTooLarge, q.Qtype)
	} else {
		c.count(ResultWalledGarden, q.Qtype)
	}
	return rcode, err
}

// gardenType reports whether a walled-garden name may be resolved for this
// type before sign-in.
func gardenType(t uint16) bool {
	switch t {
	case mdns.TypeA, mdns.TypeAAAA, mdns.TypeCNAME, mdns.TypeHTTPS, mdns.TypeSVCB:
		return true
	}
	return false
}

// cappedWriter replaces an answer larger than the captive plugin's
// gardenMax with REFUSED. REFUSED, not a truncated answer with TC set: the
// cap is a policy on the content, so a retry over TCP would only be refused
// in turn. When the query had EDNS, an Extended DNS Error (RFC 8914,
// Filtered) says why.
type cappedWriter struct {
	mdns.ResponseWriter
	c      *Captive
	req    *mdns.Msg
	capped bool
}

// WriteMsg implements mdns.ResponseWriter.
func (cw *cappedWriter) WriteMsg(m *mdns.Msg) error {
	if wireLen(m) <= cw.c.gardenMax {
		return cw.ResponseWriter.WriteMsg(m)
	}
	cw.capped = true
	return cw.ResponseWriter.WriteMsg(cw.c.refusal(cw.req, mdns.ExtendedErrorCodeFiltered, "answer too large before sign-in"))
}

// Write implements mdns.ResponseWriter, for plugins that write packed
// messages.
func (cw *cappedWriter) Write(b []byte) (int, error) {
	if len(b) <= cw.c.gardenMax {
		return cw.ResponseWriter.Write(b)
	}
	cw.capped = true
	if err := cw.ResponseWriter.WriteMsg(cw.c.refusal(cw.req, mdns.ExtendedErrorCodeFiltered, "answer too large before sign-in")); err != nil {
		return 0, err
	}
	return len(b), nil
}

// wireLen is the length of m packed with name compression, the smallest it
// goes on the wire (CoreDNS compresses what it sends).
func wireLen(m *mdns.Msg) int {
	if m.Compress {
		return m.Len()
	}
	c := *m // Len reads the sections only; the copy shares them
	c.Compress = true
	return c.Len()
}

// refusal is a REFUSED answer to r, with an Extended DNS Error when r has
// EDNS.
func (c *Captive) refusal(r *mdns.Msg, ede uint16, text string) *mdns.Msg {
	m := new(mdns.Msg)
	m.SetRcode(r, mdns.RcodeRefused)
	m.RecursionAvailable = true
	if r.IsEdns0() != nil {
		m.SetEdns0(1232, false)
		opt := m.IsEdns0()
		opt.Option = append(opt.Option, &mdns.EDNS0_EDE{InfoCode: ede, ExtraText: text})
	}
	return m
}

// qtypeOf is the query type for the counters, 0 when there is none.
func qtypeOf(r *mdns.Msg) uint16 {
	if r == nil || len(r.Question) == 0 {
		return 0
	}
	return r.Question[0].Qtype
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

// reply writes the answer and returns RcodeSuccess: by CoreDNS's protocol
// (plugin.ClientWrite) a plugin that returns REFUSED, FORMERR or SERVFAIL
// has not written, and the server would send a second answer.
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
	return mdns.RcodeSuccess, nil
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
