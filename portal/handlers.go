package portal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/csrf"

	"roamgate/portal/vendor"
	"roamgate/session"
)

// sessionCookie holds the session token (the JWT). HttpOnly: pages never
// need it in JavaScript.
const sessionCookie = "roamgate_session"

// CSRF: fiber's double-submit middleware, the token in the form field
// csrfField and in the cookie csrfCookie (HttpOnly, SameSite Lax).
const (
	csrfCookie = "roamgate_csrf"
	csrfField  = "_csrf"
	// csrfExpiration bounds how long a splash page stays usable, and how
	// long each token is kept in memory (one per browser that opened the
	// splash): two hours covers a page left open over lunch.
	csrfExpiration = 2 * time.Hour
)

// retryAfter is what a 503 tells the browser, in seconds.
const retryAfter = "5"

func (s *Server) csrfMiddleware() fiber.Handler {
	cfg := csrf.Config{
		KeyLookup:      "form:" + csrfField,
		CookieName:     csrfCookie,
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSameSite: "Lax",
		Expiration:     csrfExpiration,
		ContextKey:     "csrf",
		Storage:        s.deps.CSRFStorage,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			s.stats.csrfFailures.Add(1)
			lang, explicit := s.language(c, string(c.Request().PostArgs().Peek(paramLang)))
			_, a := s.arrive(c, formOf(c))
			return s.renderError(c, fiber.StatusForbidden, lang, "/"+arrivalQuery(a, explicit))
		},
	}
	plain := csrf.New(cfg)
	// Over HTTPS the cookie is Secure, as the session cookie is: the
	// middleware takes the flag from its config, hence a second one on
	// the same storage.
	cfg.CookieSecure = true
	overTLS := csrf.New(cfg)
	return func(c *fiber.Ctx) error {
		protect := plain
		if s.secure(c) {
			protect = overTLS
		}
		had := c.Cookies(csrfCookie)
		err := protect(c)
		if tok := csrfToken(c); tok != "" && tok != had && s.forms != nil {
			// A new form's token belongs to the client that asked for
			// it; beyond its share, that client's own oldest forms go.
			if n := s.forms.ClaimForm(tok, s.formOwner(c), maxFormsPerClient, maxCSRFTokens); n > 0 {
				s.stats.formsEvicted.Add(uint64(n))
			}
		}
		return err
	}
}

// csrfToken is the token the CSRF middleware made or found for this request.
func csrfToken(c *fiber.Ctx) string {
	t, _ := c.Locals("csrf").(string)
	return t
}

// handleSplash is GET /: the page an access point sends a new device to.
func (s *Server) handleSplash(c *fiber.Ctx) error {
	lang, explicit := s.language(c, c.Query(paramLang))
	p := s.newPage(c, lang)
	ad, a := s.arrive(c, queryOf(c))
	if unverified(a) {
		return s.refuseArrival(c, lang, a)
	}
	if a.LoginRefused {
		// The access point sent the device back: it did not take the
		// login (Cisco statusCode 3-5). Never "you are online".
		s.stats.apRefusals.Add(1)
		if _, ok := s.sessionFromCookie(c); ok {
			return s.retryPage(c, fiber.StatusOK, p, a, explicit)
		}
		return s.splashForm(c, fiber.StatusOK, p, a, explicit, p.L.T("retry.refused"))
	}
	if sess, ok := s.sessionFromCookie(c); ok {
		if a.LoggedIn && s.mayContinue(c, a) {
			// The access point let the device through and sent it back
			// here: on to where it wanted to go.
			c.Set(fiber.HeaderCacheControl, "no-store")
			return c.Redirect(a.ContinueURL, fiber.StatusSeeOther)
		}
		if !a.LoggedIn && s.returning(sess, ad, a) {
			return s.returningForm(c, p, a, explicit)
		}
		p.Online = true
		p.Location = s.whereFor(c, sess)
		return s.render(c, fiber.StatusOK, "splash", p)
	}
	return s.splashForm(c, fiber.StatusOK, p, a, explicit, "")
}

