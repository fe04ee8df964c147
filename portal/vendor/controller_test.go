package vendor

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"roamgate/internal/controllertest"
)

// unifiArrival is UniFi's external portal redirect as controllers send it
// (the browser lands on /guest/s/<site>/ with these parameters; example in
// Ubiquiti's help article "External Hotspot API for Authorization Clients"
// and in the wild: ?ap=…&id=…&t=…&url=…&ssid=…).
const unifiArrival = "ap=f0:9f:c2:12:34:56&id=da:a1:19:5e:00:01&t=1700000000&url=http%3A%2F%2Fexample.org%2F&ssid=WiFi4EU"

func unifiClient(t *testing.T, url string, tls ControllerTLS, unifiOS bool, password string) *UniFiClient {
	t.Helper()
	tc, err := tls.Config()
	if err != nil {
		t.Fatal(err)
	}
	uc, err := NewUniFiClient(UniFiOptions{ControllerOptions: ControllerOptions{URL: url, Username: "portal", Password: password, TLS: tc, Timeout: 5 * time.Second}, Site: "bahnhof", UniFiOS: unifiOS})
	if err != nil {
		t.Fatal(err)
	}
	return uc
}

// TestUniFi authorises a guest on a controller that enforces the classic
// and the UniFi OS API (controllertest.UniFi), over HTTPS with a
// self-signed certificate trusted through ca_file.
func TestUniFi(t *testing.T) {
	for _, unifiOS := range []bool{false, true} {
		name := "classic"
		if unifiOS {
			name = "unifi os"
		}
		t.Run(name, func(t *testing.T) {
			ctrl := &controllertest.UniFi{Username: "portal", Password: "s3cret", Site: "bahnhof", UniFiOS: unifiOS}
			srv := controllertest.Serve(t, ctrl)
			cfg := testCfg()
			cfg.UniFi = unifiClient(t, srv.URL, ControllerTLS{CAFile: controllertest.CAFile(t, srv)}, unifiOS, "s3cret")
			ad := Detect(query(unifiArrival))
			a, invalid := ad.Parse(query(unifiArrival), cfg)
			if ad.Name() != UniFi || invalid != 0 {
				t.Fatalf("arrival %+v, invalid %d", a, invalid)
			}
			step, err := ad.Authorize(context.Background(), a, cfg, cred)
			if err != nil || step.Kind != StepContinue || step.URL != "http://example.org/" {
				t.Fatalf("step %+v, %v", step, err)
			}
			calls := ctrl.Calls()
			if len(calls) != 1 || calls[0] != (controllertest.UniFiCall{MAC: "da:a1:19:5e:00:01", APMAC: "f0:9f:c2:12:34:56", Minutes: 60}) {
				t.Fatalf("controller calls %+v", calls)
			}

			// The controller forgets the login (restart, timeout): the
			// client logs in again once and succeeds.
			ctrl.Expire()
			if _, err := ad.Authorize(context.Background(), a, cfg, cred); err != nil || len(ctrl.Calls()) != 2 || ctrl.Logins() != 2 {
				t.Errorf("after expiry: %v, %d calls, %d logins", err, len(ctrl.Calls()), ctrl.Logins())
			}

			// The controller refuses the guest: an error, never a step.
			ctrl.Refuse("api.err.UnknownStation")
			if step, err := ad.Authorize(context.Background(), a, cfg, cred); !errors.Is(err, ErrController) || !strings.Contains(err.Error(), "api.err.UnknownStation") {
				t.Errorf("refused authorize-guest: step %+v, %v; want ErrController with the controller's message", step, err)
			}
		})
	}
}

// TestUniFiEncrypted: with "Encrypted redirect URL" on, the controller
// sends ?ap=…&ec=<opaque> without the client's MAC. The arrival is still
// UniFi's (so it cannot end as a generic "online"), counts as refused, and
// its authorisation fails.
func TestUniFiEncrypted(t *testing.T) {
	raw := "ap=68:d7:9a:21:02:9e&ec=q5RnRZcmnZX8X5S2EmOsFNCSVjFzCqvszOBqtWcORTv1E_wVvC-r-QFCp70riXKZ"
	ad := Detect(query(raw))
	a, invalid := ad.Parse(query(raw), testCfg())
	if ad.Name() != UniFi || invalid == 0 || a.HasMAC {
		t.Fatalf("%s: arrival %+v, invalid %d", ad.Name(), a, invalid)
	}
	if again := Detect(a.Params.Get); again.Name() != UniFi {
		t.Errorf("carried to /connect, the arrival is %s's", again.Name())
	}
	cfg := testCfg()
	cfg.UniFi = unifiClient(t, "https://127.0.0.1:1", ControllerTLS{}, false, "x")
	if _, err := ad.Authorize(context.Background(), a, cfg, cred); !errors.Is(err, ErrController) || !strings.Contains(err.Error(), "no client MAC") {
		t.Errorf("authorise: %v", err)
	}
}

