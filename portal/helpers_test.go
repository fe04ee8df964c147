package portal

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"roamgate/session"
)

// testNow is the fake clock of fakeSessions. It is the real time, so that a
// real cookie jar keeps cookies that expire with the sessions.
var testNow = time.Now().UTC().Truncate(time.Second)

// testLifetime gives "Noch 23 Std. 59 Min. online" on the status page.
const testLifetime = 23*time.Hour + 59*time.Minute + 30*time.Second

// fakeSessions implements Sessions in memory.
type fakeSessions struct {
	mu      sync.Mutex
	byToken map[string]session.Session
	creates []session.CreateRequest
	rebinds int
	err     error // returned by Create when set
}

func newFakeSessions() *fakeSessions {
	return &fakeSessions{byToken: map[string]session.Session{}}
}

func (f *fakeSessions) Create(ctx context.Context, req session.CreateRequest) (session.Session, string, error) {
	if ctx.Err() != nil {
		return session.Session{}, "", ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return session.Session{}, "", f.err
	}
	f.creates = append(f.creates, req)
	s := session.Session{
		ID:       fmt.Sprintf("%032x", len(f.creates)),
		Network:  req.Network,
		Location: req.Location, CurrentLocation: req.Location, AP: req.AP,
		Created: testNow, Expires: testNow.Add(testLifetime), LastSeen: testNow,
		// As session.Manager does: the address signed in from vouches
		// for the device until an access point reports it elsewhere.
		Device: session.Device{MAC: req.MAC, HasMAC: req.HasMAC, IP: req.ClientIP, AddrCurrent: req.ClientIP.IsValid()},
	}
	token := fmt.Sprintf("eyJ.fake-token-%d.sig", len(f.creates))
	f.byToken[token] = s
	return s, token, nil
}

func (f *fakeSessions) FromToken(token string) (session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byToken[token]
	if !ok {
		return session.Session{}, session.ErrTokenMalformed
	}
	return s, nil
}

func (f *fakeSessions) TimeLeft(s session.Session) time.Duration { return s.Expires.Sub(testNow) }

func (f *fakeSessions) ByMAC(mac session.MAC) (session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.byToken {
		if s.Device.HasMAC && s.Device.MAC == mac && !s.Revoked {
			return s, nil
		}
	}
	return session.Session{}, session.ErrNotFound
}

func (f *fakeSessions) ByIP(ip netip.Addr) (session.Session, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.byToken {
		if ip.IsValid() && s.Device.IP == ip && !s.Revoked {
			return s, nil
		}
	}
	return session.Session{}, session.ErrNotFound
}

func (f *fakeSessions) Rebind(ctx context.Context, token string, mac session.MAC) (session.Session, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.byToken[token]
	if !ok {
		return session.Session{}, "", session.ErrNotFound
	}
	delete(f.byToken, token)
	s.Device.MAC, s.Device.HasMAC = mac, true
	f.rebinds++
	token = fmt.Sprintf("eyJ.fake-token-rebound-%d.sig", f.rebinds)
	f.byToken[token] = s
	return s, token, nil
}

func (f *fakeSessions) Revoke(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for tok, s := range f.byToken {
		if s.ID == id {
			delete(f.byToken, tok)
		}
	}
	return nil
}

func (f *fakeSessions) UAMSecret(id string) string { return "uam-" + id[:8] }

func (f *fakeSessions) created() []session.CreateRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]session.CreateRequest(nil), f.creates...)
}

// fakeLocator knows one NAS and records the addresses it was asked about.
type fakeLocator struct {
	mu  sync.Mutex
	ips []netip.Addr
}

func (l *fakeLocator) Locate(nasID, apMAC, ssid string, ip netip.Addr) (string, string) {
	l.mu.Lock()
	l.ips = append(l.ips, ip)
	l.mu.Unlock()
	if nasID == "nas-bahnhof" {
		return "bahnhof", "wifi4eu"
	}
	return "", ""
}

func (l *fakeLocator) lastIP() netip.Addr {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ips) == 0 {
		return netip.Addr{}
	}
	return l.ips[len(l.ips)-1]
}

