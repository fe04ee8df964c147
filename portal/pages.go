package portal

import (
	"bytes"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"golang.org/x/text/language"

	"roamgate/assets"
	"roamgate/portal/vendor"
)

// page is the data of every page template (see assets/templates).
type page struct {
	L        *assets.Catalog
	SiteName string
	Location string
	CSS      string

	// Langs are the language switch's links.
	Langs []langLink
	// WiFi4EU is set on the pages of WiFi4EU networks.
	WiFi4EU *wifi4eu
	// Crisis is the crisis notice, on every page while one is active.
	Crisis *crisisBanner

	// splash
	Online    bool
	Returning bool
	Error     string
	Hidden    []field
	CSRF      string
	Terms     terms
	// TermsCheckbox shows the checkbox besides the button
	// (portal.terms_checkbox).
	TermsCheckbox bool
	Device        string
	SSID          string

	// status
	TimeLeft     string
	Disconnected bool

	// step
	Step   *vendor.Step
	StepJS string

	// formTargets are the URLs the page's forms lead to besides the portal
	// (the access point's login URL, the continue URL), for the CSP.
	formTargets []string

	// error
	Heading string
	Message string
	Link    string
}

// terms are the terms of use of one language: a text, or a URL to link to.
type terms struct{ Text, URL string }

func termsFor(configured string, cat *assets.Catalog) terms {
	configured = strings.TrimSpace(configured)
	if configured == "" {
		return terms{Text: cat.T("terms.text")}
	}
	if looksLikeURL(configured) {
		if u, ok := vendor.ContinueURL(configured); ok {
			return terms{URL: u}
		}
	}
	return terms{Text: configured}
}

const (
	// maxAcceptLanguage bounds the Accept-Language header the portal parses.
	maxAcceptLanguage = 512
	// contentSecurityPolicy allows only the portal's own resources: no
	// inline script or style, no framing. A page whose form posts UAM
	// credentials to an access point, or carries the WiFi4EU snippet, widens
	// it for exactly that (pagePolicy).
	contentSecurityPolicy = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// pagePolicy is the Content-Security-Policy of a page whose forms may lead
// (by post or by the redirects that follow it: browsers check form-action on
// every hop) to the given URLs' origins, and which may carry the WiFi4EU
// snippet with the given hash. With neither it is contentSecurityPolicy.
func pagePolicy(formTargets []string, wifi4euHash string) string {
	if len(formTargets) == 0 && wifi4euHash == "" {
		return contentSecurityPolicy
	}
	var b strings.Builder
	b.WriteString("default-src 'self'; ")
	if wifi4euHash != "" {
		const origin = "https://collection.wifi4eu.ec.europa.eu"
		b.WriteString("script-src 'self' " + wifi4euHash + " " + WiFi4EUScriptURL + "; ")
		b.WriteString("connect-src 'self' " + origin + "; img-src 'self' " + origin + "; ")
	}
	b.WriteString("object-src 'none'; base-uri 'none'; form-action 'self'")
	seen := map[string]bool{}
	for _, t := range formTargets {
		u, err := url.Parse(t)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		origin := u.Scheme + "://" + u.Host
		if !seen[origin] {
			seen[origin] = true
			b.WriteString(" " + origin)
		}
	}
	b.WriteString("; frame-ancestors 'none'")
	return b.String()
}

// langLink is one entry of the language switch.
type langLink struct {
	Tag, Name, URL string
	Current        bool
}

// setSecurityHeaders is applied to every response, including the error
// pages of requests that never reached a handler.
func setSecurityHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// same-origin, not no-referrer: fiber's CSRF check needs the Referer of
	// our own forms over HTTPS; other sites still learn nothing.
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
}

// language picks the page language: an explicit, configured ?lang= (which is
// then returned as explicit, to be carried on), else the best match for
// Accept-Language, else the first configured language.
func (s *Server) language(c *fiber.Ctx, requested string) (lang, explicit string) {
	for _, l := range s.cfg.Languages {
		if l == requested {
			return l, l // the configured string, not a view into the request
		}
	}
	header := c.Get(fiber.HeaderAcceptLanguage)
	if header == "" || len(header) > maxAcceptLanguage {
		return s.cfg.Languages[0], ""
	}
	prefs, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(prefs) == 0 {
		return s.cfg.Languages[0], ""
	}
	_, i, _ := s.matcher.Match(prefs...)
	return s.cfg.Languages[i], ""
}

