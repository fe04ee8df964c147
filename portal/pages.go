package portal

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
	"golang.org/x/text/language"

	"roamgate/assets"
)

// page is the data of every page template (see assets/templates).
type page struct {
	L        *assets.Catalog
	SiteName string
	Location string
	CSS      string

	// splash
	Online bool
	Error  string
	Hidden []field
	CSRF   string
	Terms  terms
	Device string

	// status
	TimeLeft string

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
		if u, ok := continueURL(configured); ok {
			return terms{URL: u}
		}
	}
	return terms{Text: configured}
}

const (
	// maxAcceptLanguage bounds the Accept-Language header the portal parses.
	maxAcceptLanguage = 512
	// contentSecurityPolicy allows only the portal's own resources: no
	// inline script or style, no framing. The vendor step of a later issue
	// (a form posting UAM credentials to the access point) must widen
	// form-action for exactly that access point.
	contentSecurityPolicy = "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// setSecurityHeaders is applied to every response, including the error
// pages of requests that never reached a handler.
func setSecurityHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderContentSecurityPolicy, contentSecurityPolicy)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
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

func (s *Server) newPage(lang string) *page {
	return &page{L: s.catalogs[lang], SiteName: s.deps.SiteName, CSS: s.css}
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
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Send(buf.Bytes())
}

// renderError sends the error page for status, with an optional link back.
func (s *Server) renderError(c *fiber.Ctx, status int, lang, link string) error {
	p := s.newPage(lang)
	key := "error." + strconv.Itoa(status)
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
