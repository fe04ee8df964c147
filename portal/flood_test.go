package portal

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"roamgate/internal/testtool"
)

// browserFrom is browser() on the client address src (a loopback
// address): the portal tells clients apart by address.
func browserFrom(t *testing.T, src string) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		Transport:     &http.Transport{DialContext: dialer.DialContext},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// TestSplashFloodKeepsOtherForms: one client (127.0.0.2) requests the
// splash without a cookie, each time a new form, far more often than the
// store holds tokens; the form another client (127.0.0.3) opened before
// still signs in. Before the per-client share, the flood pushed every other
// pending form out of the bounded store (issue 11, item 9), and the
// citizen's tap got a 403.
func TestSplashFloodKeepsOtherForms(t *testing.T) {
	const storeSize, flood = 300, 600
	store := newBoundedStore(storeSize, time.Now)
	env := newTestEnvWith(t, Config{}, func(d *Deps) { d.CSRFStorage = store })
	base := env.serve(t)

	citizen := browserFrom(t, "127.0.0.3")
	resp, body := fetch(t, citizen, newRequest(t, "GET", base+"/"+testArrival, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("citizen's splash: %d", resp.StatusCode)
	}
	form := formValues(t, body)

	flooder := browserFrom(t, "127.0.0.2")
	for i := range flood {
		// A fresh request without cookies each time, as a script sends it.
		req := newRequest(t, "GET", fmt.Sprintf("%s/?n=%d", base, i), nil)
		resp, err := flooder.Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := store.len(); n > maxFormsPerClient+1 {
		t.Errorf("after the flood the store holds %d tokens, want at most %d (the flooder's share and the citizen's)", n, maxFormsPerClient+1)
	}
	if got, want := env.srv.Stats().FormsEvicted, uint64(flood-maxFormsPerClient); got != want {
		t.Errorf("FormsEvicted = %d, want %d", got, want)
	}

	resp, _ = fetch(t, citizen, newRequest(t, "POST", base+"/connect", form))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the citizen's sign-in after the flood: %d, want 303", resp.StatusCode)
	}
}

// TestConnectionsPerClient: a client address holding its share of open
// connections gets 429 for the next one, another address is served, and
// the first gets its place back when it closes one.
func TestConnectionsPerClient(t *testing.T) {
	const max = 4
	env := newTestEnv(t, Config{MaxConnsPerClient: max})
	base := env.serve(t)
	addr := strings.TrimPrefix(base, "http://")
	dial := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// get sends one request on c and returns the status, or 0 when the
	// connection gives no answer.
	get := func(c net.Conn) int {
		t.Helper()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: portal\r\n\r\n"); err != nil {
			return 0
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	var held []net.Conn
	for i := range max {
		c := dial("127.0.0.2")
		if st := get(c); st != http.StatusOK {
			t.Fatalf("connection %d of %d: %d", i+1, max, st)
		}
		held = append(held, c)
	}
	if st := get(dial("127.0.0.2")); st != http.StatusTooManyRequests {
		t.Errorf("connection %d from the same address: %d, want 429", max+1, st)
	}
	if st := get(dial("127.0.0.3")); st != http.StatusOK {
		t.Errorf("another address: %d, want 200", st)
	}
	if got := env.srv.Stats().ConnsRefused; got != 1 {
		t.Errorf("ConnsRefused = %d, want 1", got)
	}
	// Closing one gives the place back (the server notices the close
	// asynchronously: wait for it, with a deadline).
	held[0].Close()
	testtool.Eventually(t, 5*time.Second, "the address gets a connection back after closing one", func() bool {
		return get(dial("127.0.0.2")) == http.StatusOK
	})
}

// TestCSRFCookieSecureOverHTTPS: the form's CSRF cookie is Secure when the
// page came over HTTPS (here: a trusted proxy's X-Forwarded-Proto), as the
// session cookie is; over plain HTTP it is not, or the browser would not
// send it back.
func TestCSRFCookieSecureOverHTTPS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		proto  string
		secure bool
	}{
		{"https through a trusted proxy", "https", true},
		{"plain http", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, Config{TrustedProxies: []string{"127.0.0.1"}})
			base := env.serve(t)
			req := newRequest(t, "GET", base+"/", nil)
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			resp, _ := fetch(t, browser(t), req)
			c := cookieNamed(resp, csrfCookie)
			if c == nil || c.Secure != tc.secure || !c.HttpOnly {
				t.Errorf("CSRF cookie %+v, want Secure=%v and HttpOnly", c, tc.secure)
			}
		})
	}
}
