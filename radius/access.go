package radius

import (
	"bytes"
	"crypto/md5"
	"crypto/subtle"
	"math"
	"net/netip"
	"time"
	"unsafe"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"

	"roamgate/session"
)

// Reply-Messages of Access-Rejects. The NAS may log or show them; they say
// nothing about which sessions exist.
const (
	msgNoSession   = "no session: please sign in at the portal"
	msgNoMAC       = "no MAC address in Calling-Station-Id or User-Name"
	msgMACMismatch = "Calling-Station-Id and User-Name name different MAC addresses"
	msgBadPassword = "wrong password"
	msgWrongDevice = "this session was signed in for another device"
)

// chapPasswordLen is CHAP-Password's value: the CHAP identifier and the
// 16-octet MD5 response (RFC 2865 §5.3).
const chapPasswordLen = 1 + md5.Size

// access answers an authentic Access-Request. A User-Name that is a session
// ID with User-Password or CHAP-Password is a UAM login; anything else is
// MAC authentication.
func (s *Server) access(c *client, src netip.AddrPort, req *request) (answer, verdict) {
	hasPAP, hasCHAP := req.userPassword != nil, req.chapPassword != nil
	if isUAM(req) {
		return s.uam(c, src, req, string(req.userName))
	}

	mac, v := s.macOf(req)
	if v != 0 {
		return reject(req, v)
	}
	// The password of MAC authentication, if any, is empty or the MAC again
	// (in any notation): access points send one of those.
	switch {
	case hasCHAP:
		if !chapOK(req, req.userName) {
			return reject(req, rejectBadPassword)
		}
	case hasPAP:
		var buf [maxPassword]byte
		pw, ok := req.password(&buf)
		if !ok {
			return reject(req, rejectBadPassword)
		}
		if len(pw) > 0 && !req.namesMAC(pw) {
			if m, ok := parseMAC(pw); !ok || m != mac {
				return reject(req, rejectBadPassword)
			}
		}
	}
	sess, err := s.byMACOf(req)
	if err != nil {
		// Crisis mode (crisis.go): while it is active every device gets in.
		crisis, ok := s.crisisAdmit(c, src, req, mac)
		if !ok {
			return reject(req, rejectNoSession)
		}
		sess = session.Held{Session: &crisis}
	}
	return s.accept(c, src, req, sess, acceptMAC)
}

// isUAM says whether an Access-Request is a UAM login: a User-Name that is
// a session ID, with User-Password or CHAP-Password.
func isUAM(req *request) bool {
	return (req.userPassword != nil || req.chapPassword != nil) && session.ValidID(string(req.userName))
}

// macOf is macFromRequest, worked out once per request and kept in it, with
// the MAC's index key where the Sessions make one (SharedSessions.HashMAC):
// a worker's first pass over a batch (Server.begin) works it out for warm,
// and the answer uses it.
func (s *Server) macOf(req *request) (session.MAC, verdict) {
	m := &req.mac
	if !m.known {
		m.known = true
		m.mac, m.v, m.named = macFromRequest(req)
		if m.v == 0 && s.shared != nil {
			m.key, m.hashed = s.shared.HashMAC(m.mac), true
		}
	}
	return m.mac, m.v
}

// byMACOf is byMAC for the MAC of req, which macOf has worked out.
func (s *Server) byMACOf(req *request) (session.Held, error) {
	if req.mac.hashed {
		return s.shared.ByHashedMACShared(req.mac.key)
	}
	return s.byMAC(req.mac.mac)
}

// byMAC is Sessions.ByMAC, without a copy of the session where the
// Sessions can (SharedSessions). The session must not be changed.
func (s *Server) byMAC(mac session.MAC) (session.Held, error) {
	if s.shared != nil {
		return s.shared.ByMACShared(mac)
	}
	sess, err := s.sessions.ByMAC(mac)
	return session.Held{Session: &sess}, err
}

// timeLeft is Sessions.TimeLeft, without a copy of the session or another
// clock read where the Sessions found it live (SharedSessions).
func (s *Server) timeLeft(sess session.Held) time.Duration {
	if !sess.CheckedAt().IsZero() {
		return sess.TimeLeft()
	}
	return s.sessions.TimeLeft(*sess.Session)
}