// returning reports whether a device with a live session must tap once to
// get online here: it arrived with a MAC its session does not have (another
// SSID, a rotated address), or at an access point that has to be told.
func (s *Server) returning(sess session.Session, ad vendor.Adapter, a vendor.Arrival) bool {
	if a.HasMAC {
		if other, err := s.deps.Sessions.ByMAC(a.ClientMAC); err != nil || other.ID != sess.ID {
			return true
		}
	}
	switch ad.Name() {
	case vendor.Generic, vendor.MACAuth:
		return false
	case vendor.UniFi:
		return true // the controller has to be told again
	case vendor.Omada:
		// The External Portal sends the device here only while the
		// controller has not authorised it; without its parameters the
		// arrival is MAC authentication.
		return a.Params.Has("clientMac")
	}
	return a.LoginURL != ""
}

func (s *Server) returningForm(c *fiber.Ctx, p *page, a vendor.Arrival, explicit string) error {
	p.Returning = true
	p.formTargets = []string{a.LoginURL, a.ContinueURL}
	p.CSRF = csrfToken(c)
	p.Hidden = hidden(a)
	s.setLangs(p, "/", &a)
	if explicit != "" {
		p.Hidden = append(p.Hidden, field{paramLang, explicit})
	}
	return s.render(c, fiber.StatusOK, "splash", p)
}

// splashForm renders the sign-in form for an arrival.
func (s *Server) splashForm(c *fiber.Ctx, status int, p *page, a vendor.Arrival, explicitLang, errMsg string) error {
	p.CSRF = csrfToken(c)
	p.Hidden = hidden(a)
	p.formTargets = []string{a.LoginURL, a.ContinueURL}
	s.setLangs(p, "/", &a)
	if explicitLang != "" {
		p.Hidden = append(p.Hidden, field{paramLang, explicitLang})
	}
	p.Terms = s.terms[p.L.Lang()]
	p.TermsCheckbox = s.cfg.TermsCheckbox
	if a.HasMAC {
		p.Device = a.ClientMAC.String()
	}
	location, network := s.locate(c, a)
	p.Location = s.locationName(location)
	p.SSID = a.SSID
	if w := s.wifi4euFor(network, p.L.Lang()); w != nil {
		p.WiFi4EU = w
	}
	p.Error = errMsg
	return s.render(c, status, "splash", p)
}

// handleConnect is POST /connect: the citizen accepted the terms.
func (s *Server) handleConnect(c *fiber.Ctx) error {
	form := formOf(c)
	lang, explicit := s.language(c, form(paramLang))
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !isFormPost(c) {
		return s.renderError(c, fiber.StatusUnsupportedMediaType, lang, "/")
	}
	ad, a := s.arrive(c, form)
	if c.Get("Sec-Fetch-Site") == "cross-site" {
		s.stats.csrfFailures.Add(1)
		return s.renderError(c, fiber.StatusForbidden, lang, "/"+arrivalQuery(a, explicit))
	}
	if unverified(a) {
		return s.refuseArrival(c, lang, a)
	}
	// The button names the terms it accepts; the checkbox, if configured,
	// must be ticked too. In a crisis nobody has to read terms to get
	// online.
	if form("accept") != "1" || (s.cfg.TermsCheckbox && form("terms") != "1" && !s.crisisActive()) {
		s.stats.termsRefused.Add(1)
		p := s.newPage(c, lang)
		return s.splashForm(c, fiber.StatusBadRequest, p, a, explicit, p.L.T("splash.error_terms"))
	}
	if a.HasMAC {
		if ok, wait := s.allowMAC(s.macKey(a.ClientMAC)); !ok {
			return s.tooMany(c, wait)
		}
	}

	location, network := s.locate(c, a)
	// The cookie is the proof that the browser holds a session: only then
	// does a sign-in get that session back. The device's address is the
	// one the request came from, never one the redirect names (ip=): an
	// address claimed here answers DNS and probes for a device.
	req := session.CreateRequest{MAC: a.ClientMAC, HasMAC: a.HasMAC, Network: network, Location: location,
		Token: strings.Clone(c.Cookies(sessionCookie))}
	if ip, ok := s.deviceAddr(c); ok {
		req.ClientIP = ip
	}
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
		return s.renderError(c, fiber.StatusServiceUnavailable, lang, "/"+arrivalQuery(a, explicit))
	}
	s.setSessionCookie(c, token, sess.Expires)
	s.stats.signins.Add(1)
	return s.authorize(ctx, c, signedIn{adapter: ad, arrival: a, session: sess, lang: lang, explicit: explicit})
}

