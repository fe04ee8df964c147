package vendor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"

	"roamgate/session"
)

// UniFi's external portal redirects with id=<client MAC>&ap=<AP MAC>&t=<time>&url=…&ssid=…;
// the portal then authorises the guest through the controller's API
// (cmd/stamgr authorize-guest) and sends the browser on.
type unifi struct{}

func (unifi) Name() string { return UniFi }
func (unifi) Detect(q Query) bool {
	return q("id") != "" && q("ap") != "" && q("t") != ""
}

func (unifi) Parse(q Query, _ *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: UniFi}
	a.ClientMAC, a.HasMAC = p.mac("id")
	a.APMAC, a.HasAP = p.mac("ap")
	p.token("t", 20, isDigit)
	a.SSID = p.text("ssid", maxSSID)
	a.ContinueURL = p.continueURL("url")
	a.Params = p.keep
	return a, p.invalid
}

func (unifi) Authorize(ctx context.Context, a Arrival, cfg *Config, cred Credentials) (Step, error) {
	if cfg.UniFi == nil || !a.HasMAC {
		return Step{}, ErrNoLogin
	}
	minutes := (cred.Seconds + 59) / 60
	if err := cfg.UniFi.AuthorizeGuest(ctx, a.ClientMAC, a.APMAC, a.HasAP, minutes); err != nil {
		return Step{}, err
	}
	return continueStep(a), nil
}

// UniFiClient talks to a UniFi Network controller: it logs in with a local
// account and authorises guests of one site.
type UniFiClient struct {
	base     *url.URL
	site     string
	user     string
	password string
	unifiOS  bool
	http     *http.Client

	mu       sync.Mutex
	loggedIn bool
	csrf     string // UniFi OS wants its X-CSRF-Token echoed
}

// ErrController is a controller that refused or failed a request.
var ErrController = errors.New("vendor: unifi controller")

// NewUniFiClient returns a client of the controller at baseURL (https://host:8443,
// or a UniFi OS console with unifiOS set). The client is nil-safe to share.
func NewUniFiClient(baseURL, site, user, password string, unifiOS bool, timeout time.Duration) (*UniFiClient, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("vendor: unifi url %q is not an absolute http(s) URL", baseURL)
	}
	jar, _ := cookiejar.New(nil)
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &UniFiClient{
		base: u, site: site, user: user, password: password, unifiOS: unifiOS,
		http: &http.Client{Jar: jar, Timeout: timeout,
			// A controller answering with a redirect is misconfigured; do not
			// carry credentials elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}, nil
}

func (c *UniFiClient) path(p string) string {
	if c.unifiOS && strings.HasPrefix(p, "/api/s/") {
		p = "/proxy/network" + p
	}
	return c.base.String() + p
}

// AuthorizeGuest lets a client through for minutes, logging in first (and
// once more if the controller's session has expired).
func (c *UniFiClient) AuthorizeGuest(ctx context.Context, client, ap session.MAC, hasAP bool, minutes int) error {
	body := map[string]any{"cmd": "authorize-guest", "mac": client.String(), "minutes": max(minutes, 1)}
	if hasAP {
		body["ap_mac"] = ap.String()
	}
	for attempt := 0; ; attempt++ {
		if err := c.login(ctx, attempt > 0); err != nil {
			return err
		}
		status, err := c.post(ctx, "/api/s/"+url.PathEscape(c.site)+"/cmd/stamgr", body)
		if status == http.StatusUnauthorized && attempt == 0 {
			continue
		}
		return err
	}
}

func (c *UniFiClient) login(ctx context.Context, again bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loggedIn && !again {
		return nil
	}
	p := "/api/login"
	if c.unifiOS {
		p = "/api/auth/login"
	}
	_, err := c.postLocked(ctx, p, map[string]any{"username": c.user, "password": c.password})
	c.loggedIn = err == nil
	return err
}

func (c *UniFiClient) post(ctx context.Context, p string, body any) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.postLocked(ctx, p, body)
}

func (c *UniFiClient) postLocked(ctx context.Context, p string, body any) (int, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.path(p), bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrController, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrController, err)
	}
	defer resp.Body.Close()
	if t := resp.Header.Get("X-CSRF-Token"); t != "" {
		c.csrf = t
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("%w: %s answered %d", ErrController, p, resp.StatusCode)
	}
	var reply struct {
		Meta struct {
			RC  string `json:"rc"`
			Msg string `json:"msg"`
		} `json:"meta"`
	}
	if err := json.Unmarshal(raw, &reply); err == nil && reply.Meta.RC != "" && reply.Meta.RC != "ok" {
		return resp.StatusCode, fmt.Errorf("%w: %s: %s", ErrController, p, reply.Meta.Msg)
	}
	return resp.StatusCode, nil
}