// seenAgo is how long ago the session was seen last: by the Manager's clock
// when it found the session live, else by this one.
func seenAgo(sess session.Held) time.Duration {
	if at := sess.CheckedAt(); !at.IsZero() {
		return at.Sub(sess.LastSeen)
	}
	return time.Since(sess.LastSeen)
}

// uam checks a UAM login: User-Name is the session ID, the password the
// session's UAM secret, by PAP or by CHAP, from the session's device.
func (s *Server) uam(c *client, src netip.AddrPort, req *request, id string) (answer, verdict) {
	sess, err := s.sessions.ByID(id)
	if err != nil {
		return reject(req, rejectNoSession)
	}
	secret := []byte(s.sessions.UAMSecret(sess.ID))
	v := acceptPAP
	if req.chapPassword != nil {
		if !chapOK(req, secret) {
			return reject(req, rejectBadPassword)
		}
		v = acceptCHAP
	} else {
		var buf [maxPassword]byte
		pw, ok := req.password(&buf)
		if !ok || subtle.ConstantTimeCompare(pw, secret) != 1 {
			return reject(req, rejectBadPassword)
		}
	}
	if !s.uamDevice(req, &sess) {
		return reject(req, rejectWrongDevice)
	}
	return s.accept(c, src, req, session.Held{Session: &sess}, v)
}

// uamDevice reports whether a UAM login comes from the session's device.
// The credentials travel through the browser (the portal's login page), so
// whoever holds the session's token holds them, and a page can make another
// device's browser log in with them. The access point knows which device
// asks: CoovaChilli puts the device's MAC in Calling-Station-Id of every
// login (redir.c redir_radius → chilli.c chilli_req_attrs, which adds
// RADIUS_ATTR_CALLING_STATION_ID from conn->hismac, MAC_FMT of pkt.h:
// "XX-XX-XX-XX-XX-XX"), as do the other UAM families. When it is there it
// must be the MAC the session holds now (the MAC index says so; a session
// displaced from its MAC, or signed in without a MAC, holds none): binding
// the MAC at the first login instead would let a forced login take a
// device over. Without Calling-Station-Id there is nothing to compare.
func (s *Server) uamDevice(req *request, sess *session.Session) bool {
	if req.callingStationID == nil {
		return true
	}
	mac, ok := parseMAC(req.callingStationID)
	if !ok {
		return false
	}
	owner, err := s.byMAC(mac)
	return err == nil && owner.ID == sess.ID
}

// chapOK checks CHAP-Password against the cleartext password (RFC 1994
// §4.1, RFC 2865 §2.2): MD5(identifier ‖ password ‖ challenge), where the
// challenge is CHAP-Challenge or else the Request Authenticator.
func chapOK(req *request, password []byte) bool {
	chap := req.chapPassword
	if len(chap) != chapPasswordLen {
		return false
	}
	challenge := req.authenticator()
	if req.chapChallenge != nil {
		challenge = req.chapChallenge
	}
	h := md5.New()
	h.Write(chap[:1])
	h.Write(password)
	h.Write(challenge)
	var sum [md5.Size]byte
	return subtle.ConstantTimeCompare(h.Sum(sum[:0]), chap[1:]) == 1
}

// seenRefresh is how stale a session's LastSeen may be before an
// Access-Request from where it already is refreshes it. Recording costs an
// index update and a background store write, and access points ask on every
// association, so an unchanged report within this time is not recorded.
// The refresh is also at most a quarter of the idle timeout, so an active
// device is never taken for idle; accounting Interim-Updates refresh
// LastSeen as well.
const seenRefresh = 5 * time.Minute

