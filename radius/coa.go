package radius

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"

	"roamgate/session"
)

// Errors of Disconnect and CoA that prevented sending.
var (
	// ErrNoNAS: the session has not been reported by any NAS, so there is
	// nobody to send to.
	ErrNoNAS = errors.New("radius: no NAS known for the session")
	// ErrUnknownNAS: the NAS's address is in no client's network, so there
	// is no secret to sign with.
	ErrUnknownNAS = errors.New("radius: NAS is not in the client table")
	// ErrNoCoA: the NAS's implementation takes no CoA-Request that could
	// re-authorise a device (hostapd, Meraki; see dialect.go). The device
	// gets in at its next association instead.
	ErrNoCoA = errors.New("radius: the NAS takes no CoA-Request")
)

// CoAOutcome is how a NAS answered a Disconnect- or CoA-Request.
type CoAOutcome uint8

// Outcomes.
const (
	// CoAACK: Disconnect-ACK or CoA-ACK — done.
	CoAACK CoAOutcome = iota
	// CoANAK: Disconnect-NAK or CoA-NAK; DynamicResult.ErrorCause says why
	// (RFC 5176 §3.6, e.g. 503 Session Context Not Found).
	CoANAK
	// CoATimeout: no valid answer after every try.
	CoATimeout
	numCoAResults
)

var coaOutcomeNames = [numCoAResults]string{"ack", "nak", "timeout"}

func (o CoAOutcome) String() string {
	if o < numCoAResults {
		return coaOutcomeNames[o]
	}
	return "unknown"
}

// DynamicResult is the answer to a Disconnect- or CoA-Request.
type DynamicResult struct {
	Outcome CoAOutcome
	// ErrorCause is the NAK's Error-Cause (RFC 5176 §3.6), 0 if none.
	ErrorCause uint32
	// Tries is how often the request was sent.
	Tries int
}

// Target names a device at a NAS for Disconnect and CoA (RFC 5176 §3):
// the NAS it is on, and what identifies the device there. Which of these
// the request carries is the NAS client's dialect (dialect.go).
type Target struct {
	// NAS is where the request goes (its client's das_address, or NAS.Addr;
	// on the client's coa_port) and whose NAS-Identifier and
	// Acct-Session-Id name the device.
	NAS session.NAS
	// SessionID is sent as User-Name: UAM logins use it as User-Name, and
	// coova NASes learn it from the Access-Accept.
	SessionID string
	// MAC, when HasMAC, is sent as Calling-Station-Id.
	MAC    session.MAC
	HasMAC bool
	// IP, when valid and IPv4, is sent as Framed-IP-Address.
	IP netip.Addr
	// Attributes are added to the request as given (a CoA-Request's new
	// authorisation, e.g. Session-Timeout); none for a Disconnect.
	Attributes layeh.Attributes
}

// TargetOf is the target of a session: the NAS that reported it last.
func TargetOf(s session.Session) Target {
	return Target{NAS: s.NAS, SessionID: s.ID, MAC: s.Device.MAC, HasMAC: s.Device.HasMAC, IP: s.Device.IP}
}

// Disconnect asks the NAS that last reported the session to end it
// (Disconnect-Request, RFC 5176), and reports how it answered.
func (s *Server) Disconnect(ctx context.Context, sess session.Session) (DynamicResult, error) {
	return s.Dynamic(ctx, layeh.CodeDisconnectRequest, TargetOf(sess))
}

// CoA asks the NAS that last reported the session to re-authorise it with a
// CoA-Request carrying the session's time left (Session-Timeout) and its
// network's bandwidth in the NAS's attributes. ErrNoCoA: the NAS takes none.
func (s *Server) CoA(ctx context.Context, sess session.Session) (DynamicResult, error) {
	return s.coa(ctx, sess, TargetOf(sess))
}

func (s *Server) coa(ctx context.Context, sess session.Session, t Target) (DynamicResult, error) {
	p := &layeh.Packet{}
	rfc2865.SessionTimeout_Add(p, rfc2865.SessionTimeout(seconds(s.sessions.TimeLeft(sess))))
	if c := s.clients.lookup(t.NAS.Addr); c != nil {
		if bw, ok := s.networks[sess.Network]; ok {
			addBandwidth(p, c.kind, bw)
		}
	}
	t.Attributes = p.Attributes
	return s.Dynamic(ctx, layeh.CodeCoARequest, t)
}