type fakeJWKS struct{}

func (fakeJWKS) JWKS() session.JWKS {
	return session.JWKS{Keys: []session.JWK{{KeyType: "OKP", Curve: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo", KeyID: "kid-1", Use: "sig", Algorithm: "EdDSA"}}}
}

type testEnv struct {
	srv      *Server
	sessions *fakeSessions
	locator  *fakeLocator
}

func newTestEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	return newTestEnvWith(t, cfg, nil)
}

// newTestEnvWith is newTestEnv with a chance to change the Deps.
func newTestEnvWith(t *testing.T, cfg Config, edit func(*Deps)) *testEnv {
	t.Helper()
	env := &testEnv{sessions: newFakeSessions(), locator: &fakeLocator{}}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	deps := Deps{
		Sessions:      env.sessions,
		JWKS:          fakeJWKS{},
		Locator:       env.locator,
		LocationNames: map[string]string{"bahnhof": "Bahnhof"},
		SiteName:      "Stadt Musterstadt",
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if edit != nil {
		edit(&deps)
	}
	srv, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	env.srv = srv
	return env
}

// do runs req in process.
func (env *testEnv) do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := env.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func (env *testEnv) get(t *testing.T, target string, header ...string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return env.do(t, req)
}

// form is a splash form as a browser would post it: the hidden fields, the
// csrf token, and the CSRF cookie the GET set.
type form struct {
	values url.Values
	cookie *http.Cookie
}

// splash GETs the splash page and returns its form.
func (env *testEnv) splash(t *testing.T, query string) form {
	t.Helper()
	resp, body := env.get(t, "/"+query)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /%s: status %d", query, resp.StatusCode)
	}
	doc := parseHTML(t, body)
	f := form{values: url.Values{}}
	for _, in := range doc.find("input") {
		if in.attr("type") == "hidden" {
			f.values.Set(in.attr("name"), in.attr("value"))
		}
	}
	for _, c := range resp.Cookies() {
		if c.Name == csrfCookie {
			f.cookie = c
		}
	}
	if f.cookie == nil || f.values.Get(csrfField) == "" {
		t.Fatalf("splash has no CSRF cookie or token")
	}
	return f
}

// post submits values to /connect with the given cookies.
func (env *testEnv) post(t *testing.T, values url.Values, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/connect", strings.NewReader(values.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return env.do(t, req)
}

func accepted(f form) url.Values {
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	v.Set("terms", "1")
	v.Set("accept", "1")
	return v
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// element is a parsed HTML element with its text.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

func (e element) attr(name string) string { return e.attrs[name] }

func (e element) has(name string) bool {
	_, ok := e.attrs[name]
	return ok
}

type document struct {
	elements []element
	text     string // all character data
}

func (d document) find(name string) []element {
	var out []element
	for _, e := range d.elements {
		if e.name == name {
			out = append(out, e)
		}
	}
	return out
}

// input returns the input (or button) with the given name.
func (d document) input(t *testing.T, name string) element {
	t.Helper()
	for _, e := range d.elements {
		if (e.name == "input" || e.name == "button") && e.attr("name") == name {
			return e
		}
	}
	t.Fatalf("no form field %q", name)
	return element{}
}

func (d document) hasInput(name string) bool {
	for _, e := range d.elements {
		if e.name == "input" && e.attr("name") == name {
			return true
		}
	}
	return false
}

// parseHTML parses a page with encoding/xml in its HTML mode: good enough
// for the well-formed markup html/template produces, and it decodes
// entities, so a value read here is what a browser would see.
func parseHTML(t *testing.T, body string) document {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var doc document
	var open []int // indexes of open elements
	var all strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse HTML: %v\n%s", err, body)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := element{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			doc.elements = append(doc.elements, e)
			open = append(open, len(doc.elements)-1)
		case xml.EndElement:
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		case xml.CharData:
			all.Write(tok)
			for _, i := range open {
				doc.elements[i].text += string(tok)
			}
		}
	}
	doc.text = all.String()
	return doc
}

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
