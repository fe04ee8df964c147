package radius_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	layeh "layeh.com/radius"

	"roamgate/internal/testtool"
)

// Stand-ins for the Dynamic Authorization Servers (RFC 5176) of real access
// points. Each answers — or stays silent — exactly where the real one does;
// every rule cites the line of the implementation's source it comes from:
//
//   - CoovaChilli: coova/coova-chilli e0c7d7af9506 (the tarball in
//     ../shared/third_party/coova-chilli), src/chilli.c and src/radius.c.
//   - OpenWrt uspot: openwrt/uspot as mirrored by its author at
//     f00b4r0/uspot 094f0df, src/radius-das.c and
//     files/usr/share/uspot/uspot.uc.
//   - hostapd: w1.fi hostap, lines as in its mirror greearb/hostap-ct
//     76d4a91, src/radius/radius_das.c and src/ap/hostapd.c.
//   - Meraki: documentation.meraki.com, "CoA Disconnect for Splash Sign-on"
//     (no source; what the document leaves open is marked).

// RADIUS attribute types the stand-ins look at.
const (
	atUserName          = 1
	atNASIPAddress      = 4
	atFramedIPAddress   = 8
	atClass             = 25
	atVendorSpecific    = 26
	atSessionTimeout    = 27
	atIdleTimeout       = 28
	atCalledStationID   = 30
	atCallingStationID  = 31
	atNASIdentifier     = 32
	atProxyState        = 33
	atAcctSessionID     = 44
	atAcctTerminate     = 49
	atAcctMultiSession  = 50
	atEventTimestamp    = 55
	atMessageAuth       = 80
	atAcctInterim       = 85
	atCUI               = 89
	atNASIPv6Address    = 95
	atErrorCause        = 101
	codeDisconnectReq   = 40
	codeDisconnectACK   = 41
	codeDisconnectNAK   = 42
	codeCoAReq          = 43
	codeCoAACK          = 44
	codeCoANAK          = 45
	errUnsupportedAttr  = 401
	errNASMismatch      = 403
	errUnsupportedSvc   = 405
	errInvalidAttrValue = 407
	errSessionNotFound  = 503
)

type rawAttr struct {
	typ byte
	val []byte
}

// parseAttrs splits a well-formed packet's attributes; nil, false if it is
// not well-formed.
func parseAttrs(b []byte) ([]rawAttr, bool) {
	if len(b) < 20 || int(binary.BigEndian.Uint16(b[2:4])) != len(b) {
		return nil, false
	}
	var out []rawAttr
	for i := 20; i < len(b); {
		if i+2 > len(b) || b[i+1] < 2 || i+int(b[i+1]) > len(b) {
			return nil, false
		}
		out = append(out, rawAttr{b[i], b[i+2 : i+int(b[i+1])]})
		i += int(b[i+1])
	}
	return out, true
}

func first(as []rawAttr, typ byte) ([]byte, bool) {
	for _, a := range as {
		if a.typ == typ {
			return a.val, true
		}
	}
	return nil, false
}

// requestAuthOK checks a Disconnect/CoA-Request's Request Authenticator,
// computed as for Accounting-Request (RFC 5176 §3.5).
func requestAuthOK(b, secret []byte) bool {
	h := md5.New()
	h.Write(b[:4])
	h.Write(make([]byte, 16))
	h.Write(b[20:])
	h.Write(secret)
	return hmac.Equal(h.Sum(nil), b[4:20])
}

// messageAuthOK checks a request's Message-Authenticator (RFC 3579 §3.2,
// RFC 5176 §3.5: over the packet with a zero Request Authenticator).
func messageAuthOK(b, secret []byte) bool {
	q := bytes.Clone(b)
	copy(q[4:20], make([]byte, 16))
	for i := 20; i+18 <= len(q); i += int(q[i+1]) {
		if q[i] == atMessageAuth && q[i+1] == 18 {
			want := bytes.Clone(q[i+2 : i+18])
			clear(q[i+2 : i+18])
			h := hmac.New(md5.New, secret)
			h.Write(q)
			return hmac.Equal(h.Sum(nil), want)
		}
		if q[i+1] < 2 {
			return false
		}
	}
	return false
}

