package radius

import (
	"net/netip"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/session"
)

// benchSessions answers from one fixed session without recording anything,
// so the benchmark measures the RADIUS path, not the fake.
type benchSessions struct {
	mac session.MAC
	s   session.Session
}

func (b benchSessions) ByMAC(m session.MAC) (session.Session, error) {
	if m == b.mac {
		return b.s, nil
	}
	return session.Session{}, session.ErrNotFound
}

func (b benchSessions) Seen(string, session.Activity) (session.Session, error) { return b.s, nil }
func (b benchSessions) TimeLeft(session.Session) time.Duration                 { return 42 * time.Minute }

// BenchmarkAccessRequest is the whole handling of one MAC-authentication
// Access-Request as an access point sends it: client lookup, framing,
// Message-Authenticator check, parse, MAC parse, session lookup, reply
// building, Message-Authenticator and Response Authenticator. The socket
// read and write are not included.
func BenchmarkAccessRequest(b *testing.B) {
	srv, err := New(testConfig(), Deps{
		Sessions:    benchSessions{mac: liveMAC, s: session.Session{ID: liveID}},
		IdleTimeout: 15 * time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	packet := func(mac string) []byte {
		p := sign(b, newRequest(layeh.CodeAccessRequest, testSecret,
			attr{rfc2865.UserName_Type, mac},
			attr{rfc2865.CallingStationID_Type, mac},
			attr{rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE:WiFi4EU"},
			attr{rfc2865.NASIdentifier_Type, "bahnhof-ap1"},
			attr{rfc2865.NASIPAddress_Type, "\x0a\x09\x08\x07"},
			attr{rfc2865.NASPortType_Type, "\x00\x00\x00\x13"},
			attr{rfc2865.ServiceType_Type, "\x00\x00\x00\x0a"},
		))
		buf, err := p.Encode()
		if err != nil {
			b.Fatal(err)
		}
		return buf
	}
	for _, bc := range []struct {
		name string
		pkt  []byte
		want layeh.Code
	}{
		{"accept", packet("02-1A-2B-3C-4D-5E"), layeh.CodeAccessAccept},
		{"reject", packet("02-1A-2B-3C-4D-FF"), layeh.CodeAccessReject},
	} {
		b.Run(bc.name, func(b *testing.B) {
			if _, out := srv.handle(authListener, src, bc.pkt); out.reply != bc.want {
				b.Fatalf("outcome %+v, want %v", out, bc.want)
			}
			b.ReportAllocs()
			for b.Loop() {
				srv.handle(authListener, src, bc.pkt)
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					srv.handle(authListener, src, bc.pkt)
				}
			})
		})
	}
}
