package radius

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/session"
)

// blockingSessions holds every lookup until released, so that the workers
// stall and the queue fills.
type blockingSessions struct {
	*fakeSessions
	release chan struct{}
}

func (b blockingSessions) ByMAC(m session.MAC) (session.Session, error) {
	<-b.release
	return b.fakeSessions.ByMAC(m)
}

// TestOverload: when the workers cannot keep up and the bounded queue is
// full, datagrams are dropped and counted as overload, and the server serves
// again once the workers catch up.
func TestOverload(t *testing.T) {
	sessions := blockingSessions{newFakeSessions(), make(chan struct{})}
	// Not startServer: its outcome channel would overflow; this test reads
	// Stats instead.
	srv, err := New(testConfig(), Deps{Sessions: sessions, QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background()) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	ts := srv
	conn, err := net.DialUDP("udp", nil, ts.AuthAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	packet := func() []byte {
		b, err := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"})).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	released := false
	defer func() {
		if !released {
			close(sessions.release)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for ts.Stats().Dropped.Overload == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no overload counted; stats %+v", ts.Stats())
		}
		if _, err := conn.Write(packet()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // pace the flood so the reader reads batches
	}
	close(sessions.release)
	released = true
	// Wait until the workers have caught up with what was read, or the
	// request below could meet a queue still full and be dropped as
	// overload in turn (exchange does not retransmit, as an AP would).
	deadline = time.Now().Add(10 * time.Second)
	for {
		st := ts.Stats()
		if st.Accepted+st.Dropped.Overload == st.Received {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workers did not catch up after the release; stats %+v", st)
		}
		time.Sleep(time.Millisecond)
	}
	// Caught up: a new request is answered.
	resp := mustExchange(t, sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"})), ts.AuthAddr())
	if resp.Code != layeh.CodeAccessAccept {
		t.Errorf("after the overload: %v", resp.Code)
	}
}

// blockFirst holds the first lookup until released; later ones pass.
type blockFirst struct {
	*fakeSessions
	entered, release chan struct{}
	first            chan struct{} // closed by the first caller
}

func (b blockFirst) ByMAC(m session.MAC) (session.Session, error) {
	select {
	case <-b.first:
	default:
		close(b.first)
		close(b.entered)
		<-b.release
	}
	return b.fakeSessions.ByMAC(m)
}

// TestDuplicateInFlight (RFC 5080 §2.2.2): a retransmission of a request
// that is still being handled is dropped (its original's reply will answer
// it); a new request reusing the identifier meanwhile is handled on its own;
// the original, finishing last, does not overwrite the newer cache entry.
func TestDuplicateInFlight(t *testing.T) {
	sessions := blockFirst{newFakeSessions(), make(chan struct{}), make(chan struct{}), make(chan struct{})}
	srv, err := New(testConfig(), Deps{Sessions: sessions})
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("127.0.0.1:40000")
	encode := func(p *layeh.Packet) []byte {
		p.Identifier = 7
		b, err := sign(t, p).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first := encode(newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
	second := encode(newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-00-00-00-00-07"}))

	done := make(chan []byte)
	go func() {
		reply, _ := srv.handle(authListener, src, first, replyBuffer())
		done <- reply
	}()
	<-sessions.entered // the original is in flight

	if reply, out := srv.handle(authListener, src, first, replyBuffer()); reply != nil || out.drop != dropInFlight {
		t.Errorf("retransmission in flight: outcome %+v, want drop %v", out, dropInFlight)
	}
	newReply, out := srv.handle(authListener, src, second, replyBuffer())
	if newReply == nil || out.reply != layeh.CodeAccessAccept || out.resent {
		t.Fatalf("new request with the same identifier: outcome %+v", out)
	}
	close(sessions.release)
	firstReply := <-done
	if firstReply == nil {
		t.Fatal("the original got no reply")
	}
	// The newer request owns the identifier now: its retransmission gets
	// its own reply from the cache.
	again, out := srv.handle(authListener, src, second, replyBuffer())
	if !out.resent || !bytes.Equal(again, newReply) {
		t.Errorf("retransmission of the newer request: outcome %+v, same bytes %v", out, bytes.Equal(again, newReply))
	}
	if st := srv.Stats(); st.Dropped.InFlight != 1 || st.Resent != 1 {
		t.Errorf("stats %+v, want 1 in flight and 1 resent", st)
	}
}