// reply builds a response to req: code, attributes, optionally a
// Message-Authenticator (first), and the Response Authenticator.
func reply(req []byte, code byte, secret []byte, withMA bool, attrs ...rawAttr) []byte {
	b := []byte{code, req[1], 0, 0}
	b = append(b, req[4:20]...) // the Request Authenticator, for the hashes
	maAt := -1
	if withMA {
		maAt = len(b)
		b = append(b, atMessageAuth, 18)
		b = append(b, make([]byte, 16)...)
	}
	for _, a := range attrs {
		b = append(b, a.typ, byte(2+len(a.val)))
		b = append(b, a.val...)
	}
	binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	if maAt >= 0 {
		h := hmac.New(md5.New, secret)
		h.Write(b)
		copy(b[maAt+2:], h.Sum(nil))
	}
	h := md5.New()
	h.Write(b)
	h.Write(secret)
	copy(b[4:20], h.Sum(nil))
	return b
}

func errorCauseAttr(cause uint32) rawAttr {
	return rawAttr{atErrorCause, binary.BigEndian.AppendUint32(nil, cause)}
}

// dasStandIn is the UDP side shared by the stand-ins: it reads requests,
// asks decide for the answer (nil: silence), and records what came.
type dasStandIn struct {
	conn   *net.UDPConn
	secret []byte
	decide func(src netip.Addr, b []byte) []byte

	mu       sync.Mutex
	received [][]byte
	answered []byte // codes of the answers sent
}

// newStandIn binds the socket; start serves it. The stand-in's owner is
// complete before the first datagram is handled.
func newStandIn(t *testing.T, listen string, secret string) *dasStandIn {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(listen)))
	if err != nil {
		t.Fatal(err)
	}
	return &dasStandIn{conn: conn, secret: []byte(secret)}
}

func (d *dasStandIn) start(t *testing.T, decide func(src netip.Addr, b []byte) []byte) {
	t.Helper()
	d.decide = decide
	conn := d.conn
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			b := bytes.Clone(buf[:n])
			out := d.decide(from.Addr().Unmap(), b)
			d.mu.Lock()
			d.received = append(d.received, b)
			if out != nil {
				d.answered = append(d.answered, out[0])
			}
			d.mu.Unlock()
			if out != nil {
				conn.WriteToUDPAddrPort(out, from)
			}
		}
	}()
}

func (d *dasStandIn) port() int { return d.conn.LocalAddr().(*net.UDPAddr).Port }

// count is how many datagrams have arrived.
func (d *dasStandIn) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.received)
}

// exchange sends b to the stand-in from a fresh socket bound to src and
// returns its answer, or nil when it stays silent (it is given a second).
func (d *dasStandIn) exchange(t *testing.T, src netip.Addr, b []byte) []byte {
	t.Helper()
	conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), d.conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before := d.count()
	if _, err := conn.Write(b); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		if d.count() == before {
			// Not even received: the test would prove nothing.
			testtool.Eventually(t, 10*time.Second, "the stand-in to receive the request", func() bool { return d.count() > before })
		}
		return nil
	}
	return buf[:n]
}

// --- CoovaChilli ----------------------------------------------------------

// chilliDAS answers as CoovaChilli's cb_radius_coa_ind does. Its sessions
// are keyed by the name the device logged in with (s_state.redir.username)
// and carry chilli's session ID (s_state.sessionid).
type chilliDAS struct {
	*dasStandIn
	// server is HS_RADIUS: the only address chilli takes requests from.
	server netip.Addr

	mu    sync.Mutex
	users map[string]string // username → chilli session ID
}

func startChilliDAS(t *testing.T, server netip.Addr, secret string) *chilliDAS {
	c := &chilliDAS{server: server, users: map[string]string{}, dasStandIn: newStandIn(t, "127.0.0.1:0", secret)}
	c.start(t, c.decide)
	return c
}

