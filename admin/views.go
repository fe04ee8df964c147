package admin

import (
	"bytes"
	"embed"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"roamgate/history"
)

// The admin's templates and styles live here, not in assets/: assets/ is
// the citizen-facing portal's, and the admin can move there later.
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
	}).ParseFS(web, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("admin: templates: %w", err)
	}
	return &views{t: t}, nil
}

// pageData is what every page template gets.
type pageData struct {
	Lang, User, CSRF, Message, Path string
	Role                            Role
	Operator                        bool
	T                               map[string]string
	Names                           map[string]string
	Now                             time.Time

	// dashboard
	Total                                int
	ByLocation, ByNetwork, ByAP          []bar
	LocationChart, NetworkChart, APChart template.HTML
	Map                                  template.HTML
	Hourly, Daily                        []template.HTML
	HasHistory                           bool
	// Crisis is the crisis state and its sessions; CrisisWired whether
	// the switch is there; CrisisLangs the form's message languages.
	Crisis      crisisView
	CrisisWired bool
	CrisisLangs []string
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
	d.T = messages[d.Lang]
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
	d.LocationChart = barChart(d.T["by_location"], d.ByLocation)
	d.NetworkChart = barChart(d.T["by_network"], d.ByNetwork)
	d.APChart = barChart(d.T["by_ap"], d.ByAP)
	d.Map = placeMap(d.T["map"], s.deps.Places, snap.ByLocation)
	d.Crisis, d.CrisisWired, d.CrisisLangs = s.crisisView(), s.deps.Crisis != nil, crisisLangs
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
			charts := make([]template.HTML, 0, 3)
			for _, k := range []struct {
				key string
				f   func(history.Point) int
			}{
				{"signins", func(p history.Point) int { return p.SignIns }},
				{"roams", func(p history.Point) int { return p.Roams }},
				{"devices", func(p history.Point) int { return p.Devices }},
			} {
				charts = append(charts, columnChart(d.T[k.key], pts, step, k.f))
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
		if res == "error" || d.T[res] == "" {
			d.Message = fmt.Sprintf(d.T["revoke_failed"], id)
		} else {
			d.Message = fmt.Sprintf(d.T["revoked"], id, d.T[res])
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

// barChart draws horizontal bars as inline SVG; every text is escaped.
func barChart(title string, bs []bar) template.HTML {
	const w, row, labelW, barW = 460, 22, 150, 250
	max := 1
	for _, b := range bs {
		if b.Count > max {
			max = b.Count
		}
	}
	h := row*len(bs) + 4
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d"><title>%s</title>`, w, h, w, h, html.EscapeString(title))
	for i, x := range bs {
		y := i * row
		bw := x.Count * barW / max
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="label">%s</text>`, labelW-6, y+15, html.EscapeString(x.Label))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" class="bar"><title>%s: %d</title></rect>`, labelW, y+3, bw, row-6, html.EscapeString(x.Label), x.Count)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="value">%d</text>`, labelW+bw+6, y+15, x.Count)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// columnChart draws a time series as columns with a few time labels.
func columnChart(title string, pts []history.Point, step history.Step, f func(history.Point) int) template.HTML {
	const w, h, top, bottom, left = 480, 150, 18, 20, 30
	max, total := 1, 0
	for _, p := range pts {
		total += f(p)
		if f(p) > max {
			max = f(p)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<figure><figcaption>%s: <strong>%d</strong></figcaption><svg class="chart" role="img" viewBox="0 0 %d %d" width="%d" height="%d"><title>%s</title>`,
		html.EscapeString(title), total, w, h, w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" class="axis">%d</text><line x1="%d" y1="%d" x2="%d" y2="%d" class="base"/>`,
		left-4, top+4, max, left, h-bottom, w, h-bottom)
	if len(pts) > 0 {
		cw := float64(w-left) / float64(len(pts))
		every, layout := 6, "15h"
		if step == history.Day {
			every, layout = 5, "2.1."
		}
		for i, p := range pts {
			v := f(p)
			ch := float64(v) * float64(h-top-bottom) / float64(max)
			x := float64(left) + float64(i)*cw
			label := p.Start.Local().Format(layout)
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="col"><title>%s: %d</title></rect>`,
				x+1, float64(h-bottom)-ch, cw-2, ch, html.EscapeString(label), v)
			if i%every == 0 {
				fmt.Fprintf(&b, `<text x="%.1f" y="%d" class="axis">%s</text>`, x+1, h-6, html.EscapeString(label))
			}
		}
	}
	b.WriteString(`</svg></figure>`)
	return template.HTML(b.String())
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