func TestUniFiFailures(t *testing.T) {
	ctrl := &controllertest.UniFi{Username: "portal", Password: "s3cret", Site: "bahnhof"}
	srv := controllertest.Serve(t, ctrl)
	ca := controllertest.CAFile(t, srv)
	a, _ := unifi{}.Parse(query(unifiArrival), testCfg())
	cases := []struct {
		name    string
		cfg     func() *Config
		wantErr string
	}{
		{"no controller configured", func() *Config { return testCfg() }, "no controller configured"},
		{"self-signed certificate without ca_file", func() *Config {
			c := testCfg()
			c.UniFi = unifiClient(t, srv.URL, ControllerTLS{}, false, "s3cret")
			return c
		}, "certificate"},
		{"wrong password", func() *Config {
			c := testCfg()
			c.UniFi = unifiClient(t, srv.URL, ControllerTLS{CAFile: ca}, false, "wrong")
			return c
		}, "answered 400"},
		{"wrong site", func() *Config {
			c := testCfg()
			tc, _ := ControllerTLS{CAFile: ca}.Config()
			uc, _ := NewUniFiClient(UniFiOptions{ControllerOptions: ControllerOptions{URL: srv.URL, Username: "portal", Password: "s3cret", TLS: tc}, Site: "elsewhere"})
			c.UniFi = uc
			return c
		}, "answered 400"},
		{"controller down", func() *Config {
			c := testCfg()
			c.UniFi = unifiClient(t, "https://127.0.0.1:1", ControllerTLS{CAFile: ca}, false, "s3cret")
			return c
		}, "refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			step, err := unifi{}.Authorize(context.Background(), a, tc.cfg(), cred)
			if !errors.Is(err, ErrController) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("step %+v, err %v; want ErrController mentioning %q", step, err, tc.wantErr)
			}
		})
	}
	// Verification off: the self-signed certificate is taken.
	c := testCfg()
	c.UniFi = unifiClient(t, srv.URL, ControllerTLS{InsecureSkipVerify: true}, false, "s3cret")
	if _, err := (unifi{}).Authorize(context.Background(), a, c, cred); err != nil {
		t.Errorf("insecure_skip_verify: %v", err)
	}
}

func TestControllerTLS(t *testing.T) {
	if tc, err := (ControllerTLS{}).Config(); tc != nil || err != nil {
		t.Errorf("zero: %v, %v; want the system roots (nil)", tc, err)
	}
	if _, err := (ControllerTLS{CAFile: "/nonexistent/ca.pem"}).Config(); err == nil {
		t.Error("missing CA file accepted")
	}
	notPEM := t.TempDir() + "/ca.pem"
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (ControllerTLS{CAFile: notPEM}).Config(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("non-PEM CA file: %v", err)
	}
	if _, err := (ControllerTLS{CAFile: notPEM, InsecureSkipVerify: true}).Config(); err == nil {
		t.Error("ca_file with insecure_skip_verify accepted")
	}
}

// omadaArrival is the EAP redirect of TP-Link FAQ 3231.
const omadaArrival = "clientMac=DA-A1-19-5E-00-01&apMac=AC-84-C6-12-34-56&ssidName=WiFi4EU&t=1764201600000&radioId=1&site=Default&redirectUrl=http%3A%2F%2Fexample.org%2F"

func omadaClient(t *testing.T, url, id, password string, tls ControllerTLS) *OmadaClient {
	t.Helper()
	tc, err := tls.Config()
	if err != nil {
		t.Fatal(err)
	}
	oc, err := NewOmadaClient(OmadaOptions{ControllerOptions: ControllerOptions{URL: url, Username: "operator", Password: password, TLS: tc}, ControllerID: id})
	if err != nil {
		t.Fatal(err)
	}
	return oc
}

