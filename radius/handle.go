package radius

import (
	"net/netip"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/session"
)

// listener says which socket a datagram came in on.
type listener uint8

const (
	authListener listener = iota
	acctListener
)

func (l listener) String() string {
	if l == acctListener {
		return "acct"
	}
	return "auth"
}

// outcome is what became of one datagram.
type outcome struct {
	client string     // the client's name; empty if unknown
	code   layeh.Code // the request's code; 0 if too short to have one
	reply  layeh.Code // the code of the reply sent; 0 if none
	drop   dropReason // why there was no reply
	resent bool       // the reply came from the duplicate cache
}

// handle processes one datagram from src that arrived on l and returns the
// reply to send, or nil to stay silent. The reply is built in replyBuf
// (layeh.MaxPacketLength octets, the worker's for this datagram), so that
// answering allocates nothing. It does no I/O besides the Sessions and
// Locator calls (and, for accounting, the durable record), keeps no
// reference to b or replyBuf, and counts everything.
//
// The order is fixed by what each step costs an attacker and us: the client
// table first (unknown sources cost nothing), then framing and code, then the
// authenticators, and only for an authentic request parsing (in place), the
// MAC's index key, the duplicate cache and the session lookup.
func (s *Server) handle(l listener, src netip.AddrPort, b, replyBuf []byte) (reply []byte, out outcome) {
	return s.handleAt(l, src, b, replyBuf, time.Now())
}

// handleAt is handle for a datagram read at now (a batch's read time: one
// clock read for the batch, not one per datagram).
func (s *Server) handleAt(l listener, src netip.AddrPort, b, replyBuf []byte, now time.Time) (reply []byte, out outcome) {
	var p pending
	s.begin(&p, l, src, b, replyBuf, now)
	return s.finish(&p)
}

// pending is a datagram between the two halves of its handling. A worker
// begins every datagram of a batch, has the Sessions read the index lines
// of all their lookups at once (warm), and then finishes each: one
// answer's lookup after another, the cache misses of the session index
// could not overlap (see session/warm.go).
type pending struct {
	done  bool // begin decided: reply (nil: silence) and out are final
	reply []byte
	out   outcome
	l     listener
	src   netip.AddrPort
	now   time.Time
	c     *client
	req   request
}

// begin is handle up to the duplicate cache: what can be decided without
// it (unknown client, framing, authenticators, Status-Server), then the
// attributes, and for MAC authentication the MAC and its index key.
func (s *Server) begin(p *pending, l listener, src netip.AddrPort, b, replyBuf []byte, now time.Time) {
	*p = pending{l: l, src: src, now: now}
	p.reply, p.out, p.done = s.check(p, b, replyBuf)
}

// check is begin's work; done says that it decided the datagram's reply
// (nil: silence) and outcome.
func (s *Server) check(p *pending, b, replyBuf []byte) (reply []byte, out outcome, done bool) {
	s.stats.received.Add(1)
	if len(b) > 0 {
		out.code = layeh.Code(b[0])
	}
	c := s.clients.lookup(p.src.Addr())
	if c == nil {
		return s.dropped(out, dropUnknownClient)
	}
	out.client = c.name
	c.requests[codeIndex(out.code)].Add(1)

	b, err := frame(b)
	if err != nil {
		return s.dropped(out, dropMalformed)
	}
	switch {
	case p.l == authListener && out.code == layeh.CodeAccessRequest:
	case p.l == acctListener && out.code == layeh.CodeAccountingRequest:
	case out.code == layeh.CodeStatusServer:
	default:
		return s.dropped(out, dropUnsupported)
	}
	maOffset, _, err := scanAttributes(b)
	if err != nil {
		return s.dropped(out, dropMalformed)
	}
	if r := s.authenticate(c, out.code, b, maOffset); r != dropNone {
		return s.dropped(out, r)
	}

	if out.code == layeh.CodeStatusServer {
		// RFC 5997 §3: answered every time, never from the duplicate cache.
		reply, out = s.statusServer(c, p.l, b, replyBuf, out)
		return reply, out, true
	}
	// Parsed before the duplicate cache, which a retransmission (rare)
	// makes wasted work: the MAC and its key are what warm needs.
	p.c = c
	p.req = parseRequest(b, c.secret, replyBuf)
	if out.code == layeh.CodeAccessRequest && !isUAM(&p.req) {
		s.macOf(&p.req)
	}
	return nil, out, false
}

// dropped is drop for begin.
func (s *Server) dropped(out outcome, r dropReason) ([]byte, outcome, bool) {
	reply, out := s.drop(out, r)
	return reply, out, true
}

// warm has the Sessions read the index lines of the MAC lookups of ps
// (session.Manager.Warm), hs being the worker's buffer for their keys.
func (s *Server) warm(ps []pending, hs []session.HashedMAC) {
	if s.shared == nil {
		return
	}
	hs = hs[:0]
	for i := range ps {
		if m := &ps[i].req.mac; !ps[i].done && m.hashed {
			hs = append(hs, m.key)
		}
	}
	if len(hs) > 0 {
		s.shared.Warm(hs)
	}
}

