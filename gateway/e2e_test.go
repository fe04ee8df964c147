package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"roamgate/gateway"
	"roamgate/internal/testtool"
)

// running is a gateway started by a test.
type running struct {
	g    *gateway.Gateway
	stop func() error
}

func startGateway(t *testing.T, cfg gateway.Config, logs io.Writer) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g, err := gateway.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("gateway.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(5 * time.Second):
				stopErr = errors.New("gateway did not stop within 5s")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { stop() })
	waitHTTP(t, "http://"+g.Addrs().Portal+"/healthz")
	waitHTTP(t, "http://"+g.Addrs().Admin+"/healthz")
	return &running{g: g, stop: stop}
}

// waitHTTP waits until url answers 200, with a deadline.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	testtool.Eventually(t, 10*time.Second, url+" answers 200", func() bool {
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func testConfig(t *testing.T, dataDir string) gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.DataDir = dataDir
	cfg.Portal.Listen = "127.0.0.1:0"
	cfg.RADIUS.AuthListen = "127.0.0.1:0"
	cfg.RADIUS.AcctListen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.DNS.Listen = "127.0.0.1:0"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

func needTool(t *testing.T, name string) {
	t.Helper()
	pkg := name
	if name == "radclient" {
		pkg = "freeradius-utils"
	}
	testtool.Need(t, name, pkg)
}

// radclient sends one Access-Request with the real FreeRADIUS client and
// returns its output and whether an answer came.
func radclient(t *testing.T, addr string, attrs ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "2", addr, "auth", "testing123")
	cmd.Stdin = strings.NewReader(strings.Join(attrs, "\n") + "\n")
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func macAuth(mac, nasID string) []string {
	return []string{
		fmt.Sprintf(`User-Name = "%s"`, mac),
		fmt.Sprintf(`User-Password = "%s"`, mac),
		fmt.Sprintf(`Calling-Station-Id = "%s"`, mac),
		`Called-Station-Id = "02-00-00-00-00-01:WiFi4EU"`,
		fmt.Sprintf(`NAS-Identifier = "%s"`, nasID),
		`Message-Authenticator = 0x00`,
	}
}

var sessionTimeout = regexp.MustCompile(`Session-Timeout = (\d+)`)

func expectAccept(t *testing.T, addr string, attrs []string, maxTimeout time.Duration) {
	t.Helper()
	out, ok := radclient(t, addr, attrs...)
	if !ok || !strings.Contains(out, "Received Access-Accept") {
		t.Fatalf("want Access-Accept, radclient said:\n%s", out)
	}
	m := sessionTimeout.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("Access-Accept without Session-Timeout:\n%s", out)
	}
	secs, _ := strconv.Atoi(m[1])
	if secs <= 0 || time.Duration(secs)*time.Second > maxTimeout {
		t.Fatalf("Session-Timeout %d s, want 1..%v", secs, maxTimeout)
	}
}

// signIn does what a browser does: GET the splash with the access point's
// parameters, then POST its form with the CSRF token and the cookie.
func signIn(t *testing.T, portal string, params url.Values) *http.Response {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get("http://" + portal + "/?" + params.Encode())
	if err != nil {
		t.Fatalf("GET splash: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET splash: status %d", resp.StatusCode)
	}
	form, action := parseForm(t, resp.Body)
	if form.Get("_csrf") == "" {
		t.Fatal("splash form has no _csrf token")
	}
	form.Set("terms", "1") // the checkbox value, as a browser sends it
	form.Set("accept", "1")
	target, err := url.Parse("http://" + portal + "/")
	if err != nil {
		t.Fatal(err)
	}
	actionURL, err := target.Parse(action)
	if err != nil {
		t.Fatalf("form action %q: %v", action, err)
	}
	post, err := client.PostForm(actionURL.String(), form)
	if err != nil {
		t.Fatalf("POST %s: %v", actionURL, err)
	}
	post.Body.Close()
	return post
}

// parseForm returns the hidden inputs of the page's first POST form and its
// action.
func parseForm(t *testing.T, r io.Reader) (url.Values, string) {
	t.Helper()
	doc, err := html.Parse(r)
	if err != nil {
		t.Fatalf("parse splash: %v", err)
	}
	vals := url.Values{}
	action := ""
	var walk func(n *html.Node, inForm bool)
	walk = func(n *html.Node, inForm bool) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch {
			case n.Data == "form" && strings.EqualFold(attr("method"), "post") && action == "":
				action = attr("action")
				inForm = true
			case n.Data == "input" && inForm && attr("type") == "hidden":
				vals.Set(attr("name"), attr("value"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, inForm)
		}
	}
	walk(doc, false)
	if action == "" {
		t.Fatal("splash has no POST form")
	}
	return vals, action
}

type stats struct {
	ActiveSessions int            `json:"active_sessions"`
	ByLocation     map[string]int `json:"by_location"`
}

