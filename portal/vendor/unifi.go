package vendor

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"roamgate/session"
)

// UniFi's external portal server: the controller sends the browser to
// http(s)://<portal>/guest/s/<site>/?ap=<AP MAC>&id=<client MAC>&t=<unix time>&url=<original URL>&ssid=<SSID>
// (the path is the controller's own guest portal path; the portal serves it
// for any site). The portal then authorises the guest through the
// controller's API (cmd/stamgr authorize-guest, as Art-of-WiFi's
// UniFi-API-client does it: src/Client.php authorize_guest) and sends the
// browser on.
type unifi struct{}

func (unifi) Name() string { return UniFi }
func (unifi) Detect(q Query) bool {
	return q("ap") != "" && (q("id") != "" && q("t") != "" || q("ec") != "")
}

func (unifi) Parse(q Query, _ *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: UniFi}
	if p.get("ec") != "" {
		// "Encrypted redirect URL" is on: the controller hid the client's
		// MAC in ec=, which only it can read. Counted as refused, but kept
		// (when well-formed) so that /connect still knows the arrival is
		// UniFi's: without id its authorisation fails with the retry page,
		// never a generic "online".
		p.invalid++
		p.token("ec", maxOpaque, isBase64)
	}
	a.ClientMAC, a.HasMAC = p.mac("id")
	a.APMAC, a.HasAP = p.mac("ap")
	p.token("t", 20, isDigit)
	a.SSID = p.text("ssid", maxSSID)
	a.ContinueURL = p.continueURL("url")
	a.Params = p.keep
	return a, p.invalid
}

func (unifi) Authorize(ctx context.Context, a Arrival, cfg *Config, cred Credentials) (Step, error) {
	if cfg.UniFi == nil {
		return Step{}, fmt.Errorf("%w: unifi: no controller configured (portal.unifi.url)", ErrController)
	}
	if !a.HasMAC {
		return Step{}, fmt.Errorf("%w: unifi: the redirect named no client MAC (id)", ErrController)
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
	csrf     string // UniFi OS wants its CSRF token echoed
}

// UniFiOptions are what the portal needs to let devices in through a UniFi
// controller.
type UniFiOptions struct {
	ControllerOptions
	// Site is the controller's site name ("default").
	Site string
	// UniFiOS says the controller is a UniFi OS console (UDM, Cloud Key
	// Gen2+), which serves the Network application's API under
	// /proxy/network.
	UniFiOS bool
}

// NewUniFiClient returns a client of the controller at o.URL
// (https://host:8443, or a UniFi OS console) for o.Site. The client is safe
// for concurrent use.
func NewUniFiClient(o UniFiOptions) (*UniFiClient, error) {
	base, hc, err := newControllerHTTP(o.ControllerOptions)
	if err != nil {
		return nil, err
	}
	return &UniFiClient{base: base, site: o.Site, user: o.Username, password: o.Password, unifiOS: o.UniFiOS, http: hc}, nil
}

// path is p on the controller: UniFi OS consoles serve the Network
// application's API under /proxy/network (Client.php exec_curl).
func (c *UniFiClient) path(p string) string {
	if c.unifiOS && strings.HasPrefix(p, "/api/s/") {
		p = "/proxy/network" + p
	}
	return c.base.String() + p
}

// AuthorizeGuest lets a client through for minutes, logging in first (and
// once more if the controller's session has expired: it answers 401, as
// Client.php exec_curl expects).
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
	c.csrf = ""
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
		return 0, fmt.Errorf("%w: unifi: %v", ErrController, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: unifi: %v", ErrController, err)
	}
	defer resp.Body.Close()
	c.takeCSRF(resp)
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var reply struct {
		Meta struct {
			RC  string `json:"rc"`
			Msg string `json:"msg"`
		} `json:"meta"`
	}
	if resp.StatusCode != http.StatusOK {
		json.Unmarshal(raw, &reply) // the controller's reason, if it gave one
		return resp.StatusCode, fmt.Errorf("%w: unifi: %s answered %d %s", ErrController, p, resp.StatusCode, clip(reply.Meta.Msg))
	}
	// Every answer of the Network application's API carries meta.rc; "ok"
	// is success (Client.php fetch_results). UniFi OS's own login answers
	// with the user instead, and its 200 is the success.
	if c.unifiOS && p == "/api/auth/login" {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(raw, &reply); err != nil || reply.Meta.RC != "ok" {
		msg := reply.Meta.Msg
		if err != nil {
			msg = "answer is not the API's JSON"
		}
		return resp.StatusCode, fmt.Errorf("%w: unifi: %s: %s", ErrController, p, clip(msg))
	}
	return resp.StatusCode, nil
}

// takeCSRF keeps the CSRF token a UniFi OS console hands out: in the
// X-CSRF-Token (or, after it rotated, X-Updated-CSRF-Token) header, else in
// the csrfToken claim of the TOKEN cookie's JWT (Client.php
// create_x_csrf_token_header reads it from there).
func (c *UniFiClient) takeCSRF(resp *http.Response) {
	for _, h := range []string{"X-Updated-CSRF-Token", "X-CSRF-Token"} {
		if t := resp.Header.Get(h); t != "" {
			c.csrf = t
			return
		}
	}
	for _, ck := range resp.Cookies() {
		if ck.Name != "TOKEN" {
			continue
		}
		parts := strings.Split(ck.Value, ".")
		if len(parts) != 3 {
			return
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			return
		}
		var claims struct {
			CSRF string `json:"csrfToken"`
		}
		if json.Unmarshal(payload, &claims) == nil && claims.CSRF != "" {
			c.csrf = claims.CSRF
		}
	}
}
