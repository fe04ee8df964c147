package portal

import (
	"context"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"roamgate/session"
)

// sessionCookie holds the session token (the JWT). HttpOnly: pages never
// need it in JavaScript.
const sessionCookie = "roamgate_session"

// retryAfter is what a 503 tells the browser, in seconds.
const retryAfter = "5"

// handleSplash is GET /: the page an access point sends a new device to.
func (s *Server) handleSplash(c *fiber.Ctx) error {
	lang, explicit := s.language(c, c.Query(paramLang))
	p := s.newPage(lang)
	if sess, ok := s.sessionFromCookie(c); ok {
		p.Online = true
		p.Location = s.locationName(sess.CurrentLocation)
		return s.render(c, fiber.StatusOK, "splash", p)
	}
	a, invalid := parseArrival(func(name string) string { return c.Query(name) })
	s.stats.invalidParams.Add(uint64(invalid))
	return s.splashForm(c, fiber.StatusOK, p, a, explicit, "")
}

// splashForm renders the sign-in form for an arrival, setting the CSRF
// cookie if the browser has none.
func (s *Server) splashForm(c *fiber.Ctx, status int, p *page, a arrival, explicitLang, errMsg string) error {
	nonce, err := s.csrfNonce(c)
	if err != nil {
		return err
	}
	p.CSRF = s.csrf.token(nonce)
	p.Hidden = a.fields()
	if explicitLang != "" {
		p.Hidden = append(p.Hidden, field{paramLang, explicitLang})
	}
	p.Terms = s.terms[p.L.Lang()]
	if a.HasMAC {
		p.Device = a.ClientMAC.String()
	}
	location, _ := s.locate(c, a)
	p.Location = s.locationName(location)
	p.Error = errMsg
	return s.render(c, status, "splash", p)
}

// handleConnect is POST /connect: the citizen accepted the terms.
func (s *Server) handleConnect(c *fiber.Ctx) error {
	form := c.Request().PostArgs()
	get := func(name string) string { return string(form.Peek(name)) } // copies
	lang, explicit := s.language(c, get(paramLang))
	c.Set(fiber.HeaderCacheControl, "no-store")

	mediaType, _, _ := strings.Cut(c.Get(fiber.HeaderContentType), ";")
	if !strings.EqualFold(strings.TrimSpace(mediaType), fiber.MIMEApplicationForm) {
		return s.renderError(c, fiber.StatusUnsupportedMediaType, lang, "/")
	}
	if c.Get("Sec-Fetch-Site") == "cross-site" || !s.csrf.valid(c.Cookies(csrfCookie), get(csrfField)) {
		s.stats.csrfFailures.Add(1)
		a, _ := parseArrival(get)
		return s.renderError(c, fiber.StatusForbidden, lang, "/"+a.query(explicit))
	}
	a, invalid := parseArrival(get)
	s.stats.invalidParams.Add(uint64(invalid))
	if get("accept") != "1" || get("terms") != "1" {
		s.stats.termsRefused.Add(1)
		p := s.newPage(lang)
		return s.splashForm(c, fiber.StatusBadRequest, p, a, explicit, p.L.T("splash.error_terms"))
	}

	location, network := s.locate(c, a)
	req := session.CreateRequest{MAC: a.ClientMAC, HasMAC: a.HasMAC, Network: network, Location: location}
	if a.HasAP {
		req.AP = a.APMAC.String()
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), createTimeout)
	defer cancel()
	sess, token, err := s.deps.Sessions.Create(ctx, req)
	if err != nil {
		// Create is all or nothing: no session exists, so set no cookie.
		s.stats.storeErrors.Add(1)
		s.log.Warn("portal: sign-in failed", "location", location, "err", err)
		c.Set(fiber.HeaderRetryAfter, retryAfter)
		return s.renderError(c, fiber.StatusServiceUnavailable, lang, "/"+a.query(explicit))
	}
	c.Cookie(&fiber.Cookie{
		Name:     sessionCookie,
		Value:    token,
		Path:     "/",
		Expires:  sess.Expires,
		Secure:   s.secure(c),
		HTTPOnly: true,
		SameSite: fiber.CookieSameSiteLaxMode,
	})
	s.stats.signins.Add(1)
	target := a.ContinueURL
	if target == "" {
		target = "/status" + langQuery(explicit)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// handleStatus is GET /status: time left for a device that is online.
func (s *Server) handleStatus(c *fiber.Ctx) error {
	lang, explicit := s.language(c, c.Query(paramLang))
	sess, ok := s.sessionFromCookie(c)
	if !ok {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Redirect("/"+langQuery(explicit), fiber.StatusFound)
	}
	p := s.newPage(lang)
	p.Location = s.locationName(sess.CurrentLocation)
	p.TimeLeft = timeLeft(p.L, s.deps.Sessions.TimeLeft(sess))
	return s.render(c, fiber.StatusOK, "status", p)
}

// handleJWKS is GET /.well-known/jwks.json.
func (s *Server) handleJWKS(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.JSON(s.deps.JWKS.JWKS())
}

// handleHealth is GET /healthz.
func (s *Server) handleHealth(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMETextPlainCharsetUTF8)
	return c.SendString("ok")
}

// handleStatic is GET /static/:name. Pages link to name?v=<content hash>, so
// a response for the current version may be cached for good.
func (s *Server) handleStatic(c *fiber.Ctx) error {
	f, ok := s.static[c.Params("name")]
	if !ok {
		return fiber.ErrNotFound
	}
	etag := `"` + f.version + `"`
	c.Set(fiber.HeaderETag, etag)
	if c.Query("v") == f.version {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
	}
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, f.contentType)
	return c.Send(f.body)
}

// sessionFromCookie returns the live session of the request's token cookie.
// A cookie that no longer names a live session is cleared.
func (s *Server) sessionFromCookie(c *fiber.Ctx) (session.Session, bool) {
	token := c.Cookies(sessionCookie)
	if token == "" {
		return session.Session{}, false
	}
	sess, err := s.deps.Sessions.FromToken(strings.Clone(token))
	if err != nil {
		c.Cookie(&fiber.Cookie{
			Name: sessionCookie, Path: "/", Expires: time.Unix(0, 0),
			Secure: s.secure(c), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
		})
		return session.Session{}, false
	}
	return sess, true
}

// csrfNonce returns the request's CSRF cookie, or sets a new one.
func (s *Server) csrfNonce(c *fiber.Ctx) (string, error) {
	if nonce := c.Cookies(csrfCookie); wellFormed(nonce) {
		return strings.Clone(nonce), nil
	}
	nonce, err := s.csrf.nonce()
	if err != nil {
		return "", err
	}
	c.Cookie(&fiber.Cookie{
		Name: csrfCookie, Value: nonce, Path: "/", MaxAge: csrfMaxAge,
		Secure: s.secure(c), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
	return nonce, nil
}

// locate asks the Locator, if there is one, where an arrival is.
func (s *Server) locate(c *fiber.Ctx, a arrival) (location, network string) {
	if s.deps.Locator == nil {
		return "", ""
	}
	var ap string
	if a.HasAP {
		ap = a.APMAC.String()
	}
	return s.deps.Locator.Locate(a.NASID, ap, a.SSID, s.clientIP(c))
}

func langQuery(explicit string) string {
	if explicit == "" {
		return ""
	}
	return "?" + paramLang + "=" + explicit
}