func adminStats(t *testing.T, g *gateway.Gateway) stats {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+g.Addrs().Admin+"/api/v1/stats", nil)
	req.SetBasicAuth("admin", g.DemoPassword())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: status %d", resp.StatusCode)
	}
	var s stats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatalf("stats: %v", err)
	}
	return s
}

// TestSignInAtBahnhofRoamToStadtpark is the spine's acceptance journey.
func TestSignInAtBahnhofRoamToStadtpark(t *testing.T) {
	needTool(t, "radclient")
	dataDir := t.TempDir()
	cfg := testConfig(t, dataDir)
	var logs testtool.LogBuffer
	gw := startGateway(t, cfg, &logs)
	addrs := gw.g.Addrs()

	const mac = "Da-A1-19-0B-7C-4E" // a phone's random MAC, RFC 3580 notation
	post := signIn(t, addrs.Portal, url.Values{
		"client_mac": {"da:a1:19:0b:7c:4e"},
		"ap_mac":     {"02:00:00:00:00:01"},
		"ssid":       {"WiFi4EU"},
		"nas_id":     {"bahnhof-ap-1"},
		"url":        {"http://example.org/fahrplan"},
	})
	if post.StatusCode != http.StatusSeeOther || post.Header.Get("Location") != "http://example.org/fahrplan" {
		t.Fatalf("POST /connect: status %d, Location %q; want 303 to the continue URL", post.StatusCode, post.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range post.Cookies() {
		if c.Name == "roamgate_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie missing or not HttpOnly+SameSite=Lax: %+v", cookie)
	}

	lifetime := cfg.Session.Lifetime
	t.Run("accepted at the Bahnhof", func(t *testing.T) {
		expectAccept(t, addrs.RADIUSAuth, macAuth(mac, "bahnhof-ap-1"), lifetime)
	})
	t.Run("accepted at the Stadtpark without signing in again", func(t *testing.T) {
		expectAccept(t, addrs.RADIUSAuth, macAuth("daa1190b7c4e", "stadtpark-ap-3"), lifetime)
		if s := adminStats(t, gw.g); s.ActiveSessions != 1 || s.ByLocation["stadtpark"] != 1 || s.ByLocation["bahnhof"] != 0 {
			t.Fatalf("admin stats after roaming = %+v, want 1 session at stadtpark", s)
		}
	})
	t.Run("unknown MAC rejected", func(t *testing.T) {
		out, _ := radclient(t, addrs.RADIUSAuth, macAuth("02:11:22:33:44:55", "stadtpark-ap-3")...)
		if !strings.Contains(out, "Received Access-Reject") {
			t.Fatalf("want Access-Reject:\n%s", out)
		}
	})
	t.Run("no Message-Authenticator, no answer", func(t *testing.T) {
		attrs := macAuth(mac, "stadtpark-ap-3")
		out, ok := radclient(t, addrs.RADIUSAuth, attrs[:len(attrs)-1]...)
		if ok || strings.Contains(out, "Received Access-") {
			t.Fatalf("want no answer without Message-Authenticator:\n%s", out)
		}
	})

	start := time.Now()
	if err := gw.stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("gateway stopped in %v", time.Since(start))

	t.Run("no plaintext MAC on disk or in the log", func(t *testing.T) {
		forms := []string{"da:a1:19:0b:7c:4e", "daa1190b7c4e", "da-a1-19-0b-7c-4e", "daa1.190b.7c4e"}
		files, _ := filepath.Glob(filepath.Join(dataDir, "*"))
		if len(files) == 0 {
			t.Fatal("data dir is empty")
		}
		raw := string([]byte{0xda, 0xa1, 0x19, 0x0b, 0x7c, 0x4e})
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lower := strings.ToLower(string(b))
			for _, form := range forms {
				if strings.Contains(lower, form) {
					t.Errorf("%s contains the MAC as %q", filepath.Base(f), form)
				}
			}
			if strings.Contains(string(b), raw) {
				t.Errorf("%s contains the MAC's raw bytes", filepath.Base(f))
			}
			if strings.Contains(string(b), cookie.Value) || strings.Contains(string(b), strings.Split(cookie.Value, ".")[2]) {
				t.Errorf("%s contains the session token", filepath.Base(f))
			}
		}
		lower := strings.ToLower(logs.String())
		for _, form := range forms {
			if strings.Contains(lower, form) {
				t.Errorf("the log contains the MAC as %q", form)
			}
		}
	})

	t.Run("session survives a restart", func(t *testing.T) {
		gw2 := startGateway(t, cfg, &logs)
		expectAccept(t, gw2.g.Addrs().RADIUSAuth, macAuth(mac, "stadtpark-ap-3"), lifetime)
		if err := gw2.stop(); err != nil {
			t.Fatal(err)
		}
	})
}
