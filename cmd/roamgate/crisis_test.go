package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"roamgate/internal/redistest"
	"roamgate/internal/testtool"
)

const (
	crisisDE = "Hochwasser an der Ruhr: Notunterkunft in der Stadthalle"
	crisisEN = "Flood on the Ruhr: emergency shelter in the town hall"
)

// adminCall sends an API request to gw's admin with a bearer token.
func adminCall(t *testing.T, gw *gatewayProc, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+gw.admin+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+bearer(t, gw))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// splash fetches the splash page of portal in lang for mac, as an access
// point's redirect would send a phone there.
func splash(t *testing.T, client *http.Client, portal, mac, lang string) string {
	t.Helper()
	q := url.Values{"client_mac": {mac}, "nas_id": {"stadtpark-ap-3"}, "ssid": {"WiFi4EU"}, "lang": {lang}}
	resp, err := client.Get("http://" + portal + "/?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("splash %s: status %d", lang, resp.StatusCode)
	}
	return string(b)
}

// TestCrisisAcrossGateways is issue 8's acceptance test: two roamgate
// processes sharing a real Redis; crisis on through A's API; B's RADIUS
// accepts an unknown device within a second and B's splash shows the
// notice in German and English without asking for the terms; crisis off;
// new unknown devices are rejected again.
func TestCrisisAcrossGateways(t *testing.T) {
	needTools(t, "radclient", "redis-server")
	bin := buildBinary(t)
	rds := redistest.Start(t)
	keys := t.TempDir()
	keysInit := exec.Command(bin, "keys", "init")
	keysInit.Env = append(os.Environ(), "ROAMGATE_KEYS_DIR="+keys)
	if out, err := keysInit.CombinedOutput(); err != nil {
		t.Fatalf("keys init: %v\n%s", err, out)
	}
	shared := []string{"ROAMGATE_KEYS_DIR=" + keys, "ROAMGATE_STORE_DRIVER=redis", "ROAMGATE_STORE_REDIS_ADDR=" + rds.Addr(),
		"ROAMGATE_CRISIS_SESSION_TIMEOUT=30m"}
	a := startGatewayProc(t, bin, append(shared, "ROAMGATE_DATA_DIR="+t.TempDir())...)
	b := startGatewayProc(t, bin, append(shared, "ROAMGATE_DATA_DIR="+t.TempDir())...)

	const stranger = "da:c1:51:00:00:01"
	if got := macAuth(t, b.radius, stranger, "stadtpark-ap-3"); got != "reject" {
		t.Fatalf("unknown MAC before the crisis: %s, want reject", got)
	}

	t.Run("a viewer cannot switch, bad input is refused", func(t *testing.T) {
		for _, tc := range []struct{ name, body, want string }{
			{"no until", `{"active": true, "message": {"de": "x"}}`, "until"},
			{"until beyond 7 days", fmt.Sprintf(`{"active": true, "message": {"de": "x"}, "until": %q}`, time.Now().Add(8*24*time.Hour).Format(time.RFC3339)), "7 days"},
			{"script link", fmt.Sprintf(`{"active": true, "message": {"de": "x"}, "links": [{"title": "x", "url": "javascript:alert(1)"}], "until": %q}`, time.Now().Add(time.Hour).Format(time.RFC3339)), "http(s)"},
			{"not json", `{"active": tru`, "crisis object"},
		} {
			status, body := adminCall(t, a, "POST", "/api/v1/crisis", tc.body)
			if status != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("%s: status %d %s, want 400 naming %q", tc.name, status, body, tc.want)
			}
		}
	})

	until := time.Now().Add(6 * time.Hour).Truncate(time.Second)
	on := fmt.Sprintf(`{"active": true, "message": {"de": %q, "en": %q},
		"links": [{"title": "NINA Warn-App", "url": "https://warnung.bund.de/"}, {"title": "Notunterkünfte", "url": "https://stadt.example/notunterkunft"}],
		"until": %q}`, crisisDE, crisisEN, until.Format(time.RFC3339))
	status, body := adminCall(t, a, "POST", "/api/v1/crisis", on)
	switched := time.Now()
	if status != http.StatusOK {
		t.Fatalf("crisis on at A: status %d %s", status, body)
	}
	// The first of B's answers after A's switch that is an accept, within
	// 1 s of the switch plus what starting radclient costs here.
	budget := time.Second + radclientCost(t, b.radius)
	testtool.Eventually(t, budget-time.Since(switched), "B accepts an unknown MAC after the crisis switch at A", func() bool {
		return macAuth(t, b.radius, stranger, "stadtpark-ap-3") == "accept"
	})
	t.Logf("B accepted the unknown MAC %v after A's switch", time.Since(switched))
	if v := metric(t, b, "roamgate_session_crisis_active"); v != 1 {
		t.Errorf("B's roamgate_session_crisis_active = %v, want 1", v)
	}

	t.Run("B's splash shows the notice in German and English, no terms", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		de := splash(t, client, b.portal, "da:c1:51:00:00:02", "de")
		en := splash(t, client, b.portal, "da:c1:51:00:00:02", "en")
		for _, c := range []struct{ name, page, msg, heading string }{
			{"de", de, crisisDE, "Krisenfall"}, {"en", en, crisisEN, "Emergency"},
		} {
			for _, want := range []string{c.msg, c.heading, `class="crisis" role="alert"`, `href="https://warnung.bund.de/"`, "Notunterkünfte"} {
				if !strings.Contains(c.page, want) {
					t.Errorf("splash %s lacks %q", c.name, want)
				}
			}
			if strings.Contains(c.page, `name="terms"`) {
				t.Errorf("splash %s still asks for the terms", c.name)
			}
		}
		// The button alone signs in: no terms field in the form.
		csrf := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(en)
		if csrf == nil {
			t.Fatal("splash without _csrf")
		}
		resp, err := client.PostForm("http://"+b.portal+"/connect", url.Values{"_csrf": {csrf[1]}, "accept": {"1"},
			"client_mac": {"da:c1:51:00:00:02"}, "nas_id": {"stadtpark-ap-3"}, "ssid": {"WiFi4EU"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in without terms in a crisis: status %d, want 303", resp.StatusCode)
		}
		// RFC 8908: the crisis session is not captive.
		api, err := client.Get("http://" + b.portal + "/api/captive")
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Captive bool `json:"captive"`
		}
		err = json.NewDecoder(api.Body).Decode(&st)
		api.Body.Close()
		if err != nil || st.Captive {
			t.Fatalf("captive API for the crisis session: %+v, %v; want captive false", st, err)
		}
		status := statusPage(t, client, b.portal)
		if !strings.Contains(status, crisisDE) && !strings.Contains(status, crisisEN) {
			t.Error("/status lacks the crisis notice")
		}
	})

	t.Run("admin shows state, operator and crisis sessions", func(t *testing.T) {
		status, body := adminCall(t, b, "GET", "/api/v1/crisis", "")
		var v struct {
			Active             bool           `json:"active"`
			By                 string         `json:"by"`
			Since              time.Time      `json:"since"`
			Until              time.Time      `json:"until"`
			Sessions           int            `json:"sessions"`
			SessionsByLocation map[string]int `json:"sessions_by_location"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil || status != http.StatusOK {
			t.Fatalf("GET /api/v1/crisis: %d %s", status, body)
		}
		if !v.Active || v.By != "admin" || v.Since.IsZero() || !v.Until.Equal(until) || v.Sessions < 2 || v.SessionsByLocation["stadtpark"] < 2 {
			t.Errorf("crisis at B = %+v, want active, by admin, until %v, 2 crisis sessions at stadtpark", v, until)
		}
		if !regexp.MustCompile(`crisis mode on" .*admin=admin`).MatchString(a.stderr.String()) {
			t.Errorf("A's log lacks the audit line for the switch:\n%s", a.stderr.String())
		}
	})

	status, body = adminCall(t, b, "DELETE", "/api/v1/crisis", "")
	if status != http.StatusOK {
		t.Fatalf("crisis off at B: status %d %s", status, body)
	}
	// Each try asks for another device: one accepted before the switch
	// was seen holds a crisis session until its timeout.
	n := 0x10
	testtool.Eventually(t, 2*time.Second, "A rejects a new unknown MAC after the crisis", func() bool {
		n++
		return macAuth(t, a.radius, fmt.Sprintf("da:c1:51:00:00:%02x", n), "bahnhof-ap-1") == "reject"
	})
	if got := macAuth(t, b.radius, "da:c1:51:00:00:04", "stadtpark-ap-3"); got != "reject" {
		t.Errorf("B after the crisis: new unknown MAC %s, want reject", got)
	}
	// Admitted devices keep their short session until it runs out.
	if got := macAuth(t, a.radius, stranger, "bahnhof-ap-1"); got != "accept" {
		t.Errorf("crisis session right after the crisis: %s, want accept until its timeout", got)
	}
	if v := metric(t, a, "roamgate_session_crisis_active"); v != 0 {
		t.Errorf("A's roamgate_session_crisis_active = %v after the crisis, want 0", v)
	}
	if v := metric(t, a, "roamgate_session_crisis_sessions"); v < 1 {
		t.Errorf("A's roamgate_session_crisis_sessions = %v, want the admitted devices", v)
	}
	if !regexp.MustCompile(`crisis mode off" .*admin=admin`).MatchString(b.stderr.String()) {
		t.Errorf("B's log lacks the audit line for the end of the crisis")
	}
}

