package nastest

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2866"
)

// silent is a bound UDP port that never answers: a site that is down but
// still routed (no ICMP unreachable either way on loopback matters here).
func silent(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}

// answering is a RADIUS server that accepts everything.
func answering(t *testing.T, secret []byte) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &radius.PacketServer{SecretSource: radius.StaticSecretSource(secret),
		Handler: radius.HandlerFunc(func(w radius.ResponseWriter, r *radius.Request) {
			code := radius.CodeAccessAccept
			if r.Code == radius.CodeAccountingRequest {
				code = radius.CodeAccountingResponse
			}
			w.Write(r.Response(code))
		})}
	go srv.Serve(c)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return c.LocalAddr().String()
}

func TestFailsOverAndStays(t *testing.T) {
	secret := []byte("testing123")
	primary, secondary := silent(t), answering(t, secret)
	for _, tc := range []struct {
		name      string
		retry     Retry
		wantSends int
	}{
		{"hostapd", Hostapd.Scaled(0.01), 5},          // 4 to the primary (30, 60, 120, 240 ms), the 5th to the secondary
		{"coova-chilli", CoovaChilli.Scaled(0.01), 3}, // 2 to the primary, the 3rd to the secondary
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := &NAS{ID: "ap-1", Secret: secret, Retry: tc.retry,
				Servers: []Server{{Auth: primary, Acct: primary}, {Auth: secondary, Acct: secondary}}}
			a, err := n.MACAuth("02:00:00:00:00:01")
			if err != nil {
				t.Fatal(err)
			}
			if a.Code != radius.CodeAccessAccept || a.Server != 1 || a.Sends != tc.wantSends {
				t.Fatalf("first request: %+v; want an Access-Accept from the secondary after %d transmissions", a, tc.wantSends)
			}
			// The next request goes to the secondary at once.
			start := time.Now()
			a, err = n.Accounting("02:00:00:00:00:01", "s1", rfc2866.AcctStatusType_Value_Start, 0)
			if err != nil || a.Server != 1 || a.Sends != 1 {
				t.Fatalf("second request: %+v, %v; want the secondary's answer to the first transmission", a, err)
			}
			if time.Since(start) > tc.retry.Timeout {
				t.Errorf("second request took %v", time.Since(start))
			}
		})
	}
	t.Run("nobody answers", func(t *testing.T) {
		n := &NAS{ID: "ap-1", Secret: secret, Retry: CoovaChilli.Scaled(0.001),
			Servers: []Server{{Auth: silent(t)}, {Auth: silent(t)}}}
		if _, err := n.MACAuth("02:00:00:00:00:01"); !errors.Is(err, ErrNoAnswer) {
			t.Fatalf("err = %v, want ErrNoAnswer", err)
		}
	})
}
