package portal

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"roamgate/session"
)

// switchable is a CrisisSource the test switches.
type switchable struct {
	mu sync.Mutex
	c  session.Crisis
}

func (s *switchable) Crisis() session.Crisis {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *switchable) set(c session.Crisis) {
	s.mu.Lock()
	s.c = c
	s.mu.Unlock()
}

var testCrisis = session.Crisis{Active: true,
	Message: map[string]string{"de": "Hochwasser <b>jetzt</b>", "en": "Flood now"},
	Links:   []session.CrisisLink{{Title: "Shelters", URL: "https://stadt.example/shelters?a=1&b=2"}}}

func TestCrisisBannerOnEveryPage(t *testing.T) {
	src := &switchable{c: testCrisis}
	env := newTestEnvWith(t, Config{Languages: DefaultLanguages()}, func(d *Deps) { d.Crisis = src })
	tests := []struct {
		name, target, lang string
		want               []string
	}{
		{"splash de", "/?client_mac=da:a1:19:00:00:01&lang=de", "de", []string{"Krisenfall", "Hochwasser &lt;b&gt;jetzt&lt;/b&gt;"}},
		{"splash en", "/?client_mac=da:a1:19:00:00:01&lang=en", "en", []string{"Emergency", "Flood now"}},
		// No Turkish text: the first configured language with one, marked.
		{"splash tr falls back", "/?lang=tr", "tr", []string{"Acil durum", `<p lang="de">Hochwasser`}},
		{"cisco splash", "/?switch_url=" + url.QueryEscape("http://10.0.0.2/login.html") + "&ap_mac=00:11:22:33:44:55&client_mac=DA-A1-19-5E-00-07&wlan=WiFi4EU", "de", []string{"Hochwasser"}},
		{"not found", "/no-such-page", "de", []string{"Hochwasser"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, body := env.get(t, tc.target, "Accept-Language", tc.lang)
			for _, w := range append(tc.want, `class="crisis" role="alert"`, `href="https://stadt.example/shelters?a=1&amp;b=2"`) {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			if strings.Contains(body, "<b>jetzt") {
				t.Error("crisis message not escaped")
			}
		})
	}
	src.set(session.Crisis{})
	if _, body := env.get(t, "/?lang=de"); strings.Contains(body, `class="crisis"`) || !strings.Contains(body, `id="terms-heading"`) {
		t.Error("after the crisis the splash still shows the banner or lacks the terms")
	}
}

func TestCrisisConnectWithoutTerms(t *testing.T) {
	src := &switchable{}
	env := newTestEnvWith(t, Config{TermsCheckbox: true}, func(d *Deps) { d.Crisis = src })
	noTerms := func(f form) url.Values {
		v := accepted(f)
		v.Del("terms")
		return v
	}
	// Without a crisis the terms are required.
	f := env.splash(t, "?client_mac=da:a1:19:00:00:02")
	if resp, _ := env.post(t, noTerms(f), f.cookie); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no terms, no crisis: status %d, want 400", resp.StatusCode)
	}
	src.set(testCrisis)
	f = env.splash(t, "?client_mac=da:a1:19:00:00:02")
	if _, ok := f.values["terms"]; ok {
		t.Fatal("the crisis splash carries a terms field")
	}
	resp, _ := env.post(t, noTerms(f), f.cookie)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("no terms in a crisis: status %d, want 303", resp.StatusCode)
	}
	if got := env.sessions.created(); len(got) != 1 {
		t.Fatalf("%d sessions created, want 1", len(got))
	}
	// /status carries the notice as well.
	sc := cookieNamed(resp, sessionCookie)
	if sc == nil {
		t.Fatal("no session cookie")
	}
	req := httptest.NewRequest(http.MethodGet, "/status?lang=en", nil)
	req.AddCookie(&http.Cookie{Name: sc.Name, Value: sc.Value})
	if resp, body := env.do(t, req); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Flood now") || !strings.Contains(body, `class="crisis"`) {
		t.Errorf("/status in a crisis: status %d, banner missing:\n%s", resp.StatusCode, body)
	}
}
