package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
)

const (
	sessionCookie = "roamgate_admin"
	loginCookie   = "roamgate_admin_login" // nonce behind the login form's CSRF value
	csrfHeader    = "X-CSRF-Token"
)

func (s *Server) setCookie(c *fiber.Ctx, name, value string, expires time.Time) {
	c.Cookie(&fiber.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires,
		HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: s.cfg.tls(),
	})
}

func (s *Server) clearCookie(c *fiber.Ctx, name string) {
	s.setCookie(c, name, "", time.Unix(1, 0))
}

func (s *Server) loginForm(c *fiber.Ctx) error {
	if cl, err := s.verify(c, c.Cookies(sessionCookie)); err == nil && cl != nil {
		return c.Redirect("/", fiber.StatusSeeOther)
	}
	return s.renderLogin(c, fiber.StatusOK, "")
}

func (s *Server) renderLogin(c *fiber.Ctx, status int, msg string) error {
	nonce := newLoginID()
	s.setCookie(c, loginCookie, nonce, s.now().Add(30*time.Minute))
	return s.render(c.Status(status), "login", s.page(c, nil, pageData{
		CSRF: s.tok.csrf("login", nonce), Message: msg,
	}))
}

// login is the form's POST: CSRF first (a forged login would sign the
// victim in as the attacker), then the rate limits, then the password.
func (s *Server) login(c *fiber.Ctx) error {
	if !s.tok.checkCSRF("login", c.Cookies(loginCookie), c.FormValue("csrf")) {
		s.m.logins.WithLabelValues("bad_request").Inc()
		s.m.refused.WithLabelValues("csrf").Inc()
		// A forged login names a user it wants the victim signed in as;
		// names that are no user are not logged (they may be passwords).
		attrs := []any{}
		if u := s.user(c.FormValue("name")); u != nil {
			attrs = append(attrs, "admin", u.Name)
		}
		s.log.Warn("admin audit: refused", append(attrs, "reason", "csrf", "method", c.Method(), "path", c.Path(), "at", s.now().UTC())...)
		return s.render(c.Status(fiber.StatusForbidden), "login", s.page(c, nil, pageData{
			Message: s.tr(c, "csrf_failed"),
		}))
	}
	u, status, msg := s.checkCredentials(c, c.FormValue("name"), c.FormValue("password"))
	if u == nil {
		return s.renderLogin(c, status, msg)
	}
	tok, exp, err := s.issue(c, u)
	if err != nil {
		return err
	}
	s.setCookie(c, sessionCookie, tok, exp)
	s.clearCookie(c, loginCookie)
	return c.Redirect("/", fiber.StatusSeeOther)
}

// apiToken gives API clients a bearer token for name and password (JSON or
// form body). It sets no cookie, so it needs no CSRF value.
func (s *Server) apiToken(c *fiber.Ctx) error {
	var in struct {
		Name     string `json:"name" form:"name"`
		Password string `json:"password" form:"password"`
	}
	if err := c.BodyParser(&in); err != nil {
		s.m.logins.WithLabelValues("bad_request").Inc()
		s.m.refused.WithLabelValues("bad_input").Inc()
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "send name and password as JSON or form fields"})
	}
	u, status, msg := s.checkCredentials(c, in.Name, in.Password)
	if u == nil {
		return c.Status(status).JSON(fiber.Map{"error": msg})
	}
	tok, exp, err := s.issue(c, u)
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"token": tok, "token_type": "Bearer", "expires_at": exp.UTC(), "role": u.role()})
}

var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("roamgate: no such user")
	return h
})

