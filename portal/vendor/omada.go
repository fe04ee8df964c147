package vendor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"roamgate/session"
)

// TP-Link Omada's External Portal Server (TP-Link FAQ 3231, "API and Code
// Sample for External Portal Server (Omada Controller 5.0.15 or above)"):
// the EAP or gateway sends the device to the controller, which redirects it
// to the portal with
//
//	EAP:     ?clientMac=…&apMac=…&ssidName=…&t=…&radioId=…&site=…&redirectUrl=…
//	gateway: ?clientMac=…&gatewayMac=…&vid=…&t=…&site=…&redirectUrl=…
//
// The portal then logs in to the controller's hotspot API as an operator
// (POST /{controllerId}/api/v2/hotspot/login {name, password} → a CSRF token
// in result.token and the TPOMADA_SESSIONID cookie) and authorises the
// device (POST /{controllerId}/api/v2/hotspot/extPortal/auth with the
// Csrf-Token header; authType 4, time = how long). Omada's other mode,
// "External RADIUS Server" with an external web portal (FAQ 2912: target,
// targetPort, originUrl …), is a different protocol this adapter does not
// speak; its arrivals carry target= and are not detected as Omada.
//
// A RADIUS client named omada whose redirect carries none of these
// parameters (MAC-based authentication, the captive DNS redirect) is treated
// as MAC authentication: the portal asks RADIUS to re-authorise the device.
type omada struct{}

func (omada) Name() string { return Omada }
func (omada) Detect(q Query) bool {
	return q("clientMac") != "" && q("site") != "" && (q("apMac") != "" || q("gatewayMac") != "") && q("target") == ""
}

// maxOmadaSite bounds the site parameter: a site name, or the 24-hex-digit
// site ID of Omada 5.x.
const maxOmadaSite = 64

// externalPortal reports whether q carries any of the External Portal
// Server's own parameters; without them the arrival is MAC authentication.
func externalPortal(q Query) bool {
	for _, name := range []string{"clientMac", "apMac", "gatewayMac", "ssidName", "site", "redirectUrl"} {
		if q(name) != "" {
			return true
		}
	}
	return false
}

func (o omada) Parse(q Query, cfg *Config) (Arrival, int) {
	if !externalPortal(q) {
		a, invalid := generic{name: Omada, reauth: true}.Parse(q, cfg)
		return a, invalid
	}
	p := newParser(q)
	a := Arrival{Vendor: Omada}
	a.ClientMAC, a.HasMAC = p.mac("clientMac")
	if p.get("gatewayMac") != "" {
		a.APMAC, a.HasAP = p.mac("gatewayMac")
		p.token("vid", 4, isDigit)
	} else {
		a.APMAC, a.HasAP = p.mac("apMac")
		p.token("radioId", 1, isDigit)
	}
	a.SSID = p.text("ssidName", maxSSID)
	a.ClientIP = p.ip("clientIp")
	p.token("t", 20, isDigit)
	p.text("site", maxOmadaSite)
	a.ContinueURL = p.continueURL("redirectUrl")
	a.Params = p.keep
	return a, p.invalid
}

func (o omada) Authorize(ctx context.Context, a Arrival, cfg *Config, cred Credentials) (Step, error) {
	if !externalPortal(a.Params.Get) {
		return Step{Kind: StepContinue, URL: a.ContinueURL, Reauthorize: true}, nil
	}
	if cfg.Omada == nil {
		return Step{}, fmt.Errorf("%w: omada: no controller configured (portal.omada.url)", ErrController)
	}
	if !a.HasMAC || !a.HasAP || a.Params.Get("site") == "" {
		return Step{}, fmt.Errorf("%w: omada: the redirect lacks clientMac, apMac/gatewayMac or site", ErrController)
	}
	g := OmadaGuest{
		Client: a.ClientMAC, AP: a.APMAC, Gateway: a.Params.Has("gatewayMac"),
		SSID: a.SSID, Site: a.Params.Get("site"), RadioID: -1, VID: -1,
		Duration: time.Duration(max(cred.Seconds, 60)) * time.Second,
	}
	if n, err := strconv.Atoi(a.Params.Get("radioId")); err == nil {
		g.RadioID = n
	}
	if n, err := strconv.Atoi(a.Params.Get("vid")); err == nil {
		g.VID = n
	}
	if err := cfg.Omada.AuthorizeOmada(ctx, g); err != nil {
		return Step{}, err
	}
	return continueStep(a), nil
}

// OmadaGuest is a device to let through an Omada EAP or gateway.
type OmadaGuest struct {
	Client session.MAC
	// AP is the EAP's MAC, or the gateway's when Gateway is set.
	AP      session.MAC
	Gateway bool
	SSID    string
	// RadioID (EAP) and VID (gateway) are as the redirect named them; -1
	// if it did not.
	RadioID, VID int
	Site         string
	Duration     time.Duration
}