// Dynamic sends a Disconnect-Request or CoA-Request (code) for t to the NAS,
// signed with its client's secret, identifying the device as the client's
// dialect wants (dialect.go) — by default with a Message-Authenticator and
// an Event-Timestamp (RFC 5176 §3.3, against replay). It leaves from the
// authentication socket's address (dasSource) and goes to the client's
// das_address, or else the NAS's address, on its coa_port. It sends it up to
// Deps.CoATries times, waiting Deps.CoATimeout for each answer, and stops at
// the first answer that verifies. A timeout is an outcome, not an error;
// errors say the request could not be sent.
func (s *Server) Dynamic(ctx context.Context, code layeh.Code, t Target) (DynamicResult, error) {
	var res DynamicResult
	var ack, nak layeh.Code
	switch code {
	case layeh.CodeDisconnectRequest:
		ack, nak = layeh.CodeDisconnectACK, layeh.CodeDisconnectNAK
	case layeh.CodeCoARequest:
		ack, nak = layeh.CodeCoAACK, layeh.CodeCoANAK
	default:
		return res, fmt.Errorf("radius: %v is not a Disconnect- or CoA-Request", code)
	}
	if !t.NAS.Addr.IsValid() {
		return res, ErrNoNAS
	}
	nas := t.NAS.Addr.Unmap()
	c := s.clients.lookup(nas)
	if c == nil {
		return res, ErrUnknownNAS
	}
	if code == layeh.CodeCoARequest && !c.dialect.coa {
		return res, ErrNoCoA
	}
	req, err := encodeDynamic(c, code, t)
	if err != nil {
		return res, err
	}
	dst, err := s.dasAddr(ctx, c, nas)
	if err != nil {
		return res, fmt.Errorf("radius: %v to %s: %w", code, c.name, err)
	}
	conn, err := net.DialUDP("udp", s.dasSource(dst.Addr()), net.UDPAddrFromAddrPort(dst))
	if err != nil {
		return res, fmt.Errorf("radius: %v to %s: %w", code, c.name, err)
	}
	defer conn.Close()
	// Closing the socket ends a read when ctx is done.
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	buf := make([]byte, layeh.MaxPacketLength)
	for res.Tries < s.coaTries {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		res.Tries++
		if _, err := conn.Write(req); err != nil {
			return res, fmt.Errorf("radius: %v to %s: %w", code, c.name, err)
		}
		deadline := time.Now().Add(s.coaTimeout)
		conn.SetReadDeadline(deadline)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				// A refused port (ICMP) or the deadline: try again.
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				if !isTimeout(err) {
					// Wait out the try as if unanswered, so a NAS that
					// is restarting gets its time.
					t := time.NewTimer(time.Until(deadline))
					select {
					case <-t.C:
					case <-ctx.Done():
						t.Stop()
						return res, ctx.Err()
					}
				}
				break
			}
			reply := buf[:n]
			if !dynamicReplyOK(c, req, reply, ack, nak) {
				continue // not ours, or forged: keep waiting
			}
			if layeh.Code(reply[0]) == ack {
				res.Outcome = CoAACK
			} else {
				res.Outcome = CoANAK
				res.ErrorCause = errorCause(reply)
			}
			return res, nil
		}
	}
	res.Outcome = CoATimeout
	return res, nil
}

// dasAddr is where a request for a NAS of client c goes: c's das_address
// (a host name is resolved now, so a changed DNS entry is followed), or the
// NAS's own address; on c's coa_port.
func (s *Server) dasAddr(ctx context.Context, c *client, nas netip.Addr) (netip.AddrPort, error) {
	if c.dasHost == "" {
		return netip.AddrPortFrom(nas, uint16(c.coaPort)), nil
	}
	if a, err := netip.ParseAddr(c.dasHost); err == nil {
		return netip.AddrPortFrom(a.Unmap(), uint16(c.coaPort)), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", c.dasHost)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("das_address: %w", err)
	}
	// The family the source address can be bound in comes first.
	want4 := true
	if src := s.listenAddr(); src.IsValid() && !src.IsUnspecified() {
		want4 = src.Is4()
	}
	best := addrs[0].Unmap()
	for _, a := range addrs {
		if a = a.Unmap(); a.Is4() == want4 {
			best = a
			break
		}
	}
	return netip.AddrPortFrom(best, uint16(c.coaPort)), nil
}

