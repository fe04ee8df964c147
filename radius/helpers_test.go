package radius

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	layeh "layeh.com/radius"

	"roamgate/session"
)

// The package must accept the real manager as its Sessions.
var _ Sessions = (*session.Manager)(nil)

// fakeSessions is a map of live sessions by MAC, recording Seen calls.
type fakeSessions struct {
	mu        sync.Mutex
	byMAC     map[session.MAC]session.Session
	errs      map[session.MAC]error // ByMAC errors for MACs not in byMAC
	timeLeft  time.Duration
	seen      []seenCall
	restarted []restartCall
}

type seenCall struct {
	ID string
	A  session.Activity
}

func (f *fakeSessions) ByMAC(m session.MAC) (session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s, ok := f.byMAC[m]; ok {
		return s, nil
	}
	if err, ok := f.errs[m]; ok {
		return session.Session{}, err
	}
	return session.Session{}, session.ErrNotFound
}

func (f *fakeSessions) Seen(id string, a session.Activity) (session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.byMAC {
		if s.ID == id {
			f.seen = append(f.seen, seenCall{id, a})
			return s, nil
		}
	}
	return session.Session{}, session.ErrNotFound
}

func (f *fakeSessions) SeenDurable(_ context.Context, id string, a session.Activity) (session.Session, error) {
	return f.Seen(id, a)
}

func (f *fakeSessions) ByID(id string) (session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.byMAC {
		if s.ID == id {
			return s, nil
		}
	}
	return session.Session{}, session.ErrNotFound
}

func (f *fakeSessions) UAMSecret(id string) string { return "uam-" + id[:8] }

func (f *fakeSessions) NASRestarted(addr netip.Addr, nasID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarted = append(f.restarted, restartCall{addr, nasID})
	return 0
}

type restartCall struct {
	Addr  netip.Addr
	NASID string
}

func (f *fakeSessions) TimeLeft(session.Session) time.Duration { return f.timeLeft }

// takeSeen returns and forgets the recorded Seen calls.
func (f *fakeSessions) takeSeen() []seenCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.seen
	f.seen = nil
	return s
}

// fakeLocator knows locations by NAS-Identifier and records its last call.
type fakeLocator struct {
	mu    sync.Mutex
	byNAS map[string]string
	last  locateCall
}

type locateCall struct {
	NASID, APMAC, SSID string
	NASIP              netip.Addr
}

func (l *fakeLocator) Locate(nasID, apMAC, ssid string, nasIP netip.Addr) (string, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = locateCall{nasID, apMAC, ssid, nasIP}
	return l.byNAS[nasID], "wifi4eu"
}

func (l *fakeLocator) lastCall() locateCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// Test fixtures.
const (
	testSecret = "s3cret-for-tests"
	liveID     = "0123456789abcdef0123456789abcdef"
	otherID    = "fedcba9876543210fedcba9876543210"
)

var (
	liveMAC    = session.MAC{0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0x5e}
	otherMAC   = session.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x07}
	revokedMAC = session.MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x66}
)

func newFakeSessions() *fakeSessions {
	return &fakeSessions{
		byMAC: map[session.MAC]session.Session{
			liveMAC:  {ID: liveID, Network: "wifi4eu", Location: "bahnhof"},
			otherMAC: {ID: otherID, Network: "wifi4eu", Location: "stadtpark"},
		},
		errs:     map[session.MAC]error{revokedMAC: session.ErrRevoked},
		timeLeft: 90*time.Second + 200*time.Millisecond,
	}
}

// testConfig is a server on free loopback ports with one client for
// 127.0.0.0/8 that requires Message-Authenticator.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.AuthListen = "127.0.0.1:0"
	cfg.AcctListen = "127.0.0.1:0"
	cfg.Clients = []Client{{Name: "loopback", CIDR: "127.0.0.0/8", Secret: testSecret, Location: "rathaus"}}
	return cfg
}

// testServer is a running server and what it observed.
type testServer struct {
	*Server
	outcomes chan outcome
}

// startServer runs a server until the test ends and checks that Serve
// returns ErrServerClosed then.
func startServer(t testing.TB, cfg Config, deps Deps) *testServer {
	t.Helper()
	ts := listenServer(t, cfg, deps)
	ts.serve(t)
	return ts
}

// listenServer makes a server and opens its sockets, without serving
// them yet: datagrams sent to it wait in the sockets' buffers.
func listenServer(t testing.TB, cfg Config, deps Deps) *testServer {
	t.Helper()
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := &testServer{Server: srv, outcomes: make(chan outcome, 1024)}
	srv.observe = func(_ listener, _ netip.AddrPort, out outcome) {
		select {
		case ts.outcomes <- out:
		default:
			t.Errorf("outcome channel full; dropped %+v", out)
		}
	}
	if err := srv.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	return ts
}

// serve runs the server until the test ends and checks that Serve returns
// ErrServerClosed then.
func (ts *testServer) serve(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ts.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-served:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context was cancelled")
		}
	})
}

