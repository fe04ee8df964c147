package radius

import (
	"net/netip"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
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
// authenticators, then the duplicate cache, and only then parsing and the
// session lookup.
func (s *Server) handle(l listener, src netip.AddrPort, b, replyBuf []byte) (reply []byte, out outcome) {
	return s.handleAt(l, src, b, replyBuf, time.Now())
}

// handleAt is handle for a datagram read at now (a batch's read time: one
// clock read for the batch, not one per datagram).
func (s *Server) handleAt(l listener, src netip.AddrPort, b, replyBuf []byte, now time.Time) (reply []byte, out outcome) {
	s.stats.received.Add(1)
	if len(b) > 0 {
		out.code = layeh.Code(b[0])
	}
	c := s.clients.lookup(src.Addr())
	if c == nil {
		return s.drop(out, dropUnknownClient)
	}
	out.client = c.name
	c.requests[codeIndex(out.code)].Add(1)

	b, err := frame(b)
	if err != nil {
		return s.drop(out, dropMalformed)
	}
	switch {
	case l == authListener && out.code == layeh.CodeAccessRequest:
	case l == acctListener && out.code == layeh.CodeAccountingRequest:
	case out.code == layeh.CodeStatusServer:
	default:
		return s.drop(out, dropUnsupported)
	}
	maOffset, _, err := scanAttributes(b)
	if err != nil {
		return s.drop(out, dropMalformed)
	}
	if r := s.authenticate(c, out.code, b, maOffset); r != dropNone {
		return s.drop(out, r)
	}

	if out.code == layeh.CodeStatusServer {
		// RFC 5997 §3: answered every time, never from the duplicate cache.
		return s.statusServer(c, l, b, replyBuf, out)
	}

	// The request is authentic, so its key can be trusted.
	key := newDupKey(src, l, out.code, b[1])
	auth := (*[authLen]byte)(b[4:headerLen])
	switch st, cached := s.dups.begin(key, auth, now, replyBuf); st {
	case dupResend:
		s.stats.resent.Add(1)
		out.reply, out.resent = layeh.Code(cached[0]), true
		return cached, out
	case dupInFlight:
		return s.drop(out, dropInFlight)
	}

	req := parseRequest(b, c.secret, replyBuf)
	var resp answer
	var v verdict
	switch out.code {
	case layeh.CodeAccessRequest:
		resp, v = s.access(c, src, &req)
	case layeh.CodeAccountingRequest:
		var r dropReason
		if resp, r = s.accounting(c, src, &req); r != dropNone {
			s.dups.abort(key, auth)
			return s.drop(out, r)
		}
	}
	resp.echoProxyState(&req)
	reply, err = resp.finish(c)
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