// accept records where the session was seen and builds the Access-Accept.
// When the session is already known to be where the request says, nothing
// is recorded, and nothing allocated to find that out.
func (s *Server) accept(c *client, src netip.AddrPort, req *request, sess session.Held, v verdict) (answer, verdict) {
	var apBuf [17]byte
	ap := apBuf[:0]
	if m, ok := calledAP(req.calledStationID); ok {
		ap = appendMAC(ap, m)
	}
	loc := s.locate(c, src, req)
	nasAddr := src.Addr().Unmap()
	if sess.CurrentLocation != loc || sess.AP != string(ap) || sess.NAS.Addr != nasAddr || sess.NAS.ID != string(req.nasIdentifier) ||
		seenAgo(sess) > s.seenRefresh() {
		// An authentication is where the device is now: a new association
		// if the place or the Acct-Session-Id (CoovaChilli sends it) differs
		// (see session.ActivityAccess).
		nas := session.NAS{Addr: nasAddr, ID: string(req.nasIdentifier), AcctSessionID: string(req.acctSessionID)}
		if nas.AcctSessionID == "" && sess.NAS.Addr == nas.Addr && sess.NAS.ID == nas.ID {
			nas.AcctSessionID = sess.NAS.AcctSessionID // same NAS: keep its accounting handle
		}
		// CoovaChilli says the device's address in its Access-Requests
		// (chilli.c chilli_req_attrs: Framed-IP-Address from hisip): the
		// NAS vouches for it, as in accounting.
		seen, err := s.sessions.Seen(sess.ID, session.Activity{Kind: session.ActivityAccess, Location: loc, AP: string(ap), NAS: nas,
			IP: framedIP(req.framedIPAddress), IPv6Prefix: framedIPv6Prefix(req.framedIPv6Prefix)})
		if err != nil {
			// The session ended between the lookup and now.
			return reject(req, rejectNoSession)
		}
		sess = session.Held{Session: &seen}
		s.noteNAS(req, nasAddr) // for re-authorising devices at this NAS (nasdir.go)
	}

	var bandwidth layeh.Packet
	if bw, ok := s.networks[sess.Network]; ok && bw != (Bandwidth{}) {
		addBandwidth(&bandwidth, c.kind, bw)
	}
	interim, idle := s.cfg.InterimInterval, s.idleTimeout
	resp := newReplyTo(req, layeh.CodeAccessAccept, true)
	resp.addInteger(rfc2865.SessionTimeout_Type, seconds(s.timeLeft(sess)))
	if interim > 0 {
		resp.addInteger(rfc2869.AcctInterimInterval_Type, seconds(interim))
	}
	if idle > 0 {
		resp.addInteger(rfc2865.IdleTimeout_Type, seconds(idle))
	}
	// Class comes back in accounting and names the session without the MAC.
	resp.addID(rfc2865.Class_Type, sess)
	if c.dialect.acceptUserName {
		// The NAS names the device by it from now on, so a
		// Disconnect-Request can (dialect.go, coova).
		resp.addID(rfc2865.UserName_Type, sess)
	}
	resp.addAttributes(bandwidth.Attributes)
	return resp, v
}

func (s *Server) seenRefresh() time.Duration {
	if s.idleTimeout > 0 {
		return min(seenRefresh, s.idleTimeout/4)
	}
	return seenRefresh
}

func reject(req *request, v verdict) (answer, verdict) {
	msg := msgNoSession
	switch v {
	case rejectNoMAC:
		msg = msgNoMAC
	case rejectMACMismatch:
		msg = msgMACMismatch
	case rejectBadPassword:
		msg = msgBadPassword
	case rejectWrongDevice:
		msg = msgWrongDevice
	}
	resp := newReplyTo(req, layeh.CodeAccessReject, true)
	resp.addString(rfc2865.ReplyMessage_Type, msg)
	return resp, v
}

// macFromRequest finds the device's MAC: Calling-Station-Id first,
// User-Name as fallback, in any notation session.ParseMAC accepts. If both
// hold a MAC and they differ, the request is refused. A non-zero verdict is
// the reject; named says which attributes hold the MAC (see namesMAC).
func macFromRequest(req *request) (mac session.MAC, v verdict, named macAttrs) {
	fromCSI, okCSI := parseMACAttr(req.callingStationID)
	var fromUN session.MAC
	var okUN bool
	if okCSI && bytes.Equal(req.userName, req.callingStationID) {
		// The same octets, as access points mostly send them: parsed once
		// (parsing was 4 % of an answer, three times per request).
		fromUN, okUN = fromCSI, true
	} else {
		fromUN, okUN = parseMACAttr(req.userName)
	}
	switch {
	case okCSI && okUN && fromCSI != fromUN:
		return mac, rejectMACMismatch, named
	case okCSI:
		return fromCSI, 0, macAttrs{csi: true, userName: okUN}
	case okUN:
		return fromUN, 0, macAttrs{userName: true}
	}
	return mac, rejectNoMAC, named
}

