package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"roamgate/internal/testtool"
)

// sendJSON sends a JSON body with c's bearer token.
func sendJSON(t *testing.T, c *client, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCrisisAPI(t *testing.T) {
	sc := newScenario(t)
	var logs testtool.LogBuffer
	deps := sc.deps()
	deps.Crisis = sc.mgr
	deps.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s := startAdmin(t, Config{Users: testUsers(t)}, deps)
	ops, viewer := bearerFor(t, s, "ops", opsPassword), bearerFor(t, s, "viewer", viewerPassword)
	until := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	on := fmt.Sprintf(`{"active": true, "message": {"de": "Hochwasser", "en": "Flood"},
		"links": [{"title": "NINA", "url": "https://warnung.bund.de/"}], "until": %q}`, until.Format(time.RFC3339))

	tests := []struct {
		name, method, body string
		c                  *client
		wantStatus         int
		wantBody           string
	}{
		{"viewer reads", "GET", "", viewer, 200, `"active":false`},
		{"viewer cannot switch on", "POST", on, viewer, 403, "operator"},
		{"viewer cannot switch off", "DELETE", "", viewer, 403, "operator"},
		{"unknown field", "POST", `{"active": true, "colour": "red"}`, ops, 400, "unknown field"},
		{"bad until", "POST", `{"active": true, "message": {"de": "x"}, "until": "tomorrow"}`, ops, 400, "RFC 3339"},
		{"until too far", "POST", fmt.Sprintf(`{"active": true, "message": {"de": "x"}, "until": %q}`, time.Now().Add(169*time.Hour).Format(time.RFC3339)), ops, 400, "7 days"},
		// Issue 11 item 11: no message means the default in every language.
		{"no message: the defaults", "POST", fmt.Sprintf(`{"active": true, "until": %q}`, until.Format(time.RFC3339)), ops, 200, `"uk":"Офіційне попередження: виникла надзвичайна ситуація.`},
		{"operator switches on", "POST", on, ops, 200, `"active":true`},
		{"given texts replace the defaults of their languages only", "GET", "", viewer, 200, `"message":{"ar":"تحذير رسمي: هناك حالة طوارئ.`},
		{"given German", "GET", "", viewer, 200, `"de":"Hochwasser","en":"Flood","tr":"Resmî uyarı: Bir acil durum yaşanıyor.`},
		{"state shows who", "GET", "", viewer, 200, `"by":"ops"`},
		{"operator switches off", "DELETE", "", ops, 200, `"active":false`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := sendJSON(t, tc.c, tc.method, "/api/v1/crisis", tc.body)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("%s: %d %s, want %d with %q", tc.method, status, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	out := logs.String()
	for _, want := range []string{
		`"msg":"admin audit: crisis mode on","admin":"ops","until":"` + until.Format(time.RFC3339),
		`"msg":"admin audit: crisis mode off","admin":"ops"`,
		`"msg":"admin audit: crisis switch refused","admin":"ops"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit log lacks %s\n%s", want, out)
		}
	}
	if strings.Contains(out, `crisis mode on","admin":"viewer"`) {
		t.Error("a viewer's switch reached the audit log as done")
	}
}

// TestCrisisDashboard: the operator switches from the dashboard; the
// dashboard shows the state, since when, by whom and the crisis sessions.
func TestCrisisDashboard(t *testing.T) {
	sc := newScenario(t)
	deps := sc.deps()
	deps.Crisis = sc.mgr
	deps.CrisisMessages = map[string]string{"en": "Bridge closed: use the shelters in the town hall."}
	s := startAdmin(t, Config{Users: testUsers(t)}, deps)
	c := newClient(t, s)
	c.login("ops", opsPassword)
	csrf := c.csrf()

	if resp, _ := c.do("POST", "/crisis", url.Values{"action": {"on"}, "message_de": {"Hochwasser"}, "hours": {"6"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("switch without CSRF: %d, want 403", resp.StatusCode)
	}
	resp, _ := c.do("POST", "/crisis", url.Values{"csrf": {csrf}, "action": {"on"}, "message_de": {"Hochwasser"},
		"links": {"Notunterkunft | https://stadt.example/nu\nNINA|https://warnung.bund.de/"}, "hours": {"6"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("switch on: %d", resp.StatusCode)
	}
	cr := sc.mgr.Crisis()
	if !cr.Active || cr.By != "ops" || len(cr.Links) != 2 || cr.Links[0].URL != "https://stadt.example/nu" {
		t.Fatalf("crisis after the form: %+v", cr)
	}
	_, page := c.do("GET", "/?lang=en", nil, nil)
	for _, want := range []string{`id="crisis-state">ACTIVE`, `<b id="crisis-by">ops</b>`, `id="crisis-total">0`, `id="crisis-off"`} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
	// A bad switch comes back as a message, not a 500.
	c.do("POST", "/crisis", url.Values{"csrf": {csrf}, "action": {"off"}}, nil)
	_, page = c.do("GET", "/?lang=en", nil, nil)
	if !strings.Contains(page, `id="crisis-state">off`) || !strings.Contains(page, `id="crisis-on"`) {
		t.Error("dashboard does not show the crisis off with the switch to turn it on")
	}
	// Issue 11 item 11: the form comes filled with the default messages
	// (the configured one for English here), and fields left empty get
	// them too.
	for _, want := range []string{
		`lang="de" dir="auto">Amtliche Warnung: Es besteht eine Gefahrenlage.`,
		`lang="en" dir="auto">Bridge closed: use the shelters in the town hall.</textarea>`,
		`lang="ar" dir="auto">تحذير رسمي: هناك حالة طوارئ.`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("crisis form lacks %s", want)
		}
	}
	resp, _ = c.do("POST", "/crisis", url.Values{"csrf": {csrf}, "action": {"on"}, "hours": {"6"}, "message_tr": {"Köprü kapalı."}}, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/?crisis=ok" {
		t.Errorf("switch on with empty message fields: %d to %q, want the switch done", resp.StatusCode, loc)
	}
	cr = sc.mgr.Crisis()
	if !cr.Active || cr.Message["tr"] != "Köprü kapalı." || cr.Message["en"] != "Bridge closed: use the shelters in the town hall." ||
		!strings.HasPrefix(cr.Message["uk"], "Офіційне попередження") || len(cr.Message) != 5 {
		t.Errorf("crisis from a form with empty fields: %+v", cr)
	}
	c.do("POST", "/crisis", url.Values{"csrf": {csrf}, "action": {"off"}}, nil)

	viewer := newClient(t, s)
	viewer.login("viewer", viewerPassword)
	_, page = viewer.do("GET", "/", nil, nil)
	if strings.Contains(page, `action="/crisis"`) || !strings.Contains(page, `id="crisis-state"`) {
		t.Error("a viewer sees the switch, or not the state")
	}
	var v struct{ Active bool }
	_, body := viewer.do("GET", "/api/v1/crisis", nil, nil)
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Active {
		t.Errorf("crisis state for the viewer: %s", body)
	}
}