// loggedIn records a device logged in as username: the UAM login's
// User-Name, or after MAC authentication the MAC as chilli writes it
// (MAC_FMT "%.2X-%.2X-…", src/pkt.h:563; chilli.c:1565-1571) — replaced by
// the Access-Accept's User-Name when it has one (chilli.c:4681-4690).
func (c *chilliDAS) loggedIn(username, sessionID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users[username] = sessionID
}

func (c *chilliDAS) online(username string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.users[username]
	return ok
}

func (c *chilliDAS) decide(src netip.Addr, b []byte) []byte {
	// "Received RADIUS from wrong address": only HS_RADIUS/HS_RADIUS2 may
	// send Disconnect and CoA (radius.c:1945-1951).
	if src != c.server {
		return nil
	}
	attrs, ok := parseAttrs(b)
	// radius_acctcheck: the Request Authenticator (radius.c:1955-1958).
	if !ok || !requestAuthOK(b, c.secret) {
		return nil
	}
	if b[0] != codeDisconnectReq && b[0] != codeCoAReq {
		return nil // chilli.c:4870-4874
	}
	iscoa := b[0] == codeCoAReq
	// "Username must be included in disconnect request": no answer at all
	// (chilli.c:4879-4882).
	user, ok := first(attrs, atUserName)
	if !ok {
		return nil
	}
	sid, hasSID := first(attrs, atAcctSessionID)
	c.mu.Lock()
	found := false
	// User-Name byte for byte, Acct-Session-Id case-insensitively
	// (chilli.c:4897-4902).
	if s, ok := c.users[string(user)]; ok && (!hasSID || strings.EqualFold(s, string(sid))) {
		found = true
		if !iscoa {
			delete(c.users, string(user)) // terminate_appconn (chilli.c:4938)
		}
	}
	c.mu.Unlock()
	// radius_default_pack + radius_coaresp: no Message-Authenticator
	// (radius.c:1624-1644).
	code := byte(codeDisconnectNAK)
	switch {
	case found && iscoa:
		code = codeCoAACK
	case found:
		code = codeDisconnectACK
	case iscoa:
		code = codeCoANAK
	}
	return reply(b, code, c.secret, false)
}

// --- OpenWrt uspot --------------------------------------------------------

// uspotDAS answers as uspot's radius-das.c and uspot.uc's das_disconnect /
// das_coa do. Its clients are the RADIUS Access-Requests uspot sent for
// them (client.radius.request, built at uspot.uc:762-769, kept at :782-786), by attribute name.
type uspotDAS struct {
	*dasStandIn

	mu      sync.Mutex
	clients []map[byte]string
}

func startUSpotDAS(t *testing.T, secret string) *uspotDAS {
	u := &uspotDAS{dasStandIn: newStandIn(t, "127.0.0.1:0", secret)}
	u.start(t, u.decide)
	return u
}

// authenticated records a client with the attributes of its Access-Request.
func (u *uspotDAS) authenticated(request map[byte]string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clients = append(u.clients, request)
}

func (u *uspotDAS) online() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.clients)
}

// uspotDisconnectAllowed: disconnect_attrid_not_supported
// (radius-das.c:396-431); everything else NAKs.
var uspotDisconnectAllowed = map[byte]bool{
	atUserName: true, atNASIPAddress: true, atNASIdentifier: true, atClass: true, atCalledStationID: true,
	atCallingStationID: true, atProxyState: true, atAcctSessionID: true, atAcctTerminate: true, atCUI: true,
}

// uspotCoAAllowed: coa_attrid_not_supported (radius-das.c:567-596).
var uspotCoAAllowed = map[byte]bool{
	atUserName: true, atNASIPAddress: true, atFramedIPAddress: true, atNASIdentifier: true, 24: true, atClass: true,
	atSessionTimeout: true, atIdleTimeout: true, atCalledStationID: true, atCallingStationID: true, atProxyState: true,
	atAcctSessionID: true, atAcctInterim: true, atCUI: true,
}