// dasSource is the local address Disconnect- and CoA-Requests leave from:
// the authentication socket's address. Access points take them only from
// the RADIUS server they are configured with — CoovaChilli drops anything
// else ("Received RADIUS from wrong address", src/radius.c:1945-1951),
// hostapd too (radius_das_client; src/radius/radius_das.c:426-429) — and a
// host with several addresses would otherwise send from whichever the
// route picks. When auth_listen is every address (0.0.0.0, ::), there is no
// one address to pick, and the kernel chooses as for any datagram: the
// address of the interface the route to the NAS leaves by. That is the
// address the access points use whenever they reach roamgate through that
// interface, which is the usual single-homed setup; on a multi-homed host
// set auth_listen to the address the access points are configured with.
func (s *Server) dasSource(dst netip.Addr) *net.UDPAddr {
	src := s.listenAddr()
	if !src.IsValid() || src.IsUnspecified() || src.Is4() != dst.Unmap().Is4() {
		return nil
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
}

// listenAddr is the authentication socket's address, or the zero Addr
// before Listen.
func (s *Server) listenAddr() netip.Addr {
	a, ok := s.AuthAddr().(*net.UDPAddr)
	if !ok {
		return netip.Addr{}
	}
	return a.AddrPort().Addr().Unmap()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// encodeDynamic builds the request: the identification attributes of c's
// dialect, the caller's, and — when the dialect has them — Event-Timestamp
// and a Message-Authenticator computed over the packet with a zero Request
// Authenticator (RFC 5176 §3.5, RFC 3579 §3.2); then the Request
// Authenticator as for accounting (RFC 5176 §3.5).
func encodeDynamic(c *client, code layeh.Code, t Target) ([]byte, error) {
	var id [1]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	d := c.dialect
	p := &layeh.Packet{Code: code, Identifier: id[0], Secret: c.secret}
	if d.attrs&dasMessageAuthenticator != 0 {
		p.Add(typeMessageAuthenticator, make(layeh.Attribute, authLen))
	}
	if d.attrs&dasUserName != 0 && t.SessionID != "" {
		rfc2865.UserName_AddString(p, t.SessionID)
	}
	if d.attrs&dasNASIdentifier != 0 && t.NAS.ID != "" {
		rfc2865.NASIdentifier_AddString(p, t.NAS.ID)
	}
	if d.attrs&dasAcctSessionID != 0 && t.NAS.AcctSessionID != "" {
		rfc2866.AcctSessionID_AddString(p, t.NAS.AcctSessionID)
	}
	if d.attrs&dasCallingStationID != 0 && t.HasMAC {
		rfc2865.CallingStationID_AddString(p, d.mac.format(t.MAC))
	}
	if ip := t.IP.Unmap(); d.attrs&dasFramedIPAddress != 0 && ip.Is4() {
		rfc2865.FramedIPAddress_Add(p, ip.AsSlice())
	}
	p.Attributes = append(p.Attributes, t.Attributes...)
	if d.attrs&dasEventTimestamp != 0 {
		rfc2869.EventTimestamp_Add(p, time.Now())
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("radius: encode %v: %w", code, err)
	}
	if d.attrs&dasMessageAuthenticator != 0 {
		// b's authenticator is zero: the MA is computed over it so.
		st := c.getHMAC()
		st.h.Write(b)
		st.h.Sum(b[replyMAOffset:replyMAOffset])
		c.putHMAC(st)
	}
	h := md5.New()
	h.Write(b)
	h.Write(c.secret)
	h.Sum(b[4:4])
	return b, nil
}

// dynamicReplyOK checks an answer to req: its code, identifier, Response
// Authenticator and, if present, Message-Authenticator.
func dynamicReplyOK(c *client, req, reply []byte, ack, nak layeh.Code) bool {
	b, err := frame(reply)
	if err != nil || b[1] != req[1] || (layeh.Code(b[0]) != ack && layeh.Code(b[0]) != nak) {
		return false
	}
	if !layeh.IsAuthenticResponse(b, req, c.secret) {
		return false
	}
	maOffset, _, err := scanAttributes(b)
	if err != nil {
		return false
	}
	if maOffset >= 0 {
		st := c.getHMAC()
		ok := verifyMessageAuthenticator(st, b, maOffset, req[4:headerLen])
		c.putHMAC(st)
		return ok
	}
	return true
}

// errorCause is the Error-Cause (101) of a NAK, or 0.
func errorCause(b []byte) uint32 {
	b, _ = frame(b)
	for i := headerLen; i+1 < len(b) && int(b[i+1]) >= 2; i += int(b[i+1]) {
		if b[i] == 101 && b[i+1] == 6 && i+6 <= len(b) {
			return binary.BigEndian.Uint32(b[i+2 : i+6])
		}
	}
	return 0
}

// SessionEnded sends a Disconnect-Request for a session that has ended, in
// the background; it never blocks, so it can be registered with
// session.Manager.OnEnd:
//
//	mgr.OnEnd(srv.SessionEnded)
//
// Sessions no NAS has reported are skipped. Results are counted
// (roamgate_radius_disconnects_total) and logged. At most 64 are sent at
// once; beyond that they are counted as "overload" and skipped, as the
// session is ended on our side anyway (the NAS re-asks within its
// Session-Timeout, and is rejected).
func (s *Server) SessionEnded(sess session.Session, why session.EndReason) {
	if !sess.NAS.Addr.IsValid() {
		s.stats.disconnectSkipped.Add(1)
		return
	}
	select {
	case s.coaSem <- struct{}{}:
	default:
		s.stats.disconnectOverload.Add(1)
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.coaSem
		return
	}
	s.coaWG.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.coaWG.Done()
		defer func() { <-s.coaSem }()
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(s.coaTries)*s.coaTimeout+time.Second)
		defer cancel()
		res, err := s.Disconnect(ctx, sess)
		if err != nil {
			s.stats.disconnectErrors.Add(1)
			s.log.Warn("radius: disconnect", "session", sess.ID, "why", string(why), "err", err)
			return
		}
		s.stats.disconnects[res.Outcome].Add(1)
		s.log.Info("radius: disconnect", "session", sess.ID, "why", string(why), "result", res.Outcome.String(),
			"error_cause", res.ErrorCause, "tries", res.Tries)
	}()
}