func statusPage(t *testing.T, client *http.Client, portal string) string {
	t.Helper()
	resp, err := client.Get("http://" + portal + "/status?lang=de")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestCrisisCommandWithGatewayStopped: `roamgate crisis on` writes the
// store while no gateway runs; the gateway started afterwards is in crisis
// mode; `roamgate crisis off` ends it while the gateway runs.
func TestCrisisCommandWithGatewayStopped(t *testing.T) {
	needTools(t, "radclient")
	bin := buildBinary(t)
	data := t.TempDir()
	env := append(os.Environ(), "ROAMGATE_DATA_DIR="+data)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("crisis", "on", "-message-de", crisisDE); err == nil || !strings.Contains(out, "-until is required") {
		t.Fatalf("crisis on without -until: %v %s; want an error naming -until", err, out)
	}
	if out, err := run("crisis", "on", "-until", "200h", "-message-de", crisisDE); err == nil || !strings.Contains(out, "7 days") {
		t.Fatalf("crisis on for 200h: %v %s; want an error naming the 7 days", err, out)
	}
	out, err := run("crisis", "on", "-until", "3h", "-message-de", crisisDE, "-message-en", crisisEN,
		"-link", "Notunterkünfte|https://stadt.example/notunterkunft", "-by", "leitstelle")
	if err != nil || !strings.Contains(out, "crisis mode on until") {
		t.Fatalf("crisis on: %v %s", err, out)
	}

	gw := startGatewayProc(t, bin, "ROAMGATE_DATA_DIR="+data)
	if got := macAuth(t, gw.radius, "da:c1:51:00:01:01", "rathaus-ap-1"); got != "accept" {
		t.Fatalf("unknown MAC at a gateway started in a crisis: %s, want accept", got)
	}
	page := splash(t, http.DefaultClient, gw.portal, "da:c1:51:00:01:02", "de")
	if !strings.Contains(page, crisisDE) || !strings.Contains(page, `href="https://stadt.example/notunterkunft"`) {
		t.Errorf("splash lacks the notice written by the command")
	}

	// Off while the gateway runs: it re-reads the SQLite file every second.
	if out, err := run("crisis", "off", "-by", "leitstelle"); err != nil || !strings.Contains(out, "crisis mode off") {
		t.Fatalf("crisis off: %v %s", err, out)
	}
	// Each try asks for another device: one accepted before the switch
	// was seen holds a crisis session until its timeout.
	n := 0x10
	followed := testtool.Poll(3*time.Second, func() bool {
		n++
		return macAuth(t, gw.radius, fmt.Sprintf("da:c1:51:00:01:%02x", n), "rathaus-ap-1") == "reject"
	})
	if !followed {
		t.Fatalf("the running gateway did not follow crisis off within 3s:\n%s", gw.stderr.String())
	}
}

// TestCrisisOneCommand is issue 11 item 11: `roamgate crisis on -until 6h`
// alone switches crisis mode on with the built-in message in every
// language; crisis.message.<lang> in the config and -message-<lang> on the
// command line replace it for their language only; the help says so.
func TestCrisisOneCommand(t *testing.T) {
	bin := buildBinary(t)
	data := t.TempDir()
	const configured = "Stadtwerke: Trinkwasser abkochen. Infos im Radio."
	const flagged = "Sel uyarısı: Lütfen yüksek yerlere gidin."
	cfgPath := filepath.Join(t.TempDir(), "roamgate.yaml")
	if err := os.WriteFile(cfgPath, []byte("data_dir: "+data+"\ncrisis:\n  message:\n    de: \""+configured+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "ROAMGATE_CONFIG="+cfgPath)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	help, _ := run("crisis", "on", "-h")
	for _, want := range []string{"-message-ar", "built-in", "crisis.message"} {
		if !strings.Contains(help, want) {
			t.Errorf("crisis on -h lacks %q:\n%s", want, help)
		}
	}
	if usage, _ := run("help"); !strings.Contains(usage, "crisis on -until") || !strings.Contains(usage, "built-in message") {
		t.Errorf("usage does not say the message is optional:\n%s", usage)
	}

	if out, err := run("crisis", "on", "-until", "6h"); err != nil || !strings.Contains(out, "crisis mode on until") {
		t.Fatalf("crisis on -until 6h: %v\n%s", err, out)
	}
	if out, err := run("crisis", "on", "-until", "6h", "-message-tr", flagged); err != nil {
		t.Fatalf("crisis on with -message-tr: %v\n%s", err, out)
	}

	gw := startGatewayProc(t, bin, "ROAMGATE_CONFIG="+cfgPath)
	for lang, want := range map[string]string{
		"de": configured, // the config's
		"tr": flagged,    // the flag's
		"en": "Official warning: there is an emergency.",
		"uk": "Офіційне попередження: виникла надзвичайна ситуація.",
		"ar": "تحذير رسمي: هناك حالة طوارئ.",
	} {
		page := splash(t, http.DefaultClient, gw.portal, "da:c1:51:00:02:01", lang)
		if !strings.Contains(page, want) || !strings.Contains(page, `class="crisis" role="alert"`) {
			t.Errorf("splash in %s lacks the crisis message %q", lang, want)
		}
	}
	if out, err := run("crisis", "on", "-until", "6h", "-config", filepath.Join(t.TempDir(), "nope.yaml")); err == nil {
		t.Errorf("crisis on with a missing config succeeded:\n%s", out)
	}
}
