package radius

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/session"
	"roamgate/session/sessiontest"
)

// TestBatchWithRealSessions sends a burst of Access-Requests that waits in
// the socket until the server starts, so that the worker handles them as
// batches (begin for all, Sessions.Warm, finish for each) against a real
// session Manager: devices with sessions, a revoked one, unknown ones, a
// Calling-Station-Id and User-Name that disagree, a forged
// Message-Authenticator. Every reply must be what that request alone gets:
// an Access-Accept naming the device's own session, a reject or silence;
// and a retransmission afterwards gets the first reply again. (Not in the
// burst: two workers may hold the original and the copy at once, and the
// copy of a request in flight is dropped.)
func TestBatchWithRealSessions(t *testing.T) {
	mgr := sessiontest.New(t, sessiontest.Options{Policy: session.Policy{Lifetime: 2 * time.Hour, IdleTimeout: 30 * time.Minute}}).Manager
	ctx := context.Background()
	sessions := map[string]string{} // MAC → session ID
	for i := range 12 {
		mac := session.MAC{0x02, 0x5a, 0, 0, 0, byte(i)}
		s, _, err := mgr.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
		if err != nil {
			t.Fatal(err)
		}
		sessions[mac.String()] = s.ID
	}
	revoked := session.MAC{0x02, 0x5a, 0, 0, 0, 11}.String()
	if err := mgr.Revoke(ctx, sessions[revoked]); err != nil {
		t.Fatal(err)
	}
	ts := listenServer(t, testConfig(), Deps{Sessions: mgr})
	if ts.shared == nil {
		t.Fatal("a session.Manager is not SharedSessions: the batch would not be warmed")
	}

	type sent struct {
		b      []byte
		accept string // the session ID an Access-Accept must name; "" for a reject
		silent bool
	}
	var burst []sent
	add := func(secret string, accept string, attrs ...attr) {
		p := newRequest(layeh.CodeAccessRequest, secret, attrs...)
		p.Identifier = byte(len(burst))
		b, err := sign(t, p).Encode()
		if err != nil {
			t.Fatal(err)
		}
		burst = append(burst, sent{b: b, accept: accept, silent: secret != testSecret})
	}
	csi := func(mac string) attr { return attr{rfc2865.CallingStationID_Type, mac} }
	un := func(mac string) attr { return attr{rfc2865.UserName_Type, mac} }
	for i := range 40 {
		mac := session.MAC{0x02, 0x5a, 0, 0, 0, byte(i % 14)}.String() // 12 and 13 have no session
		switch id := sessions[mac]; {
		case i == 20:
			add(testSecret, "", csi(mac), un(session.MAC{0x02, 0x5a, 0, 0, 0, 1}.String())) // they disagree
		case i == 21:
			add("not-the-secret", "", csi(mac))
		case mac == revoked:
			add(testSecret, "", csi(mac), un(mac))
		default:
			add(testSecret, id, csi(mac), un(mac))
		}
	}
	conn, err := net.DialUDP("udp", nil, ts.AuthAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, s := range burst {
		if _, err := conn.Write(s.b); err != nil {
			t.Fatal(err)
		}
	}
	ts.serve(t)

	want := 0
	for _, s := range burst {
		if !s.silent {
			want++
		}
	}
	replies := map[byte][][]byte{}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, layeh.MaxPacketLength)
	for got := 0; got < want; got++ {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("%d of %d replies: %v", got, want, err)
		}
		replies[buf[1]] = append(replies[buf[1]], bytes.Clone(buf[:n]))
	}
	for i, s := range burst {
		rs := replies[byte(i)]
		switch {
		case s.silent:
			if len(rs) != 0 {
				t.Errorf("%d: forged, yet answered", i)
			}
			continue
		case len(rs) != 1:
			t.Errorf("%d: %d replies", i, len(rs))
			continue
		}
		p, err := layeh.Parse(rs[0], []byte(testSecret))
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		req, _ := layeh.Parse(s.b, []byte(testSecret))
		if !layeh.IsAuthenticResponse(rs[0], s.b, []byte(testSecret)) {
			t.Errorf("%d: the reply's authenticator is wrong", i)
		}
		switch {
		case s.accept == "" && p.Code != layeh.CodeAccessReject:
			t.Errorf("%d (%s): %v, want Access-Reject", i, rfc2865.CallingStationID_GetString(req), p.Code)
		case s.accept != "" && (p.Code != layeh.CodeAccessAccept || string(p.Get(rfc2865.Class_Type)) != s.accept):
			t.Errorf("%d (%s): %v with Class %q, want Access-Accept with %q", i, rfc2865.CallingStationID_GetString(req), p.Code, p.Get(rfc2865.Class_Type), s.accept)
		}
	}
	if _, err := conn.Write(burst[3].b); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("the retransmission: %v", err)
	}
	if !bytes.Equal(buf[:n], replies[3][0]) {
		t.Error("the retransmission got another reply than the request")
	}
	if b := ts.AuthReadBatches(); b.Reads[0] == b.Total() {
		t.Errorf("every read returned one datagram (%+v): no batch was tested", b)
	}
}
