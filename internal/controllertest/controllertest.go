// Package controllertest holds stand-ins for the access-point controllers
// the portal calls: a UniFi Network controller (classic and UniFi OS) and a
// TP-Link Omada controller's hotspot API. Each serves HTTPS with a
// self-signed certificate on loopback and enforces the API as its vendor
// documents it (login, session cookie, CSRF token, the authorisation
// request's fields), so a client that skips a step is refused the way the
// real controller refuses it. Tests only.
package controllertest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
)

// Serve starts h on a loopback HTTPS server with httptest's self-signed
// certificate, closed when the test ends.
func Serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	// A client refusing the self-signed certificate is what some tests
	// want; the server's complaint about it is noise.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// CAFile writes srv's certificate as a PEM file (what a town exports from
// its controller for ca_file) and returns its path.
func CAFile(t testing.TB, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "controller.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func random() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// UniFiCall is one authorize-guest the controller accepted.
type UniFiCall struct {
	MAC, APMAC string
	Minutes    int
}

// UniFi is a UniFi Network controller's API as Art-of-WiFi's
// UniFi-API-client (src/Client.php) uses it:
//
//   - classic: POST /api/login {username, password} sets the unifises
//     cookie; POST /api/s/<site>/cmd/stamgr needs it, else 401
//     api.err.LoginRequired (exec_curl re-logs in on 401);
//   - UniFi OS (UniFiOS set): POST /api/auth/login sets the TOKEN cookie, a
//     JWT whose csrfToken claim every later POST must echo in X-CSRF-Token
//     (create_x_csrf_token_header); the Network API is under /proxy/network.
//
// Every answer of the Network API is {"meta": {"rc": "ok"|"error", "msg"},
// "data": [...]}; authorize-guest takes mac (lower case, colons, as
// authorize_guest sends it), minutes and optionally ap_mac.
type UniFi struct {
	Username, Password, Site string
	UniFiOS                  bool

	mu       sync.Mutex
	sessions map[string]string // session cookie value → CSRF token
	calls    []UniFiCall
	refuse   string // meta.msg to refuse authorize-guest with
	logins   int
}

var (
	unifiMAC = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
	omadaMAC = regexp.MustCompile(`^[0-9A-F]{2}(-[0-9A-F]{2}){5}$`)
)

// Refuse makes authorize-guest fail with msg ("" accepts again).
func (u *UniFi) Refuse(msg string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.refuse = msg
}

// Expire forgets every login, as a controller restart or session timeout
// does.
func (u *UniFi) Expire() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sessions = nil
}

// Calls returns the authorize-guest calls accepted so far.
func (u *UniFi) Calls() []UniFiCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]UniFiCall(nil), u.calls...)
}

// Logins returns how many logins succeeded.
func (u *UniFi) Logins() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.logins
}

func (u *UniFi) cookieName() string {
	if u.UniFiOS {
		return "TOKEN"
	}
	return "unifises"
}

func (u *UniFi) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.sessions == nil {
		u.sessions = map[string]string{}
	}
	loginPath, apiPrefix := "/api/login", "/api"
	if u.UniFiOS {
		loginPath, apiPrefix = "/api/auth/login", "/proxy/network/api"
	}
	errorJSON := func(status int, msg string) {
		writeJSON(w, status, map[string]any{"meta": map[string]string{"rc": "error", "msg": msg}, "data": []any{}})
	}
	if r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
		errorJSON(http.StatusBadRequest, "api.err.InvalidPayload")
		return
	}
	switch r.URL.Path {
	case loginPath:
		if body["username"] != u.Username || body["password"] != u.Password {
			errorJSON(http.StatusBadRequest, "api.err.Invalid")
			return
		}
		u.logins++
		csrf := random()
		value := random()
		if u.UniFiOS {
			claims, _ := json.Marshal(map[string]string{"csrfToken": csrf, "userId": "roamgate"})
			value = "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(claims) + "." + random()
		} else {
			http.SetCookie(w, &http.Cookie{Name: "csrf_token", Value: csrf, Path: "/"})
		}
		u.sessions[value] = csrf
		http.SetCookie(w, &http.Cookie{Name: u.cookieName(), Value: value, Path: "/", HttpOnly: true, Secure: true})
		if u.UniFiOS {
			writeJSON(w, http.StatusOK, map[string]any{"username": u.Username, "unique_id": random()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]string{"rc": "ok"}, "data": []any{}})
	case apiPrefix + "/s/" + u.Site + "/cmd/stamgr":
		c, err := r.Cookie(u.cookieName())
		csrf, ok := "", false
		if err == nil {
			csrf, ok = u.sessions[c.Value]
		}
		if !ok {
			errorJSON(http.StatusUnauthorized, "api.err.LoginRequired")
			return
		}
		if u.UniFiOS && r.Header.Get("X-CSRF-Token") != csrf {
			errorJSON(http.StatusForbidden, "api.err.InvalidCSRFToken")
			return
		}
		mac, _ := body["mac"].(string)
		minutes, _ := body["minutes"].(float64)
		ap, hasAP := body["ap_mac"].(string)
		if body["cmd"] != "authorize-guest" || !unifiMAC.MatchString(mac) || minutes < 1 || minutes != float64(int(minutes)) ||
			(hasAP && !unifiMAC.MatchString(ap)) {
			errorJSON(http.StatusBadRequest, "api.err.Invalid")
			return
		}
		if u.refuse != "" {
			errorJSON(http.StatusBadRequest, u.refuse)
			return
		}
		u.calls = append(u.calls, UniFiCall{MAC: mac, APMAC: ap, Minutes: int(minutes)})
		writeJSON(w, http.StatusOK, map[string]any{"meta": map[string]string{"rc": "ok"},
			"data": []any{map[string]any{"mac": mac, "authorized_by": "api", "end": 0}}})
	default:
		if len(r.URL.Path) > len(apiPrefix) && r.URL.Path[:len(apiPrefix)] == apiPrefix {
			errorJSON(http.StatusBadRequest, "api.err.NoSiteContext")
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}
}

