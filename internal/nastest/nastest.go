// Package nastest is a test access point (a RADIUS client, the NAS) that
// asks its RADIUS servers the way real access points do: a primary and
// backups, a timeout per transmission, a move to the next server after a
// number of unanswered transmissions, and staying with the server that
// answers. Tests use it to watch access points fail over from one
// roamgate site to the other.
//
// The retry schedules are taken from the vendors' source:
//
//   - hostapd (OpenWrt, UniFi and most Linux-based APs),
//     src/radius/radius_client.c: the first retransmission after
//     RADIUS_CLIENT_FIRST_WAIT (3 s), each wait twice the last (at most
//     RADIUS_CLIENT_MAX_WAIT, 120 s); after RADIUS_CLIENT_NUM_FAILOVER (4)
//     transmissions radius_client_auth_failover() moves conf->auth_server to
//     the next server, where it stays (radius_retry_primary_interval, off
//     by default, moves it back).
//   - CoovaChilli, src/cmdline.ggo (radiustimeout 10 s, radiusretry 4,
//     radiusretrysec 2) and src/radius.c radius_timeout(): a retransmission
//     every radiustimeout, the other server from the radiusretrysec-th on;
//     new requests go to the server that answered last (lastreply).
//
// Tests scale the timeouts down (Retry.Scaled): the order of events is the
// vendor's, the seconds are the test's.
package nastest

import (
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
)

// Retry is an access point's retransmission schedule.
type Retry struct {
	// Timeout is the wait for an answer to the first transmission.
	Timeout time.Duration
	// Backoff doubles the wait after each transmission (hostapd).
	Backoff bool
	// PerServer is how many transmissions go unanswered before the NAS
	// moves to the next server (and stays there).
	PerServer int
	// Total is how many transmissions a request gets before the NAS gives
	// up on it.
	Total int
}

// Vendor schedules (see the package comment for their source).
var (
	Hostapd     = Retry{Timeout: 3 * time.Second, Backoff: true, PerServer: 4, Total: 12}
	CoovaChilli = Retry{Timeout: 10 * time.Second, PerServer: 2, Total: 4}
)

// Scaled is r with its timeout multiplied by f (a drill cannot wait 45 s
// for hostapd to give up on a site).
func (r Retry) Scaled(f float64) Retry {
	r.Timeout = time.Duration(float64(r.Timeout) * f)
	return r
}

// Server is one RADIUS server: its authentication and accounting addresses
// (host:port, UDP).
type Server struct {
	Auth, Acct string
}

// NAS is one access point. It is safe for concurrent use; concurrent
// requests share the NAS's idea of the current server, as on a real AP.
type NAS struct {
	// ID is sent as NAS-Identifier.
	ID string
	// Secret is the shared secret with every server.
	Secret []byte
	// Servers in order of preference: primary first.
	Servers []Server
	// Retry is the schedule.
	Retry Retry

	mu      sync.Mutex
	current int // index into Servers: where new requests go
	moves   int
}

// Answer is what one request got.
type Answer struct {
	// Code is the server's answer (Access-Accept, Access-Reject,
	// Accounting-Response).
	Code radius.Code
	// Server is the index of the server that answered.
	Server int
	// Sends is how many transmissions it took.
	Sends int
	// Took is from the first transmission to the answer.
	Took time.Duration
}

// ErrNoAnswer is returned when no server answered within the schedule.
var ErrNoAnswer = errors.New("nastest: no server answered")

// Current is the index of the server new requests go to.
func (n *NAS) Current() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.current
}

// Failovers counts the moves to another server so far.
func (n *NAS) Failovers() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.moves
}

// MACAuth asks for MAC authentication of mac (User-Name and
// Calling-Station-Id), with a Message-Authenticator as roamgate requires.
func (n *NAS) MACAuth(mac string) (Answer, error) {
	p := radius.New(radius.CodeAccessRequest, n.Secret)
	rfc2865.UserName_SetString(p, mac)
	rfc2865.UserPassword_SetString(p, mac)
	rfc2865.CallingStationID_SetString(p, mac)
	rfc2865.NASIdentifier_SetString(p, n.ID)
	rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	return n.exchange(p, false)
}

