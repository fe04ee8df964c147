package radius

import (
	"net/netip"

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
}

// handle processes one datagram from src that arrived on l and returns the
// reply to send, or nil to stay silent. It does no I/O besides the Sessions
// and Locator calls, keeps no reference to b, and counts everything.
//
// The order is fixed by what each step costs an attacker and us: the client
// table first (unknown sources cost nothing), then framing and code, then the
// authenticators, and only then parsing and the session lookup.
func (s *Server) handle(l listener, src netip.AddrPort, b []byte) (reply []byte, out outcome) {
	s.stats.received.Add(1)
	if len(b) > 0 {
		out.code = layeh.Code(b[0])
	}
	c := s.clients.lookup(src.Addr())
	if c == nil {
		return s.drop(out, dropUnknownClient)
	}
	out.client = c.name

	b, err := frame(b)
	if err != nil {
		return s.drop(out, dropMalformed)
	}
	switch {
	case l == authListener && out.code == layeh.CodeAccessRequest:
	case l == acctListener && out.code == layeh.CodeAccountingRequest:
	default:
		// Status-Server (RFC 5997) and CoA replies come with the next issue.
		return s.drop(out, dropUnsupported)
	}
	maOffset, count, err := scanAttributes(b)
	if err != nil {
		return s.drop(out, dropMalformed)
	}

	if r := s.authenticate(c, out.code, b, maOffset); r != dropNone {
		return s.drop(out, r)
	}

	// The RFC 5080 duplicate cache goes here: the request is authentic, so
	// (src, code, identifier, authenticator) can be trusted as a key.

	req := parseRequest(b, c.secret, count)
	var resp *layeh.Packet
	switch out.code {
	case layeh.CodeAccessRequest:
		resp = s.access(c, src, req)
	case layeh.CodeAccountingRequest:
		resp = s.accounting(c, src, req)
	}
	// RFC 2865 §5.33: Proxy-State is copied unmodified and in order.
	for _, a := range req.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			resp.Add(rfc2865.ProxyState_Type, a.Attribute)
		}
	}
	signMA := resp.Code == layeh.CodeAccessAccept || resp.Code == layeh.CodeAccessReject
	reply, err = encodeReply(c, resp, signMA)
	if err != nil {
		// Only a request full of Proxy-State can make the reply too long.
		return s.drop(out, dropMalformed)
	}
	out.reply = resp.Code
	switch resp.Code {
	case layeh.CodeAccessAccept:
		s.stats.accepted.Add(1)
	case layeh.CodeAccessReject:
		s.stats.rejected.Add(1)
	case layeh.CodeAccountingResponse:
		s.stats.accountingResponses.Add(1)
	}
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
			return dropNone
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

// newReply starts the reply to req. Access-Accepts and Access-Rejects get a
// zeroed Message-Authenticator as first attribute, signed by encodeReply.
func newReply(req *layeh.Packet, code layeh.Code) *layeh.Packet {
	p := req.Response(code)
	p.Attributes = make(layeh.Attributes, 0, 8)
	if code == layeh.CodeAccessAccept || code == layeh.CodeAccessReject {
		p.Add(typeMessageAuthenticator, make(layeh.Attribute, authLen))
	}
	return p
}
