package portal

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"roamgate/session"
)

// BenchmarkSignIn is the durable sign-in throughput: POST /connect over
// loopback HTTP through the real handler, session.Manager and SQLite store
// (a sign-in is answered only once its session is committed). Each
// iteration is a new device.
//
//	go test ./portal -run '^$' -bench SignIn -benchtime 20000x
func BenchmarkSignIn(b *testing.B) {
	mgr := realManager(b)
	srv, err := New(Config{Listen: "127.0.0.1:0"}, Deps{
		Sessions: mgr, JWKS: ringJWKS{}, Locator: &fakeLocator{}, SiteName: "Bench",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	// One loopback client stands for many phones: lift the per-client and
	// per-MAC limits, which would otherwise be what is measured.
	srv.limits = newLimits(1<<30, 1<<30, time.Hour)
	env := &testEnv{srv: srv}
	base := env.serve(b)

	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	b.Cleanup(tr.CloseIdleConnections) // before the server's shutdown waits for them
	client := &http.Client{Jar: jar, Transport: tr}
	resp, err := client.Get(base + "/")
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token := csrfFrom(string(body))
	if token == "" {
		b.Fatal("no CSRF token on the splash")
	}
	u, _ := url.Parse(base)
	var cookies string
	for _, c := range jar.Cookies(u) {
		cookies += c.Name + "=" + c.Value + "; "
	}
	var n atomic.Uint64
	prefix := make([]byte, 2)
	rand.Read(prefix)
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		// Each request carries only the CSRF cookie: no session cookie, so
		// every POST is a new sign-in.
		c := &http.Client{Transport: client.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for pb.Next() {
			i := n.Add(1)
			mac := fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", prefix[0], prefix[1], byte(i>>16), byte(i>>8), byte(i))
			form := url.Values{csrfField: {token}, "client_mac": {mac}, "terms": {"1"}, "accept": {"1"}}
			req, _ := http.NewRequest(http.MethodPost, base+"/connect", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Cookie", cookies)
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusSeeOther {
				b.Errorf("POST /connect: %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
	if got := srv.Stats().Signins; got < uint64(b.N) {
		b.Fatalf("%d sign-ins counted for %d requests", got, b.N)
	}
	m, _ := session.ParseMAC(fmt.Sprintf("02:%02x:%02x:00:00:01", prefix[0], prefix[1]))
	if _, err := mgr.ByMAC(m); err != nil {
		b.Fatalf("first device has no session: %v", err)
	}
}

// csrfFrom finds the CSRF token in a page.
func csrfFrom(body string) string {
	_, rest, ok := strings.Cut(body, `name="`+csrfField+`" value="`)
	if !ok {
		return ""
	}
	token, _, _ := strings.Cut(rest, `"`)
	return token
}
