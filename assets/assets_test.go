package assets

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// pageData has the fields the layout and the pages read; portal's page type
// is the real one.
type pageData struct {
	L        *Catalog
	SiteName string
	Location string
	CSS      string

	Langs []struct {
		Tag, Name, URL string
		Current        bool
	}
	WiFi4EU any
	Crisis  *struct {
		Message, Lang string
		Links         []struct{ Title, URL string }
	}

	Online    bool
	Returning bool
	Error     string
	Hidden    []struct{ Name, Value string }
	CSRF      string
	Terms     struct{ Text, URL string }
	// TermsCheckbox asks for a tick besides the button.
	TermsCheckbox bool
	Device        string
	SSID          string

	TimeLeft     string
	Disconnected bool

	Step *struct {
		URL    string
		Fields []struct{ Name, Value string }
	}
	StepJS string

	Heading, Message, Link string
}

func TestPagesRender(t *testing.T) {
	pages, err := ParsePages()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pages.Names(), []string{"error", "retry", "splash", "status", "step"}; !slices.Equal(got, want) {
		t.Fatalf("pages = %v, want %v", got, want)
	}
	hostile := `<script>alert(1)</script>`
	unfilled := regexp.MustCompile(`\{[a-z_]+\}`)
	for _, lang := range Languages() {
		cat, err := Messages(lang)
		if err != nil {
			t.Fatal(err)
		}
		base := pageData{L: cat, SiteName: "Stadt " + hostile, Location: "Bahnhof", CSS: "/static/style.css?v=1"}
		cases := []struct {
			name, page string
			edit       func(*pageData)
			want       []string
		}{
			{"splash", "splash", func(d *pageData) {
				d.Hidden = []struct{ Name, Value string }{{"ssid", `"><script>x</script>`}}
				d.CSRF, d.Terms.Text, d.Device, d.TermsCheckbox = "tok", "Terms "+hostile, "aa:bb:cc:dd:ee:ff", true
			}, []string{`name="terms"`, `name="accept" value="1"`, `name="_csrf" value="tok"`, `action="/connect"`, "aa:bb:cc:dd:ee:ff", `<label for="terms">`}},
			{"splash, one tap", "splash", func(d *pageData) { d.CSRF, d.Terms.Text = "tok", "Terms of the town" },
				[]string{`<h2 id="terms-heading">`, "Terms of the town", `name="accept" value="1">` + cat.T("splash.submit") + `</button>`}},
			{"splash with error", "splash", func(d *pageData) { d.Error, d.TermsCheckbox = "bitte", true }, []string{`role="alert"`, `aria-invalid="true"`, cat.T("splash.unknown_device")}},
			{"splash terms url", "splash", func(d *pageData) { d.Terms.URL = "https://stadt.example/agb" }, []string{`href="https://stadt.example/agb"`}},
			{"splash online", "splash", func(d *pageData) { d.Online = true }, []string{`href="/status"`, cat.T("splash.online_heading")}},
			{"splash in a crisis", "splash", func(d *pageData) {
				d.Crisis = &struct {
					Message, Lang string
					Links         []struct{ Title, URL string }
				}{Message: "Flood " + hostile, Lang: "en", Links: []struct{ Title, URL string }{{"Shelters", "https://stadt.example/notunterkunft"}}}
			}, []string{`class="crisis" role="alert"`, cat.T("crisis.heading"), cat.T("crisis.no_terms"), `lang="en"`, `href="https://stadt.example/notunterkunft"`, `name="accept" value="1"`}},
			{"status", "status", func(d *pageData) { d.TimeLeft = "Noch 1 Std. 2 Min. online" }, []string{"Noch 1 Std. 2 Min. online", "Bahnhof"}},
			{"retry", "retry", func(d *pageData) {
				d.Hidden = []struct{ Name, Value string }{{"id", "aa:bb:cc:dd:ee:ff"}}
				d.CSRF = "tok"
			}, []string{`action="/continue"`, `name="_csrf" value="tok"`, `name="id" value="aa:bb:cc:dd:ee:ff"`, cat.T("retry.heading"), cat.T("retry.submit")}},
			{"error", "error", func(d *pageData) { d.Heading, d.Message, d.Link = "Oops", hostile, "/?ssid=x" }, []string{"<h1>Oops</h1>", `href="/?ssid=x"`}},
		}
		for _, tc := range cases {
			t.Run(lang+"/"+tc.name, func(t *testing.T) {
				d := base
				tc.edit(&d)
				var buf bytes.Buffer
				if err := pages.Execute(&buf, tc.page, d); err != nil {
					t.Fatal(err)
				}
				out := buf.String()
				for _, w := range append(tc.want, `<html lang="`+lang+`" dir="`+cat.Dir()+`">`, `<link rel="stylesheet" href="/static/style.css?v=1">`) {
					if !strings.Contains(out, w) {
						t.Errorf("output lacks %q:\n%s", w, out)
					}
				}
				if tc.name == "splash, one tap" {
					if strings.Contains(out, `name="terms"`) {
						t.Error("a checkbox without portal.terms_checkbox")
					}
					// The terms come before the button that accepts them.
					if strings.Index(out, "Terms of the town") > strings.Index(out, `name="accept"`) {
						t.Error("the terms are below the button")
					}
				}
				if n := strings.Count(out, "<h1"); n != 1 {
					t.Errorf("%d <h1> elements, want 1", n)
				}
				if strings.Contains(strings.ToLower(out), "<script") {
					t.Errorf("output contains a script element:\n%s", out)
				}
				if !strings.Contains(out, "Stadt &lt;script&gt;") {
					t.Errorf("hostile site name not escaped:\n%s", out)
				}
				if m := unfilled.FindString(out); m != "" {
					t.Errorf("unfilled placeholder %s in output:\n%s", m, out)
				}
			})
		}
	}
	if err := pages.Execute(&bytes.Buffer{}, "nope", pageData{}); err == nil {
		t.Error("Execute of an unknown page succeeded")
	}
}