// macAttrs says which of Calling-Station-Id and User-Name hold a request's
// MAC.
type macAttrs struct{ csi, userName bool }

// namesMAC reports whether b is the octets of an attribute that holds the
// request's MAC (macOf must have found one): then b names the MAC without
// being parsed. Octets of an attribute that is not a MAC do not count.
func (req *request) namesMAC(b []byte) bool {
	n := req.mac.named
	return (n.csi && bytes.Equal(b, req.callingStationID)) || (n.userName && bytes.Equal(b, req.userName))
}

func parseMACAttr(v []byte) (session.MAC, bool) {
	if v == nil {
		return session.MAC{}, false
	}
	return parseMAC(v)
}

// parseMAC is session.ParseMAC for bytes of the request. The string it
// passes aliases the bytes without copying (the hot path would otherwise
// allocate for every MAC); ScanMAC keeps nothing of it, so neither the
// datagram nor a password decoded on the stack escapes to the heap.
func parseMAC(v []byte) (session.MAC, bool) {
	if len(v) == 0 {
		return session.MAC{}, false
	}
	return session.ScanMAC(unsafe.String(unsafe.SliceData(v), len(v)))
}

// appendMAC appends m as session.MAC.String writes it ("aa:bb:…").
func appendMAC(b []byte, m session.MAC) []byte {
	const hexdigits = "0123456789abcdef"
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[x>>4], hexdigits[x&0x0f])
	}
	return b
}

// calledAP is the AP MAC of a Called-Station-Id "AP-MAC:SSID" (RFC 3580
// §3.20; the MAC in any notation session.ParseMAC accepts, the SSID
// optional), and the length of the MAC part.
func calledAP(v []byte) (session.MAC, bool) {
	m, n := calledAPLen(v)
	return m, n > 0
}

func calledAPLen(v []byte) (session.MAC, int) {
	for _, n := range [...]int{17, 14, 12} {
		if len(v) < n || (len(v) > n && v[n] != ':') {
			continue
		}
		if m, ok := parseMAC(v[:n]); ok {
			return m, n
		}
	}
	return session.MAC{}, 0
}

// splitCalledStationID splits a Called-Station-Id into the normalised AP
// MAC and the SSID. Anything else yields empty strings.
func splitCalledStationID(v []byte) (apMAC, ssid string) {
	m, n := calledAPLen(v)
	if n == 0 {
		return "", ""
	}
	if len(v) > n {
		ssid = string(v[n+1:])
	}
	return m.String(), ssid
}

// locate names the location of the access point: the Locator's answer, or
// the client table's location. The Locator gets the NAS-Identifier, the AP
// MAC and SSID from Called-Station-Id, and the NAS address: NAS-IP-Address,
// NAS-IPv6-Address, or else the packet's source.
func (s *Server) locate(c *client, src netip.AddrPort, req *request) string {
	if s.locator == nil {
		return c.location
	}
	nasIP := src.Addr().Unmap()
	if a := req.nasIPAddress; len(a) == 4 {
		nasIP = netip.AddrFrom4([4]byte(a))
	} else if a := req.nasIPv6Address; len(a) == 16 {
		nasIP = netip.AddrFrom16([16]byte(a))
	}
	var loc string
	if s.attrLocator != nil {
		// What splitCalledStationID gives, uncopied (session.ParseMAC reads
		// the MAC's String back as the MAC).
		m, n := calledAPLen(req.calledStationID)
		var ssid []byte
		if n > 0 && len(req.calledStationID) > n {
			ssid = req.calledStationID[n+1:]
		}
		loc, _ = s.attrLocator.LocateAttributes(req.nasIdentifier, m, n > 0, ssid, nasIP)
	} else {
		ap, ssid := splitCalledStationID(req.calledStationID)
		loc, _ = s.locator.Locate(string(req.nasIdentifier), ap, ssid, nasIP)
	}
	if loc != "" {
		return loc
	}
	return c.location
}

// seconds rounds d up to whole seconds for a RADIUS integer attribute: at
// least 1, since 0 would mean "no limit" or "now" to some access points.
func seconds(d time.Duration) uint32 {
	if d <= 0 {
		return 1
	}
	n := d / time.Second
	if d%time.Second != 0 {
		n++
	}
	if n > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}