// checkCredentials applies the rate limits and checks the password. On
// failure it returns the HTTP status and a message for the admin.
func (s *Server) checkCredentials(c *fiber.Ctx, name, password string) (*User, int, string) {
	if len(name) > 128 || len(password) > 1024 {
		s.m.logins.WithLabelValues("bad_request").Inc()
		s.m.refused.WithLabelValues("bad_input").Inc()
		return nil, fiber.StatusBadRequest, s.tr(c, "bad_credentials")
	}
	addr := addrKey(s.clientAddr(c))
	pair := strings.ToLower(name) + "\x00" + addr
	if wait := max(s.pairs.Wait(pair), s.addrs.Wait(addr)); wait > 0 {
		s.m.logins.WithLabelValues("rate_limited").Inc()
		secs := int((wait + time.Second - 1) / time.Second)
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
		attrs := []any{"wait", time.Duration(secs) * time.Second, "at", s.now().UTC()}
		if u := s.user(name); u != nil { // other names may be passwords
			attrs = append([]any{"admin", u.Name}, attrs...)
		}
		s.log.Warn("admin audit: sign-in refused, too many failures", attrs...)
		return nil, fiber.StatusTooManyRequests, s.tr(c, "rate_limited", "minutes", strconv.Itoa((secs+59)/60))
	}
	user := s.user(name)
	hash := dummyHash()
	if user != nil {
		hash = user.PasswordHash
	}
	// An unknown name costs as much as a wrong password: the timing does
	// not tell which names exist.
	s.checks <- struct{}{}
	ok := checkPassword(hash, password) && user != nil
	<-s.checks
	if !ok {
		s.pairs.Add(pair)
		s.addrs.Add(addr)
		s.m.logins.WithLabelValues("bad_credentials").Inc()
		if user != nil { // an unknown name may be a mistyped password: not logged
			s.log.Warn("admin audit: sign-in failed", "admin", user.Name, "at", s.now().UTC())
		}
		return nil, fiber.StatusUnauthorized, s.tr(c, "bad_credentials")
	}
	s.pairs.Reset(pair)
	s.m.logins.WithLabelValues("ok").Inc()
	s.log.Info("admin audit: signed in", "admin", user.Name, "role", user.role(), "at", s.now().UTC())
	return user, fiber.StatusOK, ""
}

// clientAddr is the address of the client: the connection's peer, or
// behind trusted proxies the address they name in X-Forwarded-For (package
// clientaddr, which the portal shares).
func (s *Server) clientAddr(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	return s.proxies.Client(peer, c.Get(fiber.HeaderXForwardedFor))
}

// user is the configured user called name, or nil; the comparison takes
// the same time whichever user matches.
func (s *Server) user(name string) *User {
	var user *User
	for i := range s.cfg.Users {
		if subtle.ConstantTimeCompare([]byte(s.cfg.Users[i].Name), []byte(name)) == 1 {
			user = &s.cfg.Users[i]
		}
	}
	return user
}

// refuse writes the audit line of a refused action and counts it.
func (s *Server) refuse(c *fiber.Ctx, cl *claims, reason string) {
	s.m.refused.WithLabelValues(reason).Inc()
	s.log.Warn("admin audit: refused", "admin", cl.Subject, "role", cl.Role, "reason", reason,
		"method", c.Method(), "path", c.Path(), "at", s.now().UTC())
}

// issue signs a new login's token for u under u's current generation.
func (s *Server) issue(c *fiber.Ctx, u *User) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(c.UserContext(), storeTimeout)
	defer cancel()
	gen, err := s.tok.generation(ctx, u.Name)
	if err != nil {
		s.log.Error("admin: sign-in: no generation for the token", "admin", u.Name, "err", err)
		return "", time.Time{}, fiber.NewError(fiber.StatusServiceUnavailable, "the session store does not answer; try again shortly")
	}
	return s.tok.issue(u.Name, u.role(), newLoginID(), s.now(), gen)
}

// verify checks a token and that its admin is still configured; the role
// is the configured one (a demotion holds at once).
func (s *Server) verify(c *fiber.Ctx, raw string) (*claims, error) {
	if raw == "" {
		return nil, errors.New("admin: no token")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), storeTimeout)
	defer cancel()
	cl, err := s.tok.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	u := s.user(cl.Subject)
	if u == nil {
		return nil, errors.New("admin: token of an admin no longer configured")
	}
	cl.Role = u.role()
	return cl, nil
}

// storeTimeout bounds a read or write of an admin's generation.
const storeTimeout = 2 * time.Second

// logout refuses every token of the admin, on every gateway of the store
// and after restarts: a generation raised in the store.
func (s *Server) logout(c *fiber.Ctx) error {
	cl := c.Locals("claims").(*claims)
	s.clearCookie(c, sessionCookie)
	ctx, cancel := context.WithTimeout(c.UserContext(), storeTimeout)
	defer cancel()
	if err := s.tok.revoke(ctx, cl); err != nil {
		s.log.Error("admin audit: sign-out not stored", "admin", cl.Subject, "err", err, "at", s.now().UTC())
		return fiber.NewError(fiber.StatusServiceUnavailable, "the sign-out could not be stored; the session store does not answer")
	}
	s.log.Info("admin audit: signed out", "admin", cl.Subject, "at", s.now().UTC())
	return c.Redirect("/login", fiber.StatusSeeOther)
}