// uspotMatched: the attributes radius-das.c hands to uspot for matching
// (radius_attrids, radius-das.c:197-209), as strings (toval_str, toval_ip).
var uspotMatched = map[byte]bool{
	atUserName: true, atNASIPAddress: true, atFramedIPAddress: true, atCalledStationID: true,
	atCallingStationID: true, atNASIdentifier: true, atAcctSessionID: true, atCUI: true,
}

func (u *uspotDAS) decide(_ netip.Addr, b []byte) []byte {
	attrs, ok := parseAttrs(b)
	// "invalid Request Authenticator": silently discarded
	// (radius-das.c:754-757). uspot's DAS checks no source address.
	if !ok || !requestAuthOK(b, u.secret) {
		return nil
	}
	var ack, nak byte
	var allowed map[byte]bool
	switch b[0] {
	case codeDisconnectReq:
		ack, nak, allowed = codeDisconnectACK, codeDisconnectNAK, uspotDisconnectAllowed
	case codeCoAReq:
		ack, nak, allowed = codeCoAACK, codeCoANAK, uspotCoAAllowed
	default:
		return nil // radius-das.c:766-769
	}
	// Proxy-State, State and Class are copied into the answer, which
	// carries no Message-Authenticator and no Error-Cause
	// (radius-das.c:266-277, 771-776).
	var echo []rawAttr
	request := map[byte]string{}
	for _, a := range attrs {
		if !allowed[a.typ] {
			return reply(b, nak, u.secret, false, echo...) // radius-das.c:262-265
		}
		switch a.typ {
		case atClass, 24, atProxyState:
			echo = append(echo, a)
		}
		if uspotMatched[a.typ] {
			if a.typ == atNASIPAddress || a.typ == atFramedIPAddress {
				if len(a.val) != 4 {
					return reply(b, nak, u.secret, false, echo...)
				}
				request[a.typ] = netip.AddrFrom4([4]byte(a.val)).String()
			} else {
				request[a.typ] = string(a.val)
			}
		}
	}
	// das_match_client: the first client whose stored request has every
	// key of the DAS request with an equal value (uspot.uc:627-652).
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, c := range u.clients {
		match := true
		for k, v := range request {
			if c[k] != v {
				match = false
				break
			}
		}
		if match {
			if b[0] == codeDisconnectReq {
				u.clients = append(u.clients[:i], u.clients[i+1:]...) // client_remove
			}
			return reply(b, ack, u.secret, false, echo...)
		}
	}
	return reply(b, nak, u.secret, false, echo...)
}

// --- hostapd --------------------------------------------------------------

// hostapdDAS answers as hostapd's DAS does for a BSS with MAC
// authentication (no 802.1X identities), configured with
// radius_das_client, radius_das_require_event_timestamp=1,
// radius_das_require_message_authenticator=1 and a nas_identifier, built
// without CONFIG_HS20 (the OpenWrt and Debian builds).
type hostapdDAS struct {
	*dasStandIn
	client netip.Addr // radius_das_client
	nasID  string     // nas_identifier

	mu       sync.Mutex
	stations map[[6]byte]string // associated stations → Acct-Session-Id
}

func startHostapdDAS(t *testing.T, client netip.Addr, nasID, secret string) *hostapdDAS {
	h := &hostapdDAS{client: client, nasID: nasID, stations: map[[6]byte]string{}, dasStandIn: newStandIn(t, "127.0.0.1:0", secret)}
	h.start(t, h.decide)
	return h
}

func (h *hostapdDAS) associated(mac [6]byte, acctSessionID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stations[mac] = acctSessionID
}

func (h *hostapdDAS) isAssociated(mac [6]byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.stations[mac]
	return ok
}

// hostapdDisconnectAllowed: radius_das_disconnect's allowed[]
// (radius_das.c:41-55); anything else is Error-Cause 401.
var hostapdDisconnectAllowed = map[byte]bool{
	atUserName: true, atNASIPAddress: true, atCallingStationID: true, atNASIdentifier: true, atAcctSessionID: true,
	atAcctMultiSession: true, atEventTimestamp: true, atMessageAuth: true, atCUI: true, atNASIPv6Address: true,
}