// TestTemplateKeys checks that every message key the templates use exists in
// the reference language.
func TestTemplateKeys(t *testing.T) {
	ref, err := Messages(Reference)
	if err != nil {
		t.Fatal(err)
	}
	use := regexp.MustCompile(`\.L\.T "([^"]+)"`)
	tmpls, _ := fs.Glob(files, "templates/*.html")
	n := 0
	for _, name := range tmpls {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range use.FindAllSubmatch(data, -1) {
			n++
			if key := string(m[1]); !ref.Has(key) {
				t.Errorf("%s uses message %q, which %s.json lacks", name, key, Reference)
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d message uses in templates; is the pattern stale?", n)
	}
}

func TestTranslationsComplete(t *testing.T) {
	langs := Languages()
	if len(langs) < 2 || langs[0] != "de" || !slices.Contains(langs, "en") {
		t.Fatalf("Languages() = %v, want de first and en", langs)
	}
	ref, _ := Messages(Reference)
	placeholder := regexp.MustCompile(`\{[a-z_]+\}`)
	for _, lang := range langs[1:] {
		t.Run(lang, func(t *testing.T) {
			cat, err := Messages(lang)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := cat.Keys(), ref.Keys(); !slices.Equal(got, want) {
				t.Errorf("keys differ from %s:\n got %v\nwant %v", Reference, got, want)
			}
			for _, key := range ref.Keys() {
				a := placeholder.FindAllString(ref.T(key), -1)
				b := placeholder.FindAllString(cat.T(key), -1)
				slices.Sort(a)
				slices.Sort(b)
				if !slices.Equal(a, b) {
					t.Errorf("%s: placeholders %v, %s has %v", key, b, Reference, a)
				}
			}
		})
	}
	all, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	for lang, msgs := range all {
		for key, msg := range msgs {
			if strings.ContainsAny(msg, "<>") || strings.TrimSpace(msg) == "" {
				t.Errorf("%s %s: %q is empty or looks like markup; messages are plain text", lang, key, msg)
			}
		}
	}
}

func TestCatalogT(t *testing.T) {
	de, _ := Messages("de")
	en, _ := Messages("en")
	cases := []struct {
		name string
		cat  *Catalog
		key  string
		args []string
		want string
	}{
		{"plain", de, "splash.submit", nil, "Nutzungsbedingungen akzeptieren und online gehen"},
		{"placeholders", de, "status.time_left", []string{"hours", "23", "minutes", "59"}, "Noch 23 Std. 59 Min. online"},
		{"english", en, "status.time_left", []string{"hours", "1", "minutes", "5"}, "1 h 5 min left online"},
		{"odd args ignored", de, "status.time_left_minutes", []string{"minutes", "7", "hours"}, "Noch 7 Min. online"},
		{"value not re-expanded", de, "page.location", []string{"location", "{location}"}, "Standort: {location}"},
		{"missing key", de, "no.such.key", nil, "no.such.key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cat.T(tc.key, tc.args...); got != tc.want {
				t.Errorf("T(%q, %q) = %q, want %q", tc.key, tc.args, got, tc.want)
			}
		})
	}
}

