package admin

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"roamgate/history"
	"roamgate/session"
)

// unknown names sessions at an access point that no location matches.
const unknown = "unknown"

// snapshot is the live picture: counts from the session index.
type snapshot struct {
	Active     int
	ByLocation map[string]int
	ByNetwork  map[string]int
	ByAP       map[string]int
}

func (s *Server) snapshot() snapshot {
	st := s.deps.Sessions.Stats()
	byAP := s.deps.Sessions.CountByAP()
	return snapshot{
		Active:     st.Active,
		ByLocation: withZeros(st.ByLocation, s.deps.Locations),
		ByNetwork:  withZeros(st.ByNetwork, s.deps.Networks),
		ByAP:       withZeros(byAP, nil),
	}
}

// withZeros lists every configured ID; the empty ID is counted as unknown.
func withZeros(counts map[string]int, ids []string) map[string]int {
	out := make(map[string]int, len(ids)+1)
	for _, id := range ids {
		out[id] = 0
	}
	for k, n := range counts {
		if k == "" {
			k = unknown
		}
		out[k] += n
	}
	return out
}

// series is a time series of one count over a range, for the API.
type series struct {
	From   time.Time     `json:"from"`
	To     time.Time     `json:"to"`
	Step   history.Step  `json:"step"`
	Counts []seriesPoint `json:"counts"`
}

type seriesPoint struct {
	Start time.Time `json:"start"`
	Count int       `json:"count"`
}

// statsResponse is the body of GET /api/v1/stats.
type statsResponse struct {
	ActiveSessions int               `json:"active_sessions"`
	ByLocation     map[string]int    `json:"by_location"`
	ByNetwork      map[string]int    `json:"by_network"`
	ByAP           map[string]int    `json:"by_ap"`
	SignIns        map[string]series `json:"signins,omitempty"`
	Roams          map[string]series `json:"roams,omitempty"`
	Devices        map[string]series `json:"devices,omitempty"`
	GeneratedAt    time.Time         `json:"generated_at"`
}

// ranges are the default windows: the last 24 hours by hour and the last
// 30 days by day, both ending now.
func (s *Server) ranges(now time.Time) map[history.Step][2]time.Time {
	return map[history.Step][2]time.Time{
		history.Hour: {now.Add(-23 * time.Hour), now},
		history.Day:  {now.AddDate(0, 0, -29), now},
	}
}

// parseRange reads from/to (RFC 3339 or YYYY-MM-DD) and step from the query.
func parseRange(c *fiber.Ctx, defFrom, defTo time.Time) (time.Time, time.Time, error) {
	parse := func(key string, def time.Time) (time.Time, error) {
		v := c.Query(key)
		if v == "" {
			return def, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t, nil
		}
		if t, err := time.ParseInLocation(time.DateOnly, v, time.Local); err == nil {
			return t, nil
		}
		return time.Time{}, fmt.Errorf("%s: %q is not RFC 3339 or YYYY-MM-DD", key, v)
	}
	from, err := parse("from", defFrom)
	if err != nil {
		return from, from, err
	}
	to, err := parse("to", defTo)
	if err != nil {
		return from, to, err
	}
	if !from.Before(to) {
		return from, to, errors.New("from must be before to")
	}
	return from, to, nil
}

func (s *Server) apiStats(c *fiber.Ctx) error {
	now := s.now()
	snap := s.snapshot()
	resp := statsResponse{
		ActiveSessions: snap.Active, ByLocation: snap.ByLocation, ByNetwork: snap.ByNetwork, ByAP: snap.ByAP,
		GeneratedAt: now.UTC().Truncate(time.Second),
	}
	if s.deps.History != nil {
		steps := s.ranges(now)
		if st := c.Query("step"); st != "" || c.Query("from") != "" || c.Query("to") != "" {
			step := history.Step(st)
			if step == "" {
				step = history.Hour
			}
			def, ok := steps[step]
			if !ok {
				s.m.refused.WithLabelValues("bad_input").Inc()
				return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "step: use hour or day"})
			}
			from, to, err := parseRange(c, def[0], def[1])
			if err != nil {
				s.m.refused.WithLabelValues("bad_input").Inc()
				return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": err.Error()})
			}
			steps = map[history.Step][2]time.Time{step: {from, to}}
		}
		resp.SignIns, resp.Roams, resp.Devices = map[string]series{}, map[string]series{}, map[string]series{}
		for step, r := range steps {
			pts, err := s.deps.History.Series(c.UserContext(), r[0], r[1], step)
			if err != nil {
				s.m.refused.WithLabelValues("bad_input").Inc()
				return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": err.Error()})
			}
			key := "hourly"
			if step == history.Day {
				key = "daily"
			}
			resp.SignIns[key] = toSeries(pts, r, step, func(p history.Point) int { return p.SignIns })
			resp.Roams[key] = toSeries(pts, r, step, func(p history.Point) int { return p.Roams })
			resp.Devices[key] = toSeries(pts, r, step, func(p history.Point) int { return p.Devices })
		}
	}
	return c.JSON(resp)
}