// hwaddrAton2 parses a MAC as hostapd's hwaddr_aton2 does: twelve hex
// digits, any of ':', '.', '-' between them.
func hwaddrAton2(s string) ([6]byte, bool) {
	var m [6]byte
	var digits []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == '.' || c == '-':
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			digits = append(digits, c)
		default:
			return m, false
		}
	}
	if len(digits) != 12 {
		return m, false
	}
	for i := range 6 {
		var v byte
		for _, c := range digits[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c <= '9':
				v |= c - '0'
			case c >= 'a':
				v |= c - 'a' + 10
			default:
				v |= c - 'A' + 10
			}
		}
		m[i] = v
	}
	return m, true
}

func (h *hostapdDAS) decide(src netip.Addr, b []byte) []byte {
	// "DAS: Drop message from unknown client" (radius_das.c:426-429).
	if src != h.client {
		return nil
	}
	attrs, ok := parseAttrs(b)
	if !ok {
		return nil
	}
	// radius_msg_verify_das_req with require_message_authenticator
	// (radius_das.c:440-446): Request Authenticator and MA, else drop.
	if !requestAuthOK(b, h.secret) || !messageAuthOK(b, h.secret) {
		return nil
	}
	// Event-Timestamp within radius_das_time_window (300 s), required
	// (radius_das.c:450-469).
	ts, ok := first(attrs, atEventTimestamp)
	if !ok || len(ts) != 4 {
		return nil
	}
	if d := time.Since(time.Unix(int64(binary.BigEndian.Uint32(ts)), 0)); d > 300*time.Second || d < -300*time.Second {
		return nil
	}
	answer := func(code byte, cause uint32) []byte {
		// Every answer carries Event-Timestamp and a Message-Authenticator
		// (radius_das.c:486-500), a NAK its Error-Cause.
		now := rawAttr{atEventTimestamp, binary.BigEndian.AppendUint32(nil, uint32(time.Now().Unix()))}
		if cause != 0 {
			return reply(b, code, h.secret, true, errorCauseAttr(cause), now)
		}
		return reply(b, code, h.secret, true, now)
	}
	switch b[0] {
	case codeCoAReq:
		// Without CONFIG_HS20 das->coa is NULL: CoA-NAK, Error-Cause 405
		// (hostapd.c:1369, 1497; radius_das.c:232-235).
		return answer(codeCoANAK, errUnsupportedSvc)
	case codeDisconnectReq:
	default:
		return nil
	}
	for _, a := range attrs {
		if !hostapdDisconnectAllowed[a.typ] {
			return answer(codeDisconnectNAK, errUnsupportedAttr) // radius_das.c:67-73
		}
	}
	// hostapd_das_nas_mismatch (hostapd.c:1071-1082).
	if id, ok := first(attrs, atNASIdentifier); ok && string(id) != h.nasID {
		return answer(codeDisconnectNAK, errNASMismatch)
	}
	// hostapd_das_find_sta (hostapd.c:1106-1270).
	h.mu.Lock()
	defer h.mu.Unlock()
	candidates := map[[6]byte]bool{}
	for m := range h.stations {
		candidates[m] = true
	}
	n := 0
	if csi, ok := first(attrs, atCallingStationID); ok {
		n++
		m, valid := hwaddrAton2(string(csi))
		if !valid {
			return answer(codeDisconnectNAK, errInvalidAttrValue)
		}
		for c := range candidates {
			if c != m {
				delete(candidates, c)
			}
		}
	}
	if sid, ok := first(attrs, atAcctSessionID); ok {
		n++
		if len(sid) != 16 {
			return answer(codeDisconnectNAK, errSessionNotFound) // hostapd.c:1139-1143
		}
		for c := range candidates {
			if h.stations[c] != string(sid) {
				delete(candidates, c)
			}
		}
	}
	if _, ok := first(attrs, atUserName); ok {
		// Matched against the 802.1X identity, which a MAC-authenticated
		// station does not have (hostapd.c:1236-1245).
		n++
		clear(candidates)
	}
	if n == 0 || len(candidates) != 1 {
		return answer(codeDisconnectNAK, errSessionNotFound)
	}
	for m := range candidates {
		delete(h.stations, m) // ap_sta_deauthenticate
	}
	return answer(codeDisconnectACK, 0)
}