// Accounting sends an Accounting-Request for mac's session.
func (n *NAS) Accounting(mac, acctSessionID string, status rfc2866.AcctStatusType, inOctets uint32) (Answer, error) {
	p := radius.New(radius.CodeAccountingRequest, n.Secret)
	rfc2865.UserName_SetString(p, mac)
	rfc2865.CallingStationID_SetString(p, mac)
	rfc2865.NASIdentifier_SetString(p, n.ID)
	rfc2866.AcctStatusType_Set(p, status)
	rfc2866.AcctSessionID_SetString(p, acctSessionID)
	rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(inOctets))
	return n.exchange(p, true)
}

// encode frames p; an Access-Request gets its Message-Authenticator (RFC
// 3579 §3.2: HMAC-MD5 over the packet with the attribute zeroed).
func (n *NAS) encode(p *radius.Packet) ([]byte, error) {
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	if p.Code != radius.CodeAccessRequest {
		return b, nil
	}
	for i := 20; i+2 <= len(b); i += int(b[i+1]) {
		if b[i+1] < 2 {
			break
		}
		if radius.Type(b[i]) == rfc2869.MessageAuthenticator_Type && b[i+1] == 18 {
			h := hmac.New(md5.New, n.Secret)
			h.Write(b)
			copy(b[i+2:i+18], h.Sum(nil))
			return b, nil
		}
	}
	return nil, errors.New("nastest: no Message-Authenticator in the packet")
}

// exchange sends p by the schedule and returns the first authentic answer.
func (n *NAS) exchange(p *radius.Packet, acct bool) (Answer, error) {
	b, err := n.encode(p)
	if err != nil {
		return Answer{}, err
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return Answer{}, err
	}
	defer conn.Close()
	start := time.Now()
	wait := n.Retry.Timeout
	server := n.Current()
	unanswered := 0 // transmissions to server without an answer
	buf := make([]byte, 4096)
	for sends := 1; sends <= n.Retry.Total; sends++ {
		addr := n.Servers[server].Auth
		if acct {
			addr = n.Servers[server].Acct
		}
		to, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return Answer{}, err
		}
		if _, err := conn.WriteToUDP(b, to); err != nil {
			return Answer{}, err
		}
		deadline := time.Now().Add(wait)
		for {
			conn.SetReadDeadline(deadline)
			m, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				break // timed out: retransmit
			}
			reply, err := radius.Parse(buf[:m], n.Secret)
			if err != nil || reply.Identifier != p.Identifier || !radius.IsAuthenticResponse(buf[:m], b, n.Secret) {
				continue // not ours, or forged: keep waiting
			}
			got := n.indexOf(from.String(), acct)
			n.answeredBy(got)
			return Answer{Code: reply.Code, Server: got, Sends: sends, Took: time.Since(start)}, nil
		}
		unanswered++
		if n.Retry.Backoff {
			wait *= 2
		}
		if unanswered >= n.Retry.PerServer && len(n.Servers) > 1 {
			server = n.failover(server)
			unanswered = 0
		}
	}
	return Answer{Sends: n.Retry.Total, Took: time.Since(start)}, fmt.Errorf("%w after %d transmissions", ErrNoAnswer, n.Retry.Total)
}

func (n *NAS) indexOf(addr string, acct bool) int {
	for i, s := range n.Servers {
		if (acct && s.Acct == addr) || (!acct && s.Auth == addr) {
			return i
		}
	}
	return -1
}

// failover moves the NAS from server to the next one, unless a concurrent
// request already did, and returns where to send now.
func (n *NAS) failover(from int) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.current == from {
		n.current = (from + 1) % len(n.Servers)
		n.moves++
	}
	return n.current
}

// answeredBy makes the server that answered the current one (CoovaChilli's
// lastreply; for hostapd it already is).
func (n *NAS) answeredBy(i int) {
	if i < 0 {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.current != i {
		n.current = i
		n.moves++
	}
}