// OmadaCall is one extPortal/auth the controller accepted.
type OmadaCall struct {
	ClientMAC, APMAC, GatewayMAC, SSID, Site string
	RadioID, VID                             int
	Time                                     int64
}

// Omada is an Omada controller's hotspot API as TP-Link's FAQ 3231 ("API
// and Code Sample for External Portal Server, Omada Controller 5.0.15 or
// above") describes it:
//
//   - POST /{controllerId}/api/v2/hotspot/login {name, password} answers
//     {"errorCode": 0, "result": {"token": …}} and sets TPOMADA_SESSIONID;
//   - POST /{controllerId}/api/v2/hotspot/extPortal/auth needs that cookie
//     and the token in the Csrf-Token header, and takes clientMac, site,
//     authType 4, time and either apMac, ssidName, radioId (EAP) or
//     gatewayMac, vid (gateway); MACs as Omada writes them (AA-BB-…).
//
// Every answer is HTTP 200 with errorCode 0 for success. The codes for a
// refusal (-41501 "Failed to authenticate", from TP-Link's community
// forum) and for a missing login (-1, chosen here) are not documented.
type Omada struct {
	ControllerID, Username, Password string

	mu       sync.Mutex
	sessions map[string]string // TPOMADA_SESSIONID → CSRF token
	calls    []OmadaCall
	refuse   bool
	logins   int
}

// Refuse makes extPortal/auth fail (false accepts again).
func (o *Omada) Refuse(refuse bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refuse = refuse
}

// Expire forgets every login.
func (o *Omada) Expire() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sessions = nil
}

// Calls returns the authorisations accepted so far.
func (o *Omada) Calls() []OmadaCall {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]OmadaCall(nil), o.calls...)
}

// Logins returns how many logins succeeded.
func (o *Omada) Logins() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.logins
}

func (o *Omada) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sessions == nil {
		o.sessions = map[string]string{}
	}
	fail := func(code int, msg string) {
		writeJSON(w, http.StatusOK, map[string]any{"errorCode": code, "msg": msg})
	}
	prefix := "/" + o.ControllerID + "/api/v2/hotspot/"
	if r.Method != http.MethodPost || len(r.URL.Path) <= len(prefix) || r.URL.Path[:len(prefix)] != prefix {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var body map[string]any
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
		fail(-1001, "Invalid request parameters.")
		return
	}
	switch r.URL.Path[len(prefix):] {
	case "login":
		if body["name"] != o.Username || body["password"] != o.Password {
			fail(-30109, "Invalid username or password.")
			return
		}
		o.logins++
		id, token := random(), random()
		o.sessions[id] = token
		http.SetCookie(w, &http.Cookie{Name: "TPOMADA_SESSIONID", Value: id, Path: "/", HttpOnly: true, Secure: true})
		writeJSON(w, http.StatusOK, map[string]any{"errorCode": 0, "msg": "Hotspot log in successfully.", "result": map[string]string{"token": token}})
	case "extPortal/auth":
		c, err := r.Cookie("TPOMADA_SESSIONID")
		token, ok := "", false
		if err == nil {
			token, ok = o.sessions[c.Value]
		}
		if !ok || r.Header.Get("Csrf-Token") != token {
			fail(-1, "The login session has expired or the CSRF token is invalid.")
			return
		}
		call := OmadaCall{RadioID: -1, VID: -1}
		call.ClientMAC, _ = body["clientMac"].(string)
		call.Site, _ = body["site"].(string)
		t, _ := body["time"].(float64)
		call.Time = int64(t)
		authType, _ := body["authType"].(float64)
		valid := omadaMAC.MatchString(call.ClientMAC) && call.Site != "" && call.Time > 0 && authType == 4
		if gw, ok := body["gatewayMac"].(string); ok {
			call.GatewayMAC = gw
			vid, ok := body["vid"].(float64)
			call.VID = int(vid)
			valid = valid && omadaMAC.MatchString(gw) && ok
		} else {
			call.APMAC, _ = body["apMac"].(string)
			call.SSID, _ = body["ssidName"].(string)
			radio, ok := body["radioId"].(float64)
			call.RadioID = int(radio)
			valid = valid && omadaMAC.MatchString(call.APMAC) && call.SSID != "" && ok
		}
		if !valid || o.refuse {
			fail(-41501, "Failed to authenticate.")
			return
		}
		o.calls = append(o.calls, call)
		writeJSON(w, http.StatusOK, map[string]any{"errorCode": 0, "msg": "Success."})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}
