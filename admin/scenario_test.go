package admin

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/crypto/bcrypt"

	"roamgate/history"
	"roamgate/session"
	"roamgate/session/sessiontest"
)

// scenario is a small town afternoon built through the real session
// manager on a temporary SQLite store: 5 sign-ins at the Bahnhof, 3 at the
// Stadtpark, and one device walking from the Bahnhof to the Stadtpark.
type scenario struct {
	mgr     *session.Manager
	hist    *history.Recorder
	reg     *prometheus.Registry
	revoker *fakeRevoker
	ids     []string // in sign-in order
	roamer  string   // the session that moved
	macs    []session.MAC
	ips     []netip.Addr
	tokens  []string
	keys    []session.MACKey
}

// fakeRevoker is our Revoker backed by the real manager; the Disconnect
// outcome is what the test says, since RADIUS is wired in by the gateway.
type fakeRevoker struct {
	mgr     *session.Manager
	outcome Disconnect
}

func (f *fakeRevoker) Revoke(ctx context.Context, id string) (RevokeResult, error) {
	// As the gateway's: a session already revoked is revoked again.
	if _, err := f.mgr.ByID(id); err != nil && !errors.Is(err, session.ErrRevoked) {
		return RevokeResult{}, err
	}
	if err := f.mgr.Revoke(ctx, id); err != nil {
		return RevokeResult{}, err
	}
	return RevokeResult{Disconnect: f.outcome}, nil
}

const (
	opsPassword    = "correct horse battery"
	viewerPassword = "staple viewer"
)

var testKey = []byte("0123456789abcdef0123456789abcdef-admin-test")

func newScenario(t *testing.T) *scenario {
	t.Helper()
	ctx := context.Background()
	site := sessiontest.New(t, sessiontest.Options{Policy: session.Policy{Lifetime: 4 * time.Hour, IdleTimeout: time.Hour}})
	mgr, dir := site.Manager, site.Dir
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	hist, err := history.Open(ctx, history.Options{Path: filepath.Join(dir, "history.db"), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hist.Close() })
	mgr.OnEvent(hist.Record)

	sc := &scenario{mgr: mgr, hist: hist, reg: reg, revoker: &fakeRevoker{mgr: mgr, outcome: DisconnectACK}}
	signIn := func(n int, network, loc, ap string) string {
		mac, err := session.ParseMAC("02:00:5e:10:00:" + string("0123456789abcdef"[n/16]) + string("0123456789abcdef"[n%16]))
		if err != nil {
			t.Fatal(err)
		}
		ip := netip.AddrFrom4([4]byte{100, 64, 7, byte(100 + n)})
		s, tok, err := mgr.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Network: network, Location: loc, AP: ap, ClientIP: ip})
		if err != nil {
			t.Fatal(err)
		}
		sc.ids, sc.macs, sc.ips, sc.tokens, sc.keys = append(sc.ids, s.ID), append(sc.macs, mac), append(sc.ips, ip),
			append(sc.tokens, tok), append(sc.keys, s.MACKey)
		return s.ID
	}
	for i := range 5 {
		ap := "bhf-ap1"
		if i >= 3 {
			ap = "bhf-ap2"
		}
		signIn(i+1, "wifi4eu", "bahnhof", ap)
	}
	for i := range 3 {
		signIn(i+6, "stadt", "stadtpark", "park-ap1")
	}
	sc.roamer = sc.ids[4]
	roamIP := netip.MustParseAddr("100.64.9.77")
	sc.ips = append(sc.ips, roamIP)
	if _, err := mgr.SeenDurable(ctx, sc.roamer, session.Activity{Location: "stadtpark", AP: "park-ap2", IP: roamIP,
		NAS: session.NAS{Addr: netip.MustParseAddr("127.0.0.1"), ID: "park-nas", AcctSessionID: "acct-1"}}); err != nil {
		t.Fatal(err)
	}
	if err := hist.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	return sc
}

func testUsers(t *testing.T) []User {
	t.Helper()
	argon, err := HashPassword(opsPassword)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte(viewerPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return []User{{Name: "ops", PasswordHash: argon, Role: Operator}, {Name: "viewer", PasswordHash: string(bc)}}
}

func (sc *scenario) deps() Deps {
	return Deps{
		Sessions: sc.mgr, Revoker: sc.revoker, History: sc.hist,
		Locations: []string{"brueckerfeld", "bahnhof", "stadtpark", "rathaus"}, Networks: []string{"wifi4eu", "stadt"},
		LocationNames: map[string]string{"bahnhof": "Bahnhof", "stadtpark": "Stadtpark", "brueckerfeld": "Brückerfeld", "rathaus": "Rathaus"},
		Places: []Place{{"brueckerfeld", "Brückerfeld", 51.3302, 6.5531}, {"bahnhof", "Bahnhof", 51.3236, 6.5703},
			{"stadtpark", "Stadtpark", 51.3281, 6.5805}, {"rathaus", "Rathaus", 51.3324, 6.5622}},
		TokenKey: testKey, Gatherer: sc.reg, // Registerer: set by the test that reads admin metrics
	}
}

func startAdmin(t *testing.T, cfg Config, deps Deps) *Server {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if deps.TokenKey == nil {
		deps.TokenKey = testKey
	}
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := s.Shutdown(sctx); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	return s
}

// client is an HTTP client with a cookie jar that keeps every response
// body, so that a test can search all of them for personal data.
type client struct {
	t      *testing.T
	base   string
	hc     *http.Client
	bearer string

	mu     sync.Mutex
	bodies []string
}

func newClient(t *testing.T, s *Server) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: "http://" + s.Addr().String(), hc: &http.Client{
		Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (c *client) do(method, path string, form url.Values, header http.Header) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.mu.Lock()
	var hdr strings.Builder
	resp.Header.Write(&hdr)
	c.bodies = append(c.bodies, hdr.String()+"\n"+string(b))
	c.mu.Unlock()
	return resp, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// login signs in through the form as a browser would.
func (c *client) login(name, password string) *http.Response {
	c.t.Helper()
	_, page := c.do("GET", "/login", nil, nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		c.t.Fatalf("login form without CSRF field:\n%s", page)
	}
	resp, _ := c.do("POST", "/login", url.Values{"name": {name}, "password": {password}, "csrf": {m[1]}}, nil)
	return resp
}

// csrf reads the CSRF value of a signed-in page.
func (c *client) csrf() string {
	c.t.Helper()
	_, page := c.do("GET", "/sessions", nil, nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		c.t.Fatalf("page without CSRF field:\n%s", page)
	}
	return m[1]
}
