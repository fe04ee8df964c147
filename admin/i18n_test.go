package admin

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"roamgate/assets"
)

// TestLanguages: the admin speaks the portal's five languages and picks one
// as the portal does (Accept-Language through x/text's matcher, ?lang=),
// remembers an explicit choice, writes Arabic right to left, and its
// language switch keeps the page's filter.
func TestLanguages(t *testing.T) {
	sc := newScenario(t)
	s := startAdmin(t, Config{Users: testUsers(t)}, sc.deps())
	c := newClient(t, s)
	c.login("viewer", viewerPassword)

	htmlTag := regexp.MustCompile(`<html lang="([a-z]+)" dir="(ltr|rtl)">`)
	tests := []struct {
		name, query, accept string
		lang, dir, text     string
	}{
		{"no preference is German", "", "", "de", "ltr", "Jetzt online"},
		{"English", "", "en-GB,en;q=0.9", "en", "ltr", "Online now"},
		{"Turkish by region tag", "", "tr-TR,tr;q=0.9,en;q=0.5", "tr", "ltr", "Şu anda çevrimiçi"},
		{"Ukrainian before Russian", "", "ru-RU,uk;q=0.9", "uk", "ltr", "Зараз онлайн"},
		{"Arabic right to left", "", "ar-EG", "ar", "rtl", "المتصلون الآن"},
		{"unknown language falls back to German", "", "ja-JP", "de", "ltr", "Jetzt online"},
		{"?lang= beats the header", "?lang=uk", "en", "uk", "ltr", "Зараз онлайн"},
		{"an unknown ?lang= is ignored", "?lang=xx", "en", "en", "ltr", "Online now"},
		{"garbage header", "", strings.Repeat("x;q=", 300), "de", "ltr", "Jetzt online"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, s) // no language cookie
			c.login("viewer", viewerPassword)
			resp, page := c.do("GET", "/"+tt.query, nil, http.Header{"Accept-Language": {tt.accept}})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			m := htmlTag.FindStringSubmatch(page)
			if m == nil || m[1] != tt.lang || m[2] != tt.dir {
				t.Fatalf("html element %v, want lang=%s dir=%s", m, tt.lang, tt.dir)
			}
			if !strings.Contains(page, tt.text) {
				t.Errorf("page lacks %q", tt.text)
			}
		})
	}

	t.Run("an explicit choice is remembered", func(t *testing.T) {
		c.do("GET", "/?lang=ar", nil, nil)
		_, page := c.do("GET", "/sessions", nil, http.Header{"Accept-Language": {"en"}})
		if !strings.Contains(page, `<html lang="ar" dir="rtl">`) {
			t.Fatalf("sessions page after ?lang=ar is not Arabic:\n%.300s", page)
		}
	})

	t.Run("the switch offers every language and keeps the filter", func(t *testing.T) {
		_, page := c.do("GET", "/sessions?location=bahnhof&lang=de", nil, nil)
		for _, l := range assets.Languages() {
			cat, _ := assets.AdminMessages(l)
			link := `<a href="/sessions?lang=` + l + `&amp;location=bahnhof" lang="` + l + `" hreflang="` + l + `" id="lang-` + l + `"`
			if !strings.Contains(page, link) || !strings.Contains(page, ">"+cat.T("language_name")+"</a>") {
				t.Errorf("switch lacks %s: %s", l, link)
			}
		}
		if !strings.Contains(page, `id="lang-de" aria-current="true"`) {
			t.Error("the current language is not marked")
		}
	})

	t.Run("login page and messages are translated", func(t *testing.T) {
		anon := newClient(t, s)
		_, page := anon.do("GET", "/login", nil, http.Header{"Accept-Language": {"tr"}})
		if !strings.Contains(page, `<html lang="tr" dir="ltr">`) || !strings.Contains(page, "Giriş yap") || !strings.Contains(page, "Parola") {
			t.Fatalf("Turkish login page:\n%s", page)
		}
		_, form := anon.do("GET", "/login?lang=uk", nil, nil)
		m := csrfField.FindStringSubmatch(form)
		if m == nil {
			t.Fatal("login form without CSRF field")
		}
		resp, page := anon.do("POST", "/login", url.Values{"name": {"viewer"}, "password": {"wrong"}, "csrf": {m[1]}}, nil)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "Неправильне ім’я користувача або пароль.") {
			t.Fatalf("wrong password in Ukrainian: %d\n%s", resp.StatusCode, page)
		}
	})
}