// nextOutcome waits for the server to have handled the next datagram.
func (ts *testServer) nextOutcome(t testing.TB) outcome {
	t.Helper()
	select {
	case out := <-ts.outcomes:
		return out
	case <-time.After(10 * time.Second):
		t.Fatal("the server handled no datagram within 10s")
		return outcome{}
	}
}

// attr is one request attribute.
type attr struct {
	T layeh.Type
	V string
}

// newRequest builds a request with the given attributes.
func newRequest(code layeh.Code, secret string, attrs ...attr) *layeh.Packet {
	p := layeh.New(code, []byte(secret))
	for _, a := range attrs {
		p.Add(a.T, layeh.Attribute(a.V))
	}
	return p
}

// sign adds a Message-Authenticator computed here, independently of the
// package (RFC 3579 §3.2): HMAC-MD5 over the packet with the attribute
// zeroed; Accounting-Requests use a zero authenticator.
func sign(t testing.TB, p *layeh.Packet) *layeh.Packet {
	t.Helper()
	value := make(layeh.Attribute, 16)
	p.Add(80, value)
	q := *p
	if p.Code == layeh.CodeAccountingRequest {
		q.Authenticator = [16]byte{}
	}
	b, err := q.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(md5.New, p.Secret)
	h.Write(b)
	copy(value, h.Sum(nil))
	return p
}

// exchange sends p to addr with layeh's client (no retransmissions) and
// returns the verified reply, or the error after wait.
func exchange(p *layeh.Packet, addr net.Addr, wait time.Duration) (*layeh.Packet, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c := layeh.Client{Retry: 0, MaxPacketErrors: 1}
	return c.Exchange(ctx, p, addr.String())
}

// mustExchange expects an answer.
func mustExchange(t testing.TB, p *layeh.Packet, addr net.Addr) *layeh.Packet {
	t.Helper()
	resp, err := exchange(p, addr, 10*time.Second)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return resp
}

// checkReplyMA checks, independently of the package, that the reply carries a
// Message-Authenticator as its first attribute and that it is right:
// HMAC-MD5 over the reply with the request's authenticator and the value
// zeroed.
func checkReplyMA(t testing.TB, req, resp *layeh.Packet) {
	t.Helper()
	if len(resp.Attributes) == 0 || resp.Attributes[0].Type != 80 {
		t.Fatalf("first attribute of %v is not Message-Authenticator: %v", resp.Code, types(resp))
	}
	n := 0
	for _, a := range resp.Attributes {
		if a.Type == 80 {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d Message-Authenticators in reply", n)
	}
	got := resp.Attributes[0].Attribute
	q := *resp
	q.Authenticator = req.Authenticator
	q.Attributes = append(layeh.Attributes{{Type: 80, Attribute: make(layeh.Attribute, 16)}}, resp.Attributes[1:]...)
	b, err := q.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(md5.New, req.Secret)
	h.Write(b)
	if want := h.Sum(nil); !bytes.Equal(got, want) {
		t.Fatalf("reply Message-Authenticator = %x, want %x", got, want)
	}
}

func types(p *layeh.Packet) []layeh.Type {
	var ts []layeh.Type
	for _, a := range p.Attributes {
		ts = append(ts, a.Type)
	}
	return ts
}

// expectSilence sends p and expects the server to drop it for the reason
// given: it waits for the server's verdict first (a condition), then checks
// that the client saw no answer before its deadline.
func expectSilence(t *testing.T, ts *testServer, p *layeh.Packet, addr net.Addr, want dropReason) {
	t.Helper()
	before := ts.Stats()
	errc := make(chan error, 1)
	go func() {
		resp, err := exchange(p, addr, 300*time.Millisecond)
		if err == nil {
			err = errors.New("got an answer: " + resp.Code.String())
		} else if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
		errc <- err
	}()
	out := ts.nextOutcome(t)
	if out.drop != want || out.reply != 0 {
		t.Errorf("server outcome %+v, want drop %v and no reply", out, want)
	}
	if err := <-errc; err != nil {
		t.Errorf("client: %v; want no answer before the deadline", err)
	}
	after := ts.Stats()
	if d := after.Dropped.Total() - before.Dropped.Total(); d != 1 {
		t.Errorf("Dropped.Total grew by %d, want 1", d)
	}
	if after.Accepted+after.Rejected+after.AccountingResponses != before.Accepted+before.Rejected+before.AccountingResponses {
		t.Errorf("answer counters moved on a drop: %+v → %+v", before, after)
	}
}

func getString(p *layeh.Packet, t layeh.Type) string { return string(p.Get(t)) }

func getInt(t *testing.T, p *layeh.Packet, typ layeh.Type) (uint32, bool) {
	t.Helper()
	a, ok := p.Lookup(typ)
	if !ok {
		return 0, false
	}
	v, err := layeh.Integer(a)
	if err != nil {
		t.Fatalf("attribute %d: %v", typ, err)
	}
	return v, true
}

// replyBuffer is a buffer for Server.handle to build a reply in, as a
// worker has for each datagram of a batch.
func replyBuffer() []byte { return make([]byte, 0, layeh.MaxPacketLength) }