// handleContinue is POST /continue: a returning device taps "continue". Its
// session moves to the MAC it arrived with, and the access point is told.
func (s *Server) handleContinue(c *fiber.Ctx) error {
	form := formOf(c)
	lang, explicit := s.language(c, form(paramLang))
	c.Set(fiber.HeaderCacheControl, "no-store")
	if !isFormPost(c) {
		return s.renderError(c, fiber.StatusUnsupportedMediaType, lang, "/")
	}
	token := strings.Clone(c.Cookies(sessionCookie))
	sess, ok := s.sessionFromCookie(c)
	ad, a := s.arrive(c, form)
	if unverified(a) {
		return s.refuseArrival(c, lang, a)
	}
	if !ok {
		return c.Redirect("/"+arrivalQuery(a, explicit), fiber.StatusSeeOther)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), createTimeout)
	defer cancel()
	if a.HasMAC {
		if ok, wait := s.allowMAC(s.macKey(a.ClientMAC)); !ok {
			return s.tooMany(c, wait)
		}
		if other, err := s.deps.Sessions.ByMAC(a.ClientMAC); err != nil || other.ID != sess.ID {
			moved, newToken, err := s.deps.Sessions.Rebind(ctx, token, a.ClientMAC)
			if err != nil {
				s.stats.storeErrors.Add(1)
				s.log.Warn("portal: rebind failed", "err", err)
				c.Set(fiber.HeaderRetryAfter, retryAfter)
				return s.renderError(c, fiber.StatusServiceUnavailable, lang, "/"+arrivalQuery(a, explicit))
			}
			sess = moved
			s.setSessionCookie(c, newToken, sess.Expires)
			s.stats.rebinds.Add(1)
		}
	}
	return s.authorize(ctx, c, signedIn{adapter: ad, arrival: a, session: sess, lang: lang, explicit: explicit})
}

// signedIn is a device whose sign-in (POST /connect) or "continue" went
// through: what its access point's authorisation step needs.
type signedIn struct {
	adapter vendor.Adapter // the access point's family
	arrival vendor.Arrival // what its redirect said
	session session.Session
	// lang is the page language; explicit is the ?lang= the browser chose,
	// if any, which links carry on.
	lang, explicit string
}