func toSeries(pts []history.Point, r [2]time.Time, step history.Step, f func(history.Point) int) series {
	out := series{From: r[0].UTC(), To: r[1].UTC(), Step: step, Counts: make([]seriesPoint, len(pts))}
	for i, p := range pts {
		out.Counts[i] = seriesPoint{Start: p.Start.UTC(), Count: f(p)}
	}
	return out
}

// apiStatsCSV is the monthly report: one line per day, network, location
// and access point. Default: the last 30 days.
func (s *Server) apiStatsCSV(c *fiber.Ctx) error {
	if s.deps.History == nil {
		return c.Status(fiber.StatusServiceUnavailable).JSON(fiber.Map{"error": "no history configured"})
	}
	now := s.now()
	from, to, err := parseRange(c, now.AddDate(0, 0, -29), now)
	if err != nil {
		s.m.refused.WithLabelValues("bad_input").Inc()
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": err.Error()})
	}
	rows, err := s.deps.History.Rows(c.UserContext(), from, to)
	if err != nil {
		s.m.refused.WithLabelValues("bad_input").Inc()
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": err.Error()})
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="roamgate-%s-%s.csv"`,
		from.Format(time.DateOnly), to.Format(time.DateOnly)))
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Write([]string{"day", "network", "location", "ap", "signins", "roams", "ends"})
	for _, r := range rows {
		w.Write([]string{r.Day.Format(time.DateOnly), cell(r.Network), cell(r.Location), cell(r.AP),
			strconv.Itoa(r.SignIns), strconv.Itoa(r.Roams), strconv.Itoa(r.Ends)})
	}
	w.Flush()
	return c.SendString(b.String())
}

// cell keeps a spreadsheet from reading a value as a formula.
func cell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// sessionView is a live session as admins see it: no MAC, IP or token.
type sessionView struct {
	ID              string    `json:"id"`
	Network         string    `json:"network"`
	Location        string    `json:"location"`
	StartLocation   string    `json:"start_location"`
	AP              string    `json:"ap"`
	Started         time.Time `json:"started"`
	Expires         time.Time `json:"expires"`
	TimeLeftSeconds int64     `json:"time_left_seconds"`
	InputOctets     uint64    `json:"input_octets"`
	OutputOctets    uint64    `json:"output_octets"`
	Roams           int       `json:"roams"`
}

func (s *Server) sessionViews(location string) []sessionView {
	now := s.now()
	out := []sessionView{}
	for _, x := range s.deps.Sessions.Live() {
		loc := x.CurrentLocation
		if loc == "" {
			loc = unknown
		}
		if location != "" && location != loc {
			continue
		}
		left := x.Expires.Sub(now)
		if left < 0 {
			left = 0
		}
		out = append(out, sessionView{
			ID: x.ID, Network: x.Network, Location: loc, StartLocation: x.Location, AP: x.AP,
			Started: x.Created.UTC(), Expires: x.Expires.UTC(), TimeLeftSeconds: int64(left / time.Second),
			InputOctets: x.InputOctets, OutputOctets: x.OutputOctets, Roams: x.Roams,
		})
	}
	return out
}

// Page sizes of the session list: a town has hundreds of sessions, a city
// tens of thousands, and no one reads those on one page.
const (
	defaultLimit = 1000
	maxLimit     = 10000
	pageLimit    = 500
)

func (s *Server) apiSessions(c *fiber.Ctx) error {
	limit, err1 := queryInt(c, "limit", defaultLimit)
	offset, err2 := queryInt(c, "offset", 0)
	if err1 != nil || err2 != nil || limit < 1 || limit > maxLimit || offset < 0 {
		s.m.refused.WithLabelValues("bad_input").Inc()
		return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": fmt.Sprintf("limit: 1 to %d; offset: 0 or more", maxLimit)})
	}
	list := s.sessionViews(c.Query("location"))
	total := len(list)
	list = list[min(offset, total):min(offset+limit, total)]
	return c.JSON(fiber.Map{"count": total, "offset": offset, "limit": limit, "sessions": list})
}

// queryInt reads an integer parameter; absent means def, garbage an error
// (fiber's QueryInt would quietly take the default).
func queryInt(c *fiber.Ctx, key string, def int) (int, error) {
	v := c.Query(key)
	if v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

// revoke ends a session and writes the audit line.
func (s *Server) revoke(c *fiber.Ctx) (RevokeResult, int, error) {
	id := c.Params("id")
	cl := c.Locals("claims").(*claims)
	if !session.ValidID(id) {
		s.m.refused.WithLabelValues("bad_input").Inc()
		return RevokeResult{}, fiber.StatusNotFound, session.ErrNotFound
	}
	if s.deps.Revoker == nil {
		return RevokeResult{}, fiber.StatusServiceUnavailable, errors.New("revocation is not wired")
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 15*time.Second)
	defer cancel()
	res, err := s.deps.Revoker.Revoke(ctx, id)
	if err != nil {
		s.m.revokes.WithLabelValues("error").Inc()
		s.log.Warn("admin audit: revocation failed", "admin", cl.Subject, "session", id, "at", s.now().UTC(), "err", err)
		if errors.Is(err, session.ErrNotFound) || errors.Is(err, session.ErrRevoked) || errors.Is(err, session.ErrExpired) {
			return res, fiber.StatusNotFound, fmt.Errorf("no live session %s: %w", id, err)
		}
		return res, fiber.StatusBadGateway, err
	}
	if res.Disconnect == "" {
		res.Disconnect = DisconnectNotSent
	}
	s.m.revokes.WithLabelValues(string(res.Disconnect)).Inc()
	s.log.Info("admin audit: session revoked", "admin", cl.Subject, "session", id, "disconnect", res.Disconnect,
		"detail", res.Detail, "at", s.now().UTC())
	return res, fiber.StatusOK, nil
}

func (s *Server) apiRevoke(c *fiber.Ctx) error {
	res, status, err := s.revoke(c)
	if err != nil {
		return c.Status(status).JSON(fiber.Map{"error": err.Error()})
	}
	return c.JSON(fiber.Map{"id": c.Params("id"), "revoked": true, "disconnect": res.Disconnect, "detail": res.Detail})
}

func (s *Server) revokeForm(c *fiber.Ctx) error {
	res, _, err := s.revoke(c)
	q := "?revoked=" + c.Params("id") + "&result=" + string(res.Disconnect)
	if err != nil {
		q = "?revoked=" + c.Params("id") + "&result=error"
	}
	if loc := c.FormValue("location"); loc != "" && len(loc) < 64 {
		q += "&location=" + urlQuery(loc)
	}
	return c.Redirect("/sessions"+q, fiber.StatusSeeOther)
}

// events is the Server-Sent Events stream of the dashboard: "refresh" when
// the live counts change (checked every second) and every 30 s for the
// charts. The page then fetches its live part again.
func (s *Server) events(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "text/event-stream")
	c.Set(fiber.HeaderConnection, "keep-alive")
	last := fingerprint(s.snapshot())
	closing := s.closing
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		fmt.Fprint(w, "retry: 3000\n\n")
		if w.Flush() != nil {
			return
		}
		for n := 1; ; n++ {
			select {
			case <-closing:
				return
			case <-tick.C:
			}
			fp := fingerprint(s.snapshot())
			switch {
			case fp != last || n%30 == 0:
				last = fp
				fmt.Fprint(w, "event: refresh\ndata: {}\n\n")
			case n%15 == 0:
				fmt.Fprint(w, ": keep-alive\n\n")
			default:
				continue
			}
			if w.Flush() != nil {
				return // the browser went away
			}
		}
	})
	return nil
}

func fingerprint(s snapshot) string {
	var b strings.Builder
	fmt.Fprint(&b, s.Active)
	for _, m := range []map[string]int{s.ByLocation, s.ByNetwork, s.ByAP} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			fmt.Fprintf(&b, "|%s=%d", k, m[k])
		}
	}
	return b.String()
}