// requireLogin accepts a bearer token or the session cookie, renewing the
// cookie when less than renewBelow is left. Pages send an anonymous
// visitor to the login form; the API answers 401.
func (s *Server) requireLogin(api bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		via := "cookie"
		raw := c.Cookies(sessionCookie)
		h := c.Get(fiber.HeaderAuthorization)
		if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
			via, raw = "bearer", strings.TrimSpace(h[7:])
		}
		if api && len(h) > 6 && strings.EqualFold(h[:6], "Basic ") {
			return s.basic(c)
		}
		cl, err := s.verify(c, raw)
		if err != nil {
			s.m.refused.WithLabelValues("unauthenticated").Inc()
			if via == "cookie" && raw != "" {
				s.clearCookie(c, sessionCookie)
			}
			if api {
				c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="roamgate admin"`)
				return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": "authentication required: POST /api/v1/token or sign in at /login"})
			}
			return c.Redirect("/login", fiber.StatusSeeOther)
		}
		if via == "cookie" && cl.ExpiresAt.Sub(s.now()) < renewBelow {
			if tok, exp, err := s.tok.issue(cl.Subject, cl.Role, cl.ID, time.Unix(cl.AuthTime, 0), cl.Gen); err == nil && exp.After(cl.ExpiresAt.Time) {
				s.setCookie(c, sessionCookie, tok, exp)
			}
		}
		c.Locals("claims", cl)
		c.Locals("via", via)
		return c.Next()
	}
}

// basic lets scripts read the API with HTTP Basic credentials (curl -u).
// Only for reading: a browser that was once given Basic credentials sends
// them with any request, forged ones too, so changes need a bearer token
// or the cookie with its CSRF value. Good credentials are cached briefly so
// that a polling script does not pay argon2id on every request.
func (s *Server) basic(c *fiber.Ctx) error {
	name, password, ok := basicAuth(c.Get(fiber.HeaderAuthorization))
	refuse := func(status int, msg string) error {
		s.m.refused.WithLabelValues("unauthenticated").Inc()
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="roamgate admin", charset="UTF-8"`)
		return c.Status(status).JSON(fiber.Map{"error": msg})
	}
	if !ok {
		return refuse(fiber.StatusUnauthorized, "malformed Basic credentials")
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return refuse(fiber.StatusUnauthorized, "Basic credentials only read; get a bearer token from POST /api/v1/token")
	}
	key := sha256.Sum256([]byte(name + "\x00" + password))
	now := s.now()
	s.goodMu.Lock()
	cached, hit := s.good[key]
	s.goodMu.Unlock()
	u := cached.user
	if !hit || !now.Before(cached.until) {
		var status int
		var msg string
		u, status, msg = s.checkCredentials(c, name, password)
		if u == nil {
			return refuse(status, msg)
		}
		s.goodMu.Lock()
		for k, v := range s.good {
			if !now.Before(v.until) {
				delete(s.good, k)
			}
		}
		s.good[key] = goodBasic{user: u, until: now.Add(basicCache)}
		s.goodMu.Unlock()
	}
	c.Locals("claims", &claims{RegisteredClaims: jwt.RegisteredClaims{Subject: u.Name, ID: "basic"}, Role: u.role()})
	c.Locals("via", "basic")
	return c.Next()
}

// basicCache is how long good Basic credentials skip the password hash.
const basicCache = 5 * time.Minute

type goodBasic struct {
	user  *User
	until time.Time
}

// requireCSRF guards cookie-authenticated POSTs: the form field or header
// must carry the HMAC of the login ID. A bearer token is not sent by a
// browser on its own, so it needs none.
func (s *Server) requireCSRF(c *fiber.Ctx) error {
	if c.Locals("via") == "bearer" {
		return c.Next()
	}
	cl := c.Locals("claims").(*claims)
	got := c.FormValue("csrf")
	if got == "" {
		got = c.Get(csrfHeader)
	}
	if !s.tok.checkCSRF("session", cl.ID, got) {
		s.refuse(c, cl, "csrf")
		return c.Status(fiber.StatusForbidden).JSON(fiber.Map{"error": "missing or wrong CSRF token"})
	}
	return c.Next()
}

func (s *Server) requireRole(r Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if cl := c.Locals("claims").(*claims); cl.Role != r {
			s.refuse(c, cl, "forbidden")
			return c.Status(fiber.StatusForbidden).JSON(fiber.Map{"error": fmt.Sprintf("only an %s may do this", r)})
		}
		return c.Next()
	}
}
