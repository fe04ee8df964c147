package admin

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"roamgate/assets"
	"roamgate/history"
)

// The admin's templates and styles live here, apart from the portal's
// pages in assets/; its texts are in assets/i18n/admin (i18n.go).
//
//go:embed web
var web embed.FS

type views struct{ t *template.Template }

func newViews() (*views, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"bytes":    humanBytes,
		"left":     humanLeft,
		"clock":    func(t time.Time) string { return t.Local().Format("02.01. 15:04") },
		"location": func(m map[string]string, id string) string { return nameOf(m, id) },
		"sub":      func(a, b int) int { return a - b },
	}).ParseFS(web, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("admin: templates: %w", err)
	}
	return &views{t: t}, nil
}

// pageData is what every page template gets.
type pageData struct {
	Lang, Dir, User, CSRF, Message, Path string
	Role                                 Role
	Operator                             bool
	// L is the texts in the page's language; Langs the language switch.
	L     *assets.Catalog
	Langs []langLink
	Names map[string]string
	Now   time.Time

	// dashboard
	Total                                int
	ByLocation, ByNetwork, ByAP          []bar
	LocationChart, NetworkChart, APChart barChart
	Map                                  *placeMap
	Hourly, Daily                        []columnChart
	HasHistory                           bool
	// Crisis is the crisis state and its sessions; CrisisWired whether
	// the switch is there; CrisisFields the form's message per language.
	Crisis       crisisView
	CrisisWired  bool
	CrisisFields []crisisField
	// UnsignedClients are the RADIUS clients without Message-Authenticator.
	UnsignedClients []string

	// sessions
	Sessions  []sessionView
	Locations []string
	Filter    string
}

type bar struct {
	Label string
	Count int
}

func (s *Server) page(c *fiber.Ctx, cl *claims, d pageData) pageData {
	d.Lang = s.lang(c)
	d.L = s.i18n.cats[d.Lang]
	d.Dir = d.L.Dir()
	d.Langs = s.langLinks(c, d.Lang)
	d.Names = s.deps.LocationNames
	d.Now = s.now()
	d.Path = c.Path()
	if cl != nil {
		d.User, d.Role, d.Operator = cl.Subject, cl.Role, cl.Role == Operator
		d.CSRF = s.tok.csrf("session", cl.ID)
	}
	return d
}

func (s *Server) render(c *fiber.Ctx, name string, d pageData) error {
	var b bytes.Buffer
	if err := s.view.t.ExecuteTemplate(&b, name, d); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(b.Bytes())
}

func (s *Server) static(c *fiber.Ctx) error {
	name := path.Base(c.Params("name"))
	b, err := web.ReadFile("web/" + name)
	if err != nil || strings.HasSuffix(name, ".html") {
		return fiber.ErrNotFound
	}
	switch path.Ext(name) {
	case ".css":
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	case ".js":
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.Send(b)
}

func (s *Server) dashboard(c *fiber.Ctx) error {
	cl := c.Locals("claims").(*claims)
	snap := s.snapshot()
	d := s.page(c, cl, pageData{Total: snap.Active})
	d.ByLocation = bars(snap.ByLocation, 0)
	d.ByNetwork = bars(snap.ByNetwork, 0)
	d.ByAP = bars(snap.ByAP, 20)
	for i := range d.ByLocation {
		d.ByLocation[i].Label = nameOf(s.deps.LocationNames, d.ByLocation[i].Label)
	}
	d.LocationChart = newBarChart(d.L.T("by_location"), d.ByLocation)
	d.NetworkChart = newBarChart(d.L.T("by_network"), d.ByNetwork)
	d.APChart = newBarChart(d.L.T("by_ap"), d.ByAP)
	if m, ok := newPlaceMap(d.L.T("map"), s.deps.Places, snap.ByLocation); ok {
		d.Map = &m
	}
	d.Crisis, d.CrisisWired = s.crisisView(), s.deps.Crisis != nil
	if d.CrisisWired && d.Operator {
		d.CrisisFields = s.crisisFields()
	}
	d.UnsignedClients = s.deps.UnsignedClients
	if m := c.Query("crisis"); m != "" && m != "ok" && len(m) < 300 {
		d.Message = m
	}
	if s.deps.History != nil {
		d.HasHistory = true
		now := s.now()
		for step, r := range s.ranges(now) {
			pts, err := s.deps.History.Series(c.UserContext(), r[0], r[1], step)
			if err != nil {
				return err
			}
			charts := make([]columnChart, 0, 3)
			for _, k := range []struct {
				key string
				f   func(history.Point) int
			}{
				{"signins", func(p history.Point) int { return p.SignIns }},
				{"roams", func(p history.Point) int { return p.Roams }},
				{"devices", func(p history.Point) int { return p.Devices }},
			} {
				charts = append(charts, newColumnChart(d.L.T(k.key), pts, step, k.f))
			}
			if step == history.Hour {
				d.Hourly = charts
			} else {
				d.Daily = charts
			}
		}
	}
	if c.Get("X-Partial") == "1" {
		return s.render(c, "live", d)
	}
	return s.render(c, "dashboard", d)
}

func (s *Server) sessionsPage(c *fiber.Ctx) error {
	cl := c.Locals("claims").(*claims)
	filter := c.Query("location")
	list := s.sessionViews(filter)
	d := s.page(c, cl, pageData{Sessions: list[:min(len(list), pageLimit)], Total: len(list), Filter: filter})
	d.Locations = append([]string(nil), s.deps.Locations...)
	if id, res := c.Query("revoked"), c.Query("result"); id != "" && len(id) <= 64 {
		switch Disconnect(res) {
		case DisconnectACK, DisconnectNAK, DisconnectTimeout, DisconnectNotSent:
			d.Message = d.L.T("revoked", "id", id, "result", d.L.T(res))
		default:
			d.Message = d.L.T("revoke_failed", "id", id)
		}
	}
	return s.render(c, "sessions", d)
}

func nameOf(names map[string]string, id string) string {
	if n := names[id]; n != "" {
		return n
	}
	return id
}

// bars sorts counts, largest first (then by name), keeping the top n (0 =
// all).
func bars(m map[string]int, n int) []bar {
	out := make([]bar, 0, len(m))
	for k, v := range m {
		out = append(out, bar{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Label < out[j].Label
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func humanLeft(sec int64) string {
	d := time.Duration(sec) * time.Second
	if d >= time.Hour {
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d min", int(d.Minutes()))
}

func urlQuery(s string) string { return url.QueryEscape(s) }