// finish is handle from the duplicate cache on, for a datagram begin did
// not decide.
func (s *Server) finish(p *pending) (reply []byte, out outcome) {
	if p.done {
		return p.reply, p.out
	}
	out, c, req, now := p.out, p.c, &p.req, p.now
	b := req.b
	// The request is authentic, so its key can be trusted.
	key := newDupKey(p.src, p.l, out.code, b[1])
	auth := (*[authLen]byte)(b[4:headerLen])
	switch st, cached := s.dups.begin(key, auth, now, req.replyBuf); st {
	case dupResend:
		s.stats.resent.Add(1)
		out.reply, out.resent = layeh.Code(cached[0]), true
		return cached, out
	case dupInFlight:
		return s.drop(out, dropInFlight)
	}

	var resp answer
	var v verdict
	switch out.code {
	case layeh.CodeAccessRequest:
		resp, v = s.access(c, p.src, req)
	case layeh.CodeAccountingRequest:
		var r dropReason
		if resp, r = s.accounting(c, p.src, req); r != dropNone {
			s.dups.abort(key, auth)
			return s.drop(out, r)
		}
	}
	resp.echoProxyState(req)
	reply, err := resp.finish(c)
	if err != nil {
		// Only a request full of Proxy-State can make the reply too long.
		s.dups.abort(key, auth)
		return s.drop(out, dropMalformed)
	}
	s.dups.finish(key, auth, reply, now)
	out.reply = resp.code()
	switch out.reply {
	case layeh.CodeAccessAccept, layeh.CodeAccessReject:
		s.stats.verdicts[v].Add(1)
	case layeh.CodeAccountingResponse:
		s.stats.accountingResponses.Add(1)
	}
	return reply, out
}

// statusServer answers Status-Server (RFC 5997): Access-Accept on the
// authentication port, Accounting-Response on the accounting port, with a
// Message-Authenticator in both.
func (s *Server) statusServer(c *client, l listener, b, replyBuf []byte, out outcome) ([]byte, outcome) {
	req := parseRequest(b, c.secret, replyBuf)
	code := layeh.CodeAccessAccept
	if l == acctListener {
		code = layeh.CodeAccountingResponse
	}
	resp := newReplyTo(&req, code, true)
	resp.echoProxyState(&req)
	reply, err := resp.finish(c)
	if err != nil {
		return s.drop(out, dropMalformed)
	}
	s.stats.statusServer.Add(1)
	out.reply = code
	return reply, out
}

func (s *Server) drop(out outcome, r dropReason) ([]byte, outcome) {
	s.stats.dropped[r].Add(1)
	out.drop = r
	return nil, out
}

// authenticate checks the packet's authenticators against the client's
// secret and returns why it must be dropped, or dropNone.
func (s *Server) authenticate(c *client, code layeh.Code, b []byte, maOffset int) dropReason {
	var auth []byte
	switch code {
	case layeh.CodeAccessRequest:
		if maOffset < 0 {
			if c.requireMA {
				return dropMissingAuthenticator
			}
			// limit_proxy_state: a forged Access-Reject can be turned into
			// an Accept through Proxy-State (Blast-RADIUS); a request that
			// carries one must be signed.
			if hasAttribute(b, rfc2865.ProxyState_Type) {
				return dropProxyState
			}
			return dropNone
		}
		auth = b[4:headerLen]
	case layeh.CodeStatusServer:
		// RFC 5997 §3: Status-Server MUST carry a Message-Authenticator.
		if maOffset < 0 {
			return dropMissingAuthenticator
		}
		auth = b[4:headerLen]
	case layeh.CodeAccountingRequest:
		if !requestAuthenticatorOK(b, c.secret) {
			return dropBadAuthenticator
		}
		if maOffset < 0 {
			return dropNone
		}
		auth = zeroAuth[:]
	default:
		return dropUnsupported
	}
	st := c.getHMAC()
	ok := verifyMessageAuthenticator(st, b, maOffset, auth)
	c.putHMAC(st)
	if !ok {
		return dropBadAuthenticator
	}
	return dropNone
}

// hasAttribute reports whether the framed, scanned packet b holds an
// attribute of type t.
func hasAttribute(b []byte, t layeh.Type) bool {
	for i := headerLen; i+1 < len(b); i += int(b[i+1]) {
		if layeh.Type(b[i]) == t {
			return true
		}
	}
	return false
}

// Request codes counted per client.
const (
	codeIdxAccess = iota
	codeIdxAccounting
	codeIdxStatus
	codeIdxOther
	numCodeIdx
)

var codeIdxNames = [numCodeIdx]string{"Access-Request", "Accounting-Request", "Status-Server", "other"}

func codeIndex(c layeh.Code) int {
	switch c {
	case layeh.CodeAccessRequest:
		return codeIdxAccess
	case layeh.CodeAccountingRequest:
		return codeIdxAccounting
	case layeh.CodeStatusServer:
		return codeIdxStatus
	}
	return codeIdxOther
}