func TestCatalogFallback(t *testing.T) {
	all, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	partial := &Catalog{lang: "xx", msgs: map[string]string{}, fallback: all[Reference]}
	if got, want := partial.T("splash.submit"), all[Reference]["splash.submit"]; got != want {
		t.Errorf("fallback = %q, want %q", got, want)
	}
	if _, err := Messages("xx"); !errors.Is(err, ErrNoLanguage) {
		t.Errorf("Messages(xx) err = %v, want ErrNoLanguage", err)
	}
}

func TestStatic(t *testing.T) {
	css, err := fs.ReadFile(Static, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"@import", "http://", "https://", "url("} {
		if bytes.Contains(css, []byte(banned)) {
			t.Errorf("style.css contains %q: no third-party or extra requests", banned)
		}
	}
	if !bytes.Contains(css, []byte(":focus-visible")) {
		t.Error("style.css has no focus style")
	}
	v := Version("style.css")
	if len(v) != 12 || v != Version("style.css") {
		t.Errorf("Version(style.css) = %q, want a stable 12-digit hash", v)
	}
	if got := Version("missing.css"); got != "" {
		t.Errorf("Version(missing.css) = %q, want empty", got)
	}
}

func TestCatalogDir(t *testing.T) {
	for lang, want := range map[string]string{"de": "ltr", "en": "ltr", "tr": "ltr", "uk": "ltr", "ar": "rtl"} {
		cat, err := Messages(lang)
		if err != nil {
			t.Fatal(err)
		}
		if got := cat.Dir(); got != want {
			t.Errorf("%s: Dir() = %q, want %q", lang, got, want)
		}
	}
}

// TestAdminTranslations: the admin's catalogs come in exactly the portal's
// languages, with the reference's keys and placeholders, as plain text, and
// are translations: Ukrainian in Cyrillic, Arabic in Arabic script, Turkish
// different from English.
func TestAdminTranslations(t *testing.T) {
	all, err := loadAdminCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := slices.Sorted(maps.Keys(all)), slices.Sorted(slices.Values(Languages())); !slices.Equal(got, want) {
		t.Fatalf("admin languages %v, portal languages %v: one list for both", got, want)
	}
	ref, err := AdminMessages(Reference)
	if err != nil {
		t.Fatal(err)
	}
	en, _ := AdminMessages("en")
	placeholder := regexp.MustCompile(`\{[a-z_]+\}`)
	script := map[string]*unicode.RangeTable{"uk": unicode.Cyrillic, "ar": unicode.Arabic}
	for _, lang := range Languages() {
		t.Run(lang, func(t *testing.T) {
			cat, err := AdminMessages(lang)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := cat.Keys(), ref.Keys(); !slices.Equal(got, want) {
				t.Errorf("keys differ from %s:\n got %v\nwant %v", Reference, got, want)
			}
			for _, key := range ref.Keys() {
				msg := cat.T(key)
				if strings.ContainsAny(msg, "<>") || strings.TrimSpace(msg) == "" {
					t.Errorf("%s: %q is empty or looks like markup", key, msg)
				}
				a, b := placeholder.FindAllString(ref.T(key), -1), placeholder.FindAllString(msg, -1)
				slices.Sort(a)
				slices.Sort(b)
				if !slices.Equal(a, b) {
					t.Errorf("%s: placeholders %v, %s has %v", key, b, Reference, a)
				}
				if r := script[lang]; r != nil && !strings.ContainsFunc(msg, func(c rune) bool { return unicode.Is(r, c) }) {
					t.Errorf("%s: %q has no letter of the language's script", key, msg)
				}
				if lang == "tr" && msg == en.T(key) {
					t.Errorf("%s: Turkish %q is the English text", key, msg)
				}
			}
		})
	}
	if _, err := AdminMessages("xx"); !errors.Is(err, ErrNoLanguage) {
		t.Errorf("AdminMessages(xx) err = %v, want ErrNoLanguage", err)
	}
}