func (s *Server) newPage(c *fiber.Ctx, lang string) *page {
	p := &page{L: s.catalogs[lang], SiteName: s.deps.SiteName, CSS: s.css, Crisis: s.crisis(lang)}
	if len(s.cfg.Languages) < 2 {
		return p
	}
	// The switch stays on the page (GET) or goes to the splash (a form
	// answer); setLangs adds the validated arrival.
	path := "/"
	if c.Method() == fiber.MethodGet && c.Path() == "/status" {
		path = "/status"
	}
	s.setLangs(p, path, nil)
	return p
}

// setLangs builds the language switch's links to path, carrying the
// arrival's validated parameters (never the raw query).
func (s *Server) setLangs(p *page, path string, a *vendor.Arrival) {
	if len(s.cfg.Languages) < 2 {
		return
	}
	q := url.Values{}
	if a != nil {
		for _, f := range hidden(*a) {
			q.Set(f.Name, f.Value)
		}
	}
	lang := p.L.Lang()
	p.Langs = p.Langs[:0]
	for _, l := range s.cfg.Languages {
		q.Set(paramLang, l)
		link := path + "?" + q.Encode()
		if a != nil {
			if _, signed := signedQuery(*a); signed {
				link = path + arrivalQuery(*a, l)
			}
		}
		p.Langs = append(p.Langs, langLink{Tag: l, Name: s.catalogs[l].T("language.name"), URL: link, Current: l == lang})
	}
}

func (s *Server) locationName(id string) string {
	if name, ok := s.deps.LocationNames[id]; ok && name != "" {
		return name
	}
	return id
}

// render executes a page and sends it with the given status.
func (s *Server) render(c *fiber.Ctx, status int, name string, p *page) error {
	var buf bytes.Buffer
	if err := s.pages.Execute(&buf, name, p); err != nil {
		return err
	}
	c.Status(status)
	var hash string
	if p.WiFi4EU != nil {
		hash = p.WiFi4EU.hash
	}
	if hash != "" || len(p.formTargets) > 0 {
		c.Set(fiber.HeaderContentSecurityPolicy, pagePolicy(p.formTargets, hash))
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

// renderError sends the error page for status, with an optional link back.
func (s *Server) renderError(c *fiber.Ctx, status int, lang, link string) error {
	return s.renderErrorKey(c, status, lang, "error."+strconv.Itoa(status), link)
}

// renderErrorKey renders the error page with the message key (its
// .heading and .text), or the status's generic one if it has none.
func (s *Server) renderErrorKey(c *fiber.Ctx, status int, lang, key, link string) error {
	p := s.newPage(c, lang)
	if !p.L.Has(key + ".heading") {
		key = "error.400"
		if status >= 500 {
			key = "error.500"
		}
	}
	p.Heading, p.Message, p.Link = p.L.T(key+".heading"), p.L.T(key+".text"), link
	return s.render(c, status, "error", p)
}

// handleError is fiber's ErrorHandler: every error becomes the error page
// with a link to the splash, never a message or stack trace. Server errors
// are logged.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status := fiber.StatusInternalServerError
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status = fe.Code
	}
	if status >= 500 {
		s.log.Error("portal: request failed", "method", strings.Clone(c.Method()), "path", strings.Clone(c.Path()), "status", status, "err", err)
	}
	setSecurityHeaders(c)
	lang, _ := s.language(c, "")
	if rerr := s.renderError(c, status, lang, "/"); rerr != nil {
		s.log.Error("portal: error page", "err", rerr)
		c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
		return c.Status(status).SendString(strconv.Itoa(status) + " " + utils.StatusMessage(status))
	}
	return nil
}

// timeLeft formats d for the status page, rounded down to the minute.
func timeLeft(l *assets.Catalog, d time.Duration) string {
	if d < time.Minute {
		return l.T("status.time_left_under_minute")
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if h == 0 {
		return l.T("status.time_left_minutes", "minutes", strconv.Itoa(m))
	}
	return l.T("status.time_left", "hours", strconv.Itoa(h), "minutes", strconv.Itoa(m))
}
