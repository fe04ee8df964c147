package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"roamgate/session"
)

// CrisisSwitch switches crisis mode for the whole roaming domain
// (*session.Manager implements it). While a crisis is active every device
// gets online without terms and every portal page shows the notice.
type CrisisSwitch interface {
	// Crisis is the current state (Active false after Until).
	Crisis() session.Crisis
	// SetCrisis switches on (or off); session.ErrInvalidCrisis for bad input.
	SetCrisis(ctx context.Context, c session.Crisis) (session.Crisis, error)
	// EndCrisis switches off; by names the operator.
	EndCrisis(ctx context.Context, by string) (session.Crisis, error)
}

// crisisRequest is the body of POST /api/v1/crisis.
type crisisRequest struct {
	Active  bool                 `json:"active"`
	Message map[string]string    `json:"message"`
	Links   []session.CrisisLink `json:"links"`
	// Until is RFC 3339; required when active, at most 7 days ahead.
	Until string `json:"until"`
}

// crisisView is the crisis state as the API and the dashboard show it.
type crisisView struct {
	session.Crisis
	// Sessions counts the live crisis sessions, also per location.
	Sessions           int            `json:"sessions"`
	SessionsByLocation map[string]int `json:"sessions_by_location"`
}

func (s *Server) crisisView() crisisView {
	st := s.deps.Sessions.Stats()
	v := crisisView{Sessions: st.Crisis, SessionsByLocation: withZeros(st.CrisisByLocation, s.deps.Locations)}
	if s.deps.Crisis != nil {
		v.Crisis = s.deps.Crisis.Crisis()
	}
	return v
}

// apiCrisis is GET /api/v1/crisis: the state, for any signed-in admin.
func (s *Server) apiCrisis(c *fiber.Ctx) error {
	if s.deps.Crisis == nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"error": "crisis mode is not wired"})
	}
	return c.JSON(s.crisisView())
}

// apiCrisisSet is POST /api/v1/crisis (operators): {"active": true,
// "message": {"de": …, "en": …}, "links": [{"title", "url"}], "until":
// RFC 3339}. "active": false ends the crisis like DELETE.
func (s *Server) apiCrisisSet(c *fiber.Ctx) error {
	var req crisisRequest
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.m.refused.WithLabelValues("bad_input").Inc()
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "body is not a crisis object: " + err.Error()})
	}
	cr := session.Crisis{Active: req.Active, Message: req.Message, Links: req.Links}
	if req.Active {
		cr.Message = s.withDefaultMessages(req.Message)
		until, err := time.Parse(time.RFC3339, req.Until)
		if err != nil {
			s.m.refused.WithLabelValues("bad_input").Inc()
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "until: want an RFC 3339 time such as 2026-06-01T18:00:00+02:00"})
		}
		cr.Until = until
	}
	if _, status, err := s.switchCrisis(c, cr); err != nil {
		return c.Status(status).JSON(fiber.Map{"error": err.Error()})
	}
	return c.JSON(s.crisisView())
}

// apiCrisisEnd is DELETE /api/v1/crisis (operators).
func (s *Server) apiCrisisEnd(c *fiber.Ctx) error {
	if _, status, err := s.switchCrisis(c, session.Crisis{}); err != nil {
		return c.Status(status).JSON(fiber.Map{"error": err.Error()})
	}
	return c.JSON(s.crisisView())
}

// crisisForm is POST /crisis from the dashboard (operators): action "on"
// with message_<lang>, links ("Title | URL" per line) and hours, or
// action "off".
func (s *Server) crisisForm(c *fiber.Ctx) error {
	cr := session.Crisis{}
	if c.FormValue("action") == "on" {
		cr.Active = true
		msgs := map[string]string{}
		for _, l := range s.i18n.langs {
			msgs[l] = strings.TrimSpace(c.FormValue("message_" + l))
		}
		cr.Message = s.withDefaultMessages(msgs)
		for _, line := range strings.Split(c.FormValue("links"), "\n") {
			title, u, ok := strings.Cut(line, "|")
			if strings.TrimSpace(line) == "" {
				continue
			}
			if !ok {
				title, u = line, line
			}
			cr.Links = append(cr.Links, session.CrisisLink{Title: strings.TrimSpace(title), URL: strings.TrimSpace(u)})
		}
		hours, err := strconv.Atoi(c.FormValue("hours"))
		if err != nil || hours < 1 {
			hours = 0 // Validate names the problem: until is not in the future
		}
		cr.Until = s.now().Add(time.Duration(hours) * time.Hour)
	}
	msg := "ok"
	if _, _, err := s.switchCrisis(c, cr); err != nil {
		msg = err.Error()
	}
	return c.Redirect("/?crisis="+urlQuery(msg), fiber.StatusSeeOther)
}

// crisisDefaults are the default messages by language: Deps.CrisisMessages
// over the built-in texts.
func (s *Server) crisisDefaults() map[string]string {
	out := make(map[string]string, len(s.i18n.langs))
	for _, l := range s.i18n.langs {
		out[l] = s.i18n.cats[l].T("crisis_default_message")
		if m := strings.TrimSpace(s.deps.CrisisMessages[l]); m != "" {
			out[l] = m
		}
	}
	return out
}

// withDefaultMessages gives every language without a text in m its default
// message: in an emergency nobody should have to compose text, and every
// visitor should read the notice in their language.
func (s *Server) withDefaultMessages(m map[string]string) map[string]string {
	out := s.crisisDefaults()
	for l, text := range m {
		if strings.TrimSpace(text) != "" {
			out[l] = text
		}
	}
	return out
}

// crisisField is one language's message field of the dashboard's form,
// filled with the default.
type crisisField struct{ Lang, Name, Text string }

func (s *Server) crisisFields() []crisisField {
	defaults := s.crisisDefaults()
	out := make([]crisisField, len(s.i18n.langs))
	for i, l := range s.i18n.langs {
		out[i] = crisisField{Lang: l, Name: s.i18n.cats[l].T("language_name"), Text: defaults[l]}
	}
	return out
}

// switchCrisis applies a switch and writes the audit line with the
// operator's name.
func (s *Server) switchCrisis(c *fiber.Ctx, cr session.Crisis) (session.Crisis, int, error) {
	cl := c.Locals("claims").(*claims)
	if s.deps.Crisis == nil {
		return session.Crisis{}, fiber.StatusServiceUnavailable, errors.New("crisis mode is not wired")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 10*time.Second)
	defer cancel()
	var (
		got session.Crisis
		err error
	)
	if cr.Active {
		cr.By = cl.Subject
		got, err = s.deps.Crisis.SetCrisis(ctx, cr)
	} else {
		got, err = s.deps.Crisis.EndCrisis(ctx, cl.Subject)
	}
	switch {
	case errors.Is(err, session.ErrInvalidCrisis):
		s.m.refused.WithLabelValues("bad_input").Inc()
		s.log.Warn("admin audit: crisis switch refused", "admin", cl.Subject, "err", err, "at", s.now().UTC())
		return got, fiber.StatusBadRequest, err
	case err != nil:
		s.log.Warn("admin audit: crisis switch failed", "admin", cl.Subject, "active", cr.Active, "err", err, "at", s.now().UTC())
		return got, fiber.StatusBadGateway, err
	case got.Active:
		s.log.Warn("admin audit: crisis mode on", "admin", cl.Subject, "until", got.Until, "links", len(got.Links), "at", s.now().UTC())
	default:
		s.log.Warn("admin audit: crisis mode off", "admin", cl.Subject, "at", s.now().UTC())
	}
	return got, fiber.StatusOK, nil
}