// --- Meraki ---------------------------------------------------------------

// merakiDAS answers as the Meraki cloud is documented to: it listens at the
// organisation's host name on 3799 — never at the address its RADIUS
// requests come from — and "the only dynamic authorization supported are
// disconnect messages". It checks the Request Authenticator (RFC 5176
// §3.5, which the document says it follows) and identifies the device by
// Calling-Station-Id; which attributes the real one requires is not
// documented.
type merakiDAS struct {
	*dasStandIn

	mu      sync.Mutex
	clients map[string]bool // Calling-Station-Id, RFC 3580 form
}

func startMerakiDAS(t *testing.T, listen, secret string) *merakiDAS {
	m := &merakiDAS{clients: map[string]bool{}, dasStandIn: newStandIn(t, listen, secret)}
	m.start(t, m.decide)
	return m
}

func (m *merakiDAS) signedOn(csi string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.clients[csi] = true
}

func (m *merakiDAS) online(csi string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.clients[csi]
}

func (m *merakiDAS) decide(_ netip.Addr, b []byte) []byte {
	attrs, ok := parseAttrs(b)
	if !ok || !requestAuthOK(b, m.secret) {
		return nil
	}
	switch b[0] {
	case codeCoAReq:
		return reply(b, codeCoANAK, m.secret, false, errorCauseAttr(errUnsupportedSvc))
	case codeDisconnectReq:
	default:
		return nil
	}
	csi, _ := first(attrs, atCallingStationID)
	mac, valid := hwaddrAton2(string(csi))
	key := strings.ToUpper(net.HardwareAddr(mac[:]).String())
	key = strings.ReplaceAll(key, ":", "-")
	m.mu.Lock()
	defer m.mu.Unlock()
	if !valid || !m.clients[key] {
		return reply(b, codeDisconnectNAK, m.secret, false, errorCauseAttr(errSessionNotFound))
	}
	delete(m.clients, key)
	return reply(b, codeDisconnectACK, m.secret, false)
}

// legacyDisconnect is the one Disconnect-Request roamgate sent to every NAS
// before dialects: Message-Authenticator, NAS-Identifier, Acct-Session-Id,
// Calling-Station-Id (RFC 3580), Framed-IP-Address, Event-Timestamp.
func legacyDisconnect(t *testing.T, secret, nasID, acctSessionID string, mac [6]byte, ip netip.Addr) []byte {
	t.Helper()
	p := &layeh.Packet{Code: layeh.CodeDisconnectRequest, Identifier: 7, Secret: []byte(secret)}
	p.Add(atMessageAuth, make(layeh.Attribute, 16))
	p.Add(atNASIdentifier, layeh.Attribute(nasID))
	p.Add(atAcctSessionID, layeh.Attribute(acctSessionID))
	p.Add(atCallingStationID, layeh.Attribute(strings.ReplaceAll(strings.ToUpper(net.HardwareAddr(mac[:]).String()), ":", "-")))
	if ip.IsValid() {
		p.Add(atFramedIPAddress, layeh.Attribute(ip.AsSlice()))
	}
	p.Add(atEventTimestamp, layeh.Attribute(binary.BigEndian.AppendUint32(nil, uint32(time.Now().Unix()))))
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(md5.New, []byte(secret))
	h.Write(b)
	copy(b[22:38], h.Sum(nil))
	sum := md5.New()
	sum.Write(b)
	sum.Write([]byte(secret))
	copy(b[4:20], sum.Sum(nil))
	return b
}