// TestOmada authorises an EAP and a gateway client on a controller that
// enforces FAQ 3231's flow: operator login, session cookie, Csrf-Token.
func TestOmada(t *testing.T) {
	const id = "5f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f"
	ctrl := &controllertest.Omada{ControllerID: id, Username: "operator", Password: "s3cret"}
	srv := controllertest.Serve(t, ctrl)
	ca := ControllerTLS{CAFile: controllertest.CAFile(t, srv)}
	cfg := testCfg()
	cfg.Omada = omadaClient(t, srv.URL, id, "s3cret", ca)

	ad := Detect(query(omadaArrival))
	a, invalid := ad.Parse(query(omadaArrival), cfg)
	if ad.Name() != Omada || invalid != 0 || a.ClientMAC.String() != "da:a1:19:5e:00:01" || a.APMAC.String() != "ac:84:c6:12:34:56" ||
		a.SSID != "WiFi4EU" || a.ContinueURL != "http://example.org/" {
		t.Fatalf("arrival %+v, invalid %d", a, invalid)
	}
	step, err := ad.Authorize(context.Background(), a, cfg, cred)
	if err != nil || step.Kind != StepContinue || step.URL != "http://example.org/" || step.Reauthorize {
		t.Fatalf("step %+v, %v", step, err)
	}
	want := controllertest.OmadaCall{ClientMAC: "DA-A1-19-5E-00-01", APMAC: "AC-84-C6-12-34-56", SSID: "WiFi4EU", Site: "Default",
		RadioID: 1, VID: -1, Time: 3600 * 1_000_000}
	if calls := ctrl.Calls(); len(calls) != 1 || calls[0] != want {
		t.Fatalf("controller calls %+v, want %+v", calls, want)
	}

	gw := "clientMac=DA-A1-19-5E-00-02&gatewayMac=AC-84-C6-12-34-57&vid=20&t=1764201600000&site=Default&redirectUrl=http%3A%2F%2Fexample.org%2F"
	a, invalid = ad.Parse(query(gw), cfg)
	if _, err := ad.Authorize(context.Background(), a, cfg, cred); err != nil || invalid != 0 {
		t.Fatalf("gateway: %v, invalid %d", err, invalid)
	}
	if calls := ctrl.Calls(); len(calls) != 2 || calls[1].GatewayMAC != "AC-84-C6-12-34-57" || calls[1].VID != 20 || calls[1].APMAC != "" {
		t.Fatalf("gateway call %+v", calls)
	}

	// An expired login is renewed once.
	ctrl.Expire()
	if _, err := ad.Authorize(context.Background(), a, cfg, cred); err != nil || ctrl.Logins() != 2 {
		t.Errorf("after expiry: %v, %d logins", err, ctrl.Logins())
	}

	ctrl.Refuse(true)
	if _, err := ad.Authorize(context.Background(), a, cfg, cred); !errors.Is(err, ErrController) || !strings.Contains(err.Error(), "-41501") {
		t.Errorf("refused: %v", err)
	}
	ctrl.Refuse(false)

	for _, tc := range []struct {
		name string
		cfg  func() *Config
		want string
	}{
		{"no controller", testCfg, "no controller configured"},
		{"wrong password", func() *Config {
			c := testCfg()
			c.Omada = omadaClient(t, srv.URL, id, "wrong", ca)
			return c
		}, "errorCode -30109"},
		{"wrong controller id", func() *Config {
			c := testCfg()
			c.Omada = omadaClient(t, srv.URL, "0000", "s3cret", ca)
			return c
		}, "answered 404"},
		{"self-signed certificate untrusted", func() *Config {
			c := testCfg()
			c.Omada = omadaClient(t, srv.URL, id, "s3cret", ControllerTLS{})
			return c
		}, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ad.Authorize(context.Background(), a, tc.cfg(), cred); !errors.Is(err, ErrController) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want ErrController mentioning %q", err, tc.want)
			}
		})
	}
}

// TestOmadaMACAuth: a RADIUS client named omada whose arrival carries no
// External Portal parameters is MAC authentication, as the alias was.
func TestOmadaMACAuth(t *testing.T) {
	ad, _ := Get("omada")
	a, _ := ad.Parse(query("client_mac=da:a1:19:5e:00:01&url=http%3A%2F%2Fexample.org%2F"), testCfg())
	step, err := ad.Authorize(context.Background(), a, testCfg(), cred)
	if err != nil || !step.Reauthorize || step.Kind != StepContinue || step.URL != "http://example.org/" || !a.HasMAC {
		t.Errorf("arrival %+v: step %+v, %v", a, step, err)
	}
}

// TestOmadaParams refuses what FAQ 3231's parameters cannot be.
func TestOmadaParams(t *testing.T) {
	cases := []struct{ name, raw string }{
		{"multicast client", strings.Replace(omadaArrival, "DA-A1", "01-A1", 1)},
		{"radio id", strings.Replace(omadaArrival, "radioId=1", "radioId=12", 1)},
		{"redirect javascript", strings.Replace(omadaArrival, "http%3A%2F%2Fexample.org%2F", "javascript%3Aalert(1)", 1)},
		{"site control character", strings.Replace(omadaArrival, "site=Default", "site=De%0Afault", 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, invalid := (omada{}).Parse(query(tc.raw), testCfg()); invalid == 0 {
				t.Error("refused nothing")
			}
		})
	}
}
