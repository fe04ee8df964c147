package radius

import (
	"math"
	"net/netip"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2869"
	"layeh.com/radius/rfc3162"

	"roamgate/session"
)

// Reply-Messages of Access-Rejects. The NAS may log or show them; they say
// nothing about which sessions exist.
const (
	msgNoSession   = "no session: please sign in at the portal"
	msgNoMAC       = "no MAC address in Calling-Station-Id or User-Name"
	msgMACMismatch = "Calling-Station-Id and User-Name name different MAC addresses"
)

// access answers an authentic Access-Request. This slice does MAC
// authentication only; UAM (User-Name = session ID with PAP or CHAP) is the
// next issue and will branch here on User-Password / CHAP-Password.
func (s *Server) access(c *client, src netip.AddrPort, req *layeh.Packet) *layeh.Packet {
	mac, msg := requestMAC(req)
	if msg != "" {
		return reject(req, msg)
	}
	sess, err := s.sessions.ByMAC(mac)
	if err != nil {
		return reject(req, msgNoSession)
	}
	ap, ssid := splitCalledStationID(rfc2865.CalledStationID_Get(req))
	loc := s.locate(c, src, req, ap, ssid)
	sess, err = s.sessions.Seen(sess.ID, session.Activity{Location: loc, AP: ap})
	if err != nil {
		// The session ended between the lookup and now.
		return reject(req, msgNoSession)
	}

	resp := newReply(req, layeh.CodeAccessAccept)
	rfc2865.SessionTimeout_Add(resp, rfc2865.SessionTimeout(seconds(s.sessions.TimeLeft(sess))))
	if d := s.cfg.InterimInterval; d > 0 {
		rfc2869.AcctInterimInterval_Add(resp, rfc2869.AcctInterimInterval(seconds(d)))
	}
	if d := s.idleTimeout; d > 0 {
		rfc2865.IdleTimeout_Add(resp, rfc2865.IdleTimeout(seconds(d)))
	}
	// Class comes back in accounting and names the session without the MAC.
	rfc2865.Class_Add(resp, []byte(sess.ID))
	return resp
}

func reject(req *layeh.Packet, msg string) *layeh.Packet {
	resp := newReply(req, layeh.CodeAccessReject)
	rfc2865.ReplyMessage_AddString(resp, msg)
	return resp
}

// requestMAC finds the device's MAC: Calling-Station-Id first, User-Name as
// fallback, in any notation session.ParseMAC accepts. If both hold a MAC and
// they differ, the request is refused. msg is the reason for a reject.
func requestMAC(req *layeh.Packet) (mac session.MAC, msg string) {
	fromCSI, okCSI := parseMACAttr(req, rfc2865.CallingStationID_Type)
	fromUN, okUN := parseMACAttr(req, rfc2865.UserName_Type)
	switch {
	case okCSI && okUN && fromCSI != fromUN:
		return mac, msgMACMismatch
	case okCSI:
		return fromCSI, ""
	case okUN:
		return fromUN, ""
	}
	return mac, msgNoMAC
}

func parseMACAttr(req *layeh.Packet, t layeh.Type) (session.MAC, bool) {
	a, ok := req.Lookup(t)
	if !ok {
		return session.MAC{}, false
	}
	m, err := session.ParseMAC(string(a))
	return m, err == nil
}

// splitCalledStationID splits "AP-MAC:SSID" (RFC 3580 §3.20; the MAC in any
// notation session.ParseMAC accepts, the SSID optional) into the normalised
// AP MAC and the SSID. Anything else yields empty strings.
func splitCalledStationID(v []byte) (apMAC, ssid string) {
	for _, n := range [...]int{17, 14, 12} {
		if len(v) < n || (len(v) > n && v[n] != ':') {
			continue
		}
		m, err := session.ParseMAC(string(v[:n]))
		if err != nil {
			continue
		}
		if len(v) > n {
			ssid = string(v[n+1:])
		}
		return m.String(), ssid
	}
	return "", ""
}

// locate names the location of the access point: the Locator's answer, or
// the client table's location. The NAS address is NAS-IP-Address,
// NAS-IPv6-Address, or else the packet's source.
func (s *Server) locate(c *client, src netip.AddrPort, req *layeh.Packet, apMAC, ssid string) string {
	if s.locator == nil {
		return c.location
	}
	nasIP := src.Addr().Unmap()
	if a, ok := req.Lookup(rfc2865.NASIPAddress_Type); ok && len(a) == 4 {
		nasIP = netip.AddrFrom4([4]byte(a))
	} else if a, ok := req.Lookup(rfc3162.NASIPv6Address_Type); ok && len(a) == 16 {
		nasIP = netip.AddrFrom16([16]byte(a))
	}
	nasID := string(req.Get(rfc2865.NASIdentifier_Type))
	if loc, _ := s.locator.Locate(nasID, apMAC, ssid, nasIP); loc != "" {
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