// authorize runs the vendor's authorisation step for a signed-in device and
// answers the browser c accordingly; ctx bounds the step (a controller's
// API call, a CoA).
func (s *Server) authorize(ctx context.Context, c *fiber.Ctx, in signedIn) error {
	a := in.arrival // its ContinueURL may be filled in below
	cred := vendor.Credentials{
		Username: in.session.ID, Password: s.deps.Sessions.UAMSecret(in.session.ID),
		Seconds: int(s.deps.Sessions.TimeLeft(in.session) / time.Second),
	}
	if a.ContinueURL == "" && a.LoginURL != "" {
		a.ContinueURL = s.landing(c, in.explicit) // not a dead end after the access point
	}
	step, err := in.adapter.Authorize(ctx, a, &s.vendors, cred)
	if errors.Is(err, vendor.ErrController) {
		// The controller did not let the device through: it is not
		// online, so it must not be told it is. The session and its cookie
		// stay; the retry page posts to /continue.
		s.stats.vendorErrors.Add(1)
		s.stats.controllerErrors.Add(1)
		s.log.Warn("portal: controller refused or failed the authorisation", "vendor", in.adapter.Name(), "err", err)
		p := s.newPage(c, in.lang)
		return s.retryPage(c, fiber.StatusBadGateway, p, a, in.explicit)
	}
	if err != nil {
		// The session exists and the cookie is set; the access point did not
		// take it. The status page says so by its time left; the citizen can
		// retry from the splash, which offers "continue".
		s.stats.vendorErrors.Add(1)
		if !errors.Is(err, vendor.ErrNoLogin) {
			s.log.Warn("portal: authorisation step failed", "vendor", in.adapter.Name(), "err", err)
		}
		step = vendor.Step{Kind: vendor.StepContinue}
	}
	s.setLogoffCookie(c, a, in.session.Expires)
	if step.Reauthorize && s.deps.Reauthorizer != nil {
		if err := s.deps.Reauthorizer.Reauthorize(ctx, in.session, s.nasHint(c, a)); err != nil {
			s.stats.reauthErrors.Add(1)
			s.log.Warn("portal: re-authorisation failed", "err", err)
		}
	}
	if step.Kind != vendor.StepContinue {
		s.rememberContinue(c, a.ContinueURL)
	}
	switch step.Kind {
	case vendor.StepRedirect:
		return c.Redirect(step.URL, fiber.StatusSeeOther)
	case vendor.StepForm:
		if s.secure(c) && strings.HasPrefix(step.URL, "http:") && step.Query {
			// An https page posting to http gets Chrome's full-page
			// "insecure form" warning; a 303 redirect of this form post to
			// the same URL does not (Chromium's
			// InsecureFormNavigationThrottle lets redirects other than
			// 307/308 pass). The access point takes the fields as a query.
			return c.Redirect(queryURL(step), fiber.StatusSeeOther)
		}
		p := s.newPage(c, in.lang)
		p.Step = &step
		p.StepJS = s.stepJS
		// Browsers check form-action on every redirect the post leads to:
		// the access point sends the browser on to the continue URL
		// (Meraki's success_url, Cisco's redirect_url, Aruba's url).
		p.formTargets = []string{step.URL, a.ContinueURL, step.Continue}
		return s.render(c, fiber.StatusOK, "step", p)
	}
	target := step.URL
	if target == "" {
		target = "/status" + langQuery(in.explicit)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// retryPage tells a citizen whose device the access point or its
// controller has not let through that it is not online yet, with a button
// that tries the authorisation again (POST /continue with the arrival).
func (s *Server) retryPage(c *fiber.Ctx, status int, p *page, a vendor.Arrival, explicit string) error {
	p.CSRF = csrfToken(c)
	p.Hidden = hidden(a)
	p.formTargets = []string{a.LoginURL, a.ContinueURL}
	s.setLangs(p, "/", &a)
	if explicit != "" {
		p.Hidden = append(p.Hidden, field{paramLang, explicit})
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return s.render(c, status, "retry", p)
}

// queryURL is a form step as a GET URL: its fields added to its URL's query.
func queryURL(step vendor.Step) string {
	u, err := url.Parse(step.URL)
	if err != nil {
		return step.URL // the adapter built it from a checked URL
	}
	q := u.Query()
	for _, f := range step.Fields {
		q.Set(f.Name, f.Value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// handleStatus is GET /status: time left for a device that is online.
func (s *Server) handleStatus(c *fiber.Ctx) error {
	lang, explicit := s.language(c, c.Query(paramLang))
	sess, ok := s.sessionFromCookie(c)
	if !ok {
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Redirect("/"+langQuery(explicit), fiber.StatusFound)
	}
	p := s.newPage(c, lang)
	p.Location = s.whereFor(c, sess)
	p.TimeLeft = timeLeft(p.L, s.deps.Sessions.TimeLeft(sess))
	p.CSRF = csrfToken(c)
	if u, ok := s.logoffURL(c, false); ok {
		// The sign-out form's answer redirects there: browsers hold that
		// hop to form-action too.
		p.formTargets = []string{u}
	}
	return s.render(c, fiber.StatusOK, "status", p)
}

// handleDisconnect is POST /status/disconnect: the citizen signs out.
func (s *Server) handleDisconnect(c *fiber.Ctx) error {
	lang, _ := s.language(c, "")
	c.Set(fiber.HeaderCacheControl, "no-store")
	if sess, ok := s.sessionFromCookie(c); ok {
		ctx, cancel := context.WithTimeout(c.UserContext(), createTimeout)
		defer cancel()
		if err := s.deps.Sessions.Revoke(ctx, sess.ID); err != nil {
			s.stats.storeErrors.Add(1)
			s.log.Warn("portal: revoke failed", "err", err)
			c.Set(fiber.HeaderRetryAfter, retryAfter)
			return s.renderError(c, fiber.StatusServiceUnavailable, lang, "/status")
		}
		s.stats.revokes.Add(1)
		s.clearSessionCookie(c)
	}
	// The access point's own sign-out (CoovaChilli's /logoff), where the
	// device signed in at one: it takes the device offline there at once
	// and sends the browser back to the splash (logoff.go).
	if u, ok := s.logoffURL(c, true); ok {
		return c.Redirect(u, fiber.StatusSeeOther)
	}
	p := s.newPage(c, lang)
	p.Disconnected = true
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
		s.clearSessionCookie(c)
		return session.Session{}, false
	}
	return sess, true
}

// sessionOf is the live session of a request: its cookie, else its client
// address (OS probes and the RFC 8908 API come without our cookie).
func (s *Server) sessionOf(c *fiber.Ctx) (session.Session, bool) {
	if c.Cookies(sessionCookie) != "" {
		if sess, ok := s.sessionFromCookie(c); ok {
			return sess, true
		}
	}
	ip, ok := s.deviceAddr(c)
	if !ok {
		return session.Session{}, false
	}
	sess, err := s.deps.Sessions.ByIP(ip)
	return sess, err == nil
}

// deviceAddr is the address of the device that sent the request, and false
// when the portal cannot see it: the request comes from an access point
// itself (it NATs its clients: its address stands for every device behind
// it, signed in or not), or from no usable address.
func (s *Server) deviceAddr(c *fiber.Ctx) (netip.Addr, bool) {
	ip := s.clientIP(c)
	if !ip.IsValid() || ip.IsUnspecified() {
		return netip.Addr{}, false
	}
	for _, p := range s.vendors.APNetworks {
		if p.Contains(ip) {
			return netip.Addr{}, false
		}
	}
	return ip, true
}

// whereFor names where the session is for a page, or "" when the request
// may not know. A token proves that the browser holds the session, not that
// it is the device: anyone who overheard a MAC on open WiFi can sign in for
// it and follow the device's reports. So the place is shown only to a
// request from the device itself (session.Session.FromDevice: the address
// its access point reported for where it is now), and never a history.
func (s *Server) whereFor(c *fiber.Ctx, sess session.Session) string {
	ip, ok := s.deviceAddr(c)
	if !ok || !sess.FromDevice(ip) {
		return ""
	}
	return s.locationName(sess.CurrentLocation)
}

func (s *Server) setSessionCookie(c *fiber.Ctx, token string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: expires,
		Secure: s.secure(c), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

func (s *Server) clearSessionCookie(c *fiber.Ctx) {
	c.Cookie(&fiber.Cookie{
		Name: sessionCookie, Path: "/", Expires: time.Unix(0, 0),
		Secure: s.secure(c), HTTPOnly: true, SameSite: fiber.CookieSameSiteLaxMode,
	})
}

// formOwner is the client a pending form belongs to: a keyed hash of its
// address, since the CSRF storage may be the session store's Redis, whose
// files must hold no client address. The key is this process's, so with
// several gateways each bounds a client's share on its own.
func (s *Server) formOwner(c *fiber.Ctx) string {
	h := hmac.New(sha256.New, s.limitKey)
	h.Write([]byte("form-owner\x00"))
	h.Write([]byte(s.clientIP(c).String()))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// macKey is a keyed hash of a MAC for the rate limiter's memory: the MAC
// itself is never kept.
func (s *Server) macKey(m session.MAC) string {
	h := hmac.New(sha256.New, s.limitKey)
	h.Write([]byte(m.String()))
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// locate asks the Locator, if there is one, where an arrival is.
func (s *Server) locate(c *fiber.Ctx, a vendor.Arrival) (location, network string) {
	if s.deps.Locator == nil {
		return a.Location, ""
	}
	var ap string
	if a.HasAP {
		ap = a.APMAC.String()
	}
	location, network = s.deps.Locator.Locate(a.NASID, ap, a.SSID, s.clientIP(c))
	if location == "" {
		location = a.Location // the configured access point's
	}
	return location, network
}
