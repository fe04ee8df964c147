package admin

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
)

// Place is a location with coordinates (WGS 84) for the dashboard's map.
type Place struct {
	ID       string
	Name     string
	Lat, Lon float64
}

// placeMap draws the places as circles sized by their online count over a
// plain frame: no tiles, no external requests. Places without coordinates
// (0, 0) are left out; with none left there is no map.
func placeMap(title string, places []Place, counts map[string]int) template.HTML {
	var ps []Place
	for _, p := range places {
		if (p.Lat != 0 || p.Lon != 0) && math.Abs(p.Lat) <= 90 && math.Abs(p.Lon) <= 180 {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return ""
	}
	minLat, maxLat, minLon, maxLon := ps[0].Lat, ps[0].Lat, ps[0].Lon, ps[0].Lon
	for _, p := range ps {
		minLat, maxLat = math.Min(minLat, p.Lat), math.Max(maxLat, p.Lat)
		minLon, maxLon = math.Min(minLon, p.Lon), math.Max(maxLon, p.Lon)
	}
	// Equirectangular with the longitude shrunk by cos(latitude): right
	// for a town, where the earth is flat enough.
	k := math.Cos((minLat + maxLat) / 2 * math.Pi / 180)
	spanX, spanY := math.Max((maxLon-minLon)*k, 1e-4), math.Max(maxLat-minLat, 1e-4)
	const w, h, pad = 460, 300, 50
	scale := math.Min((w-2*pad)/spanX, (h-2*pad)/spanY)
	offX := (w - spanX*scale) / 2
	offY := (h - spanY*scale) / 2
	max := 1
	for _, p := range ps {
		if counts[p.ID] > max {
			max = counts[p.ID]
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart map" role="img" viewBox="0 0 %d %d" width="%d" height="%d"><title>%s</title>`, w, h, w, h, html.EscapeString(title))
	fmt.Fprintf(&b, `<rect x="4" y="4" width="%d" height="%d" rx="18" class="outline"/>`, w-8, h-8)
	for _, p := range ps {
		x := offX + (p.Lon-minLon)*k*scale
		y := h - (offY + (p.Lat-minLat)*scale)
		n := counts[p.ID]
		r := 6 + 22*math.Sqrt(float64(n)/float64(max))
		name := html.EscapeString(p.Name)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.1f" class="place"><title>%s: %d</title></circle>`, x, y, r, name, n)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" class="label">%s (%d)</text>`, x, y+r+13, name, n)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