// OmadaAuthorizer authorises devices through an Omada controller.
type OmadaAuthorizer interface {
	AuthorizeOmada(ctx context.Context, g OmadaGuest) error
}

// OmadaClient talks to an Omada controller's hotspot API as a hotspot
// operator (Hotspot Manager → Operators).
type OmadaClient struct {
	base         *url.URL
	controllerID string
	user         string
	password     string
	timeUnit     time.Duration
	http         *http.Client

	mu       sync.Mutex
	token    string // the CSRF token of the current login; "" when logged out
	loggedIn bool
}

// OmadaOptions are what the portal needs to let devices in through an
// Omada controller's External Portal Server API.
type OmadaOptions struct {
	ControllerOptions
	// ControllerID is the controller's omadacId, the first path element of
	// its web UI.
	ControllerID string
	// TimeUnit is the unit of extPortal/auth's time field: FAQ 3231 gives
	// microseconds; 0 means that.
	TimeUnit time.Duration
}

// NewOmadaClient returns a client of the controller at o.URL
// (https://omada.example:8043) with the controller ID o.ControllerID.
func NewOmadaClient(o OmadaOptions) (*OmadaClient, error) {
	base, hc, err := newControllerHTTP(o.ControllerOptions)
	if err != nil {
		return nil, err
	}
	if o.ControllerID == "" || strings.ContainsAny(o.ControllerID, "/?#% ") {
		return nil, fmt.Errorf("vendor: omada controller ID %q is not a path element", o.ControllerID)
	}
	timeUnit := o.TimeUnit
	if timeUnit <= 0 {
		timeUnit = time.Microsecond
	}
	return &OmadaClient{base: base, controllerID: o.ControllerID, user: o.Username, password: o.Password, timeUnit: timeUnit, http: hc}, nil
}

// omadaMAC is a MAC as Omada writes it in its redirects: AA-BB-CC-DD-EE-FF.
func omadaMAC(m session.MAC) string {
	return strings.ToUpper(strings.ReplaceAll(m.String(), ":", "-"))
}

// AuthorizeOmada lets g through for g.Duration. It logs in first, and once
// more if the first authorisation fails: the hotspot session may have
// expired, and FAQ 3231 does not say with which errorCode the controller
// reports that.
func (c *OmadaClient) AuthorizeOmada(ctx context.Context, g OmadaGuest) error {
	body := map[string]any{
		"clientMac": omadaMAC(g.Client),
		"site":      g.Site,
		"time":      int64(g.Duration / c.timeUnit),
		"authType":  4,
	}
	if g.Gateway {
		body["gatewayMac"] = omadaMAC(g.AP)
		if g.VID >= 0 {
			body["vid"] = g.VID
		}
	} else {
		body["apMac"] = omadaMAC(g.AP)
		body["ssidName"] = g.SSID
		if g.RadioID >= 0 {
			body["radioId"] = g.RadioID
		}
	}
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var token string
		if token, err = c.login(ctx, attempt > 0); err != nil {
			return err
		}
		if err = c.call(ctx, "extPortal/auth", token, body, nil); err == nil {
			return nil
		}
	}
	return err
}

func (c *OmadaClient) login(ctx context.Context, again bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loggedIn && !again {
		return c.token, nil
	}
	c.loggedIn, c.token = false, ""
	var result struct {
		Token string `json:"token"`
	}
	if err := c.call(ctx, "login", "", map[string]string{"name": c.user, "password": c.password}, &result); err != nil {
		return "", err
	}
	if result.Token == "" {
		return "", fmt.Errorf("%w: omada: hotspot login answered without a token", ErrController)
	}
	c.loggedIn, c.token = true, result.Token
	return c.token, nil
}

// call posts body to the hotspot API's endpoint and decodes result into out
// (if not nil). Omada answers {"errorCode": 0, "msg": …, "result": …}; any
// other errorCode is a refusal.
func (c *OmadaClient) call(ctx context.Context, endpoint, token string, body, out any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	p := "/" + url.PathEscape(c.controllerID) + "/api/v2/hotspot/" + endpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.String()+p, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%w: omada: %v", ErrController, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Csrf-Token", token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w: omada: %v", ErrController, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: omada: %s answered %d", ErrController, endpoint, resp.StatusCode)
	}
	var reply struct {
		ErrorCode *int            `json:"errorCode"`
		Msg       string          `json:"msg"`
		Result    json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil || reply.ErrorCode == nil {
		return fmt.Errorf("%w: omada: %s: answer is not the hotspot API's JSON", ErrController, endpoint)
	}
	if *reply.ErrorCode != 0 {
		return fmt.Errorf("%w: omada: %s: errorCode %d: %s", ErrController, endpoint, *reply.ErrorCode, clip(reply.Msg))
	}
	if out != nil && len(reply.Result) > 0 {
		if err := json.Unmarshal(reply.Result, out); err != nil {
			return fmt.Errorf("%w: omada: %s: result: %v", ErrController, endpoint, err)
		}
	}
	return nil
}
