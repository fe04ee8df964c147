package radius

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync/atomic"
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
func (b benchSessions) SeenDurable(context.Context, string, session.Activity) (session.Session, error) {
	return b.s, nil
}
func (b benchSessions) TimeLeft(session.Session) time.Duration { return 42 * time.Minute }
func (b benchSessions) ByID(string) (session.Session, error)   { return b.s, nil }
func (b benchSessions) UAMSecret(string) string                { return "" }
func (b benchSessions) NASRestarted(netip.Addr, string) int    { return 0 }

// benchServer answers from benchSessions' one session.
func benchServer(tb testing.TB) *Server {
	srv, err := New(testConfig(), Deps{
		Sessions:    benchSessions{mac: liveMAC, s: session.Session{ID: liveID}},
		IdleTimeout: 15 * time.Minute,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// BenchmarkAccessRequest is the whole handling of one MAC-authentication
// Access-Request as an access point sends it: client lookup, framing,
// Message-Authenticator check, parse, MAC parse, session lookup, reply
// building, Message-Authenticator and Response Authenticator. The socket
// read and write are not included.
func BenchmarkAccessRequest(b *testing.B) {
	srv := benchServer(b)
	src := netip.MustParseAddr("127.0.0.1")
	// Distinct requests (identifier and authenticator), so that the
	// duplicate cache sees new requests as an access point's would; the
	// source port moves on after each round so none is a retransmission.
	const distinct = 1024
	packets := func(mac string) [][]byte {
		ps := make([][]byte, distinct)
		for i := range ps {
			ps[i] = packet(b, mac)
		}
		return ps
	}
	for _, bc := range []struct {
		name string
		pkts [][]byte
		want layeh.Code
	}{
		{"accept", packets("02-1A-2B-3C-4D-5E"), layeh.CodeAccessAccept},
		{"reject", packets("02-1A-2B-3C-4D-FF"), layeh.CodeAccessReject},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := replyBuffer()
			if _, out := srv.handle(authListener, netip.MustParseAddrPort("127.0.0.2:1"), bc.pkts[0], buf); out.reply != bc.want {
				b.Fatalf("outcome %+v, want %v", out, bc.want)
			}
			b.ReportAllocs()
			i, port := 0, uint16(1)
			for b.Loop() {
				srv.handle(authListener, netip.AddrPortFrom(src, port), bc.pkts[i], buf)
				if i++; i == distinct {
					i, port = 0, port+1
				}
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			var ports atomic.Uint32
			b.RunParallel(func(pb *testing.PB) {
				i, port, buf := 0, uint16(ports.Add(1000)), replyBuffer()
				for pb.Next() {
					srv.handle(authListener, netip.AddrPortFrom(src, port), bc.pkts[i], buf)
					if i++; i == distinct {
						i, port = 0, port+1
					}
				}
			})
		})
	}
}

// packet is a signed MAC-authentication Access-Request with a random
// identifier and authenticator, as an access point sends it.
func packet(b testing.TB, mac string) []byte {
	p := newRequest(layeh.CodeAccessRequest, testSecret,
		attr{rfc2865.UserName_Type, mac},
		attr{rfc2865.CallingStationID_Type, mac},
		attr{rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE:WiFi4EU"},
		attr{rfc2865.NASIdentifier_Type, "bahnhof-ap1"},
		attr{rfc2865.NASIPAddress_Type, "\x0a\x09\x08\x07"},
		attr{rfc2865.NASPortType_Type, "\x00\x00\x00\x13"},
		attr{rfc2865.ServiceType_Type, "\x00\x00\x00\x0a"},
	)
	p.Identifier = byte(rand.Uint32())
	buf, err := sign(b, p).Encode()
	if err != nil {
		b.Fatal(err)
	}
	return buf
}

// TestPAPPasswordAllocatesNothing: MAC authentication with the MAC as
// User-Password (as most access points send it) allocates no more than
// without a password — the password is decoded and parsed on the stack.
// Each request is a new one (identifier, authenticator, source port), as
// in BenchmarkAccessRequest.
func TestPAPPasswordAllocatesNothing(t *testing.T) {
	srv := benchServer(t)
	const mac = "02-1A-2B-3C-4D-5E"
	request := func(password bool) func(testing.TB) []byte {
		return func(t testing.TB) []byte {
			p := newRequest(layeh.CodeAccessRequest, testSecret,
				attr{rfc2865.UserName_Type, mac},
				attr{rfc2865.CallingStationID_Type, mac},
				attr{rfc2865.CalledStationID_Type, "02-AA-BB-CC-DD-EE:WiFi4EU"},
				attr{rfc2865.NASIdentifier_Type, "bahnhof-ap1"})
			if password {
				if err := rfc2865.UserPassword_SetString(p, mac); err != nil {
					t.Fatal(err)
				}
			}
			p.Identifier = byte(rand.Uint32())
			b, err := sign(t, p).Encode()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	// The mean over many requests, not testing.AllocsPerRun's whole
	// number: under the race detector (make test) sync.Pool drops a
	// quarter of what it is given, so pooled states are allocated again at
	// random, alike with and without a password; a real allocation more
	// per request still moves the mean by 1.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	allocs := func(build func(testing.TB) []byte) float64 {
		const runs = 2000
		pkts := make([][]byte, runs)
		for i := range pkts {
			pkts[i] = build(t)
		}
		buf := replyBuffer()
		handle := func(i int) {
			src := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1000+i))
			if _, out := srv.handle(authListener, src, pkts[i], buf); out.reply != layeh.CodeAccessAccept {
				t.Fatalf("outcome %+v, want an Access-Accept", out)
			}
		}
		handle(0) // warm up
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := 1; i < runs; i++ {
			handle(i)
		}
		runtime.ReadMemStats(&after)
		return float64(after.Mallocs-before.Mallocs) / (runs - 1)
	}
	plain, pap := allocs(request(false)), allocs(request(true))
	if pap > plain+0.5 {
		t.Fatalf("%.2f allocations per request with User-Password, %.2f without", pap, plain)
	}
}

// BenchmarkDuplicateCache is an answered request's two visits to the
// duplicate cache (begin, finish), with 2 048 sources and identifiers in
// turn (make bench-radius's 8 sockets × 256 identifiers).
func BenchmarkDuplicateCache(b *testing.B) {
	var c dupCache
	c.init()
	src := netip.MustParseAddr("127.0.0.1")
	keys := make([]dupKey, 2048)
	for i := range keys {
		keys[i] = newDupKey(netip.AddrPortFrom(src, uint16(40000+i/256)), authListener, layeh.CodeAccessRequest, byte(i))
	}
	reply, dst := make([]byte, 90), replyBuffer()
	now := time.Unix(1e9, 0)
	var auth [authLen]byte
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		k := keys[n%len(keys)]
		n++
		auth[0], auth[1], auth[2] = byte(n), byte(n>>8), byte(n>>16)
		if st, _ := c.begin(k, &auth, now, dst); st != dupNew {
			b.Fatalf("state %v, want new", st)
		}
		c.finish(k, &auth, reply, now)
	}
}
