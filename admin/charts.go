package admin

import (
	"math"
	"strconv"

	"roamgate/history"
)

// The dashboard's charts are inline SVG drawn by the templates in
// web/charts.html. The functions here only compute geometry; every text
// reaches the page through html/template, which escapes it — no markup is
// built by hand.

// barChart is horizontal bars, one per row: the dashboard's counts by
// location, network and access point.
type barChart struct {
	Title string
	W, H  int
	Rows  []barRow
}

type barRow struct {
	Label      string
	Count      int
	LabelX, Y  int // the label ends at LabelX; texts sit on baseline Y
	BarX, BarY int
	BarW, BarH int
	ValueX     int
}

// newBarChart lays out bs, largest first as bars sorts them.
func newBarChart(title string, bs []bar) barChart {
	const w, row, labelW, barW = 460, 22, 150, 250
	max := 1
	for _, b := range bs {
		if b.Count > max {
			max = b.Count
		}
	}
	c := barChart{Title: title, W: w, H: row*len(bs) + 4, Rows: make([]barRow, len(bs))}
	for i, b := range bs {
		y := i * row
		bw := b.Count * barW / max
		c.Rows[i] = barRow{Label: b.Label, Count: b.Count, LabelX: labelW - 6, Y: y + 15,
			BarX: labelW, BarY: y + 3, BarW: bw, BarH: row - 6, ValueX: labelW + bw + 6}
	}
	return c
}

// columnChart is a time series as columns with a time label every few
// columns: sign-ins, roams and devices per hour or per day.
type columnChart struct {
	Title        string
	Total, Max   int
	W, H         int
	AxisX, AxisY int // where the maximum is written
	BaseY        int // the base line, from Left to W
	Left         int
	LabelY       int
	Cols         []column
}

type column struct {
	X, Y, W, H string // one decimal place
	Label      string // the column's time
	Count      int
	ShowLabel  bool // under the axis
}

func newColumnChart(title string, pts []history.Point, step history.Step, f func(history.Point) int) columnChart {
	const w, h, top, bottom, left = 480, 150, 18, 20, 30
	c := columnChart{Title: title, Max: 1, W: w, H: h, AxisX: left - 4, AxisY: top + 4, BaseY: h - bottom, Left: left, LabelY: h - 6}
	for _, p := range pts {
		c.Total += f(p)
		c.Max = max(c.Max, f(p))
	}
	if len(pts) == 0 {
		return c
	}
	cw := float64(w-left) / float64(len(pts))
	every, layout := 6, "15h"
	if step == history.Day {
		every, layout = 5, "2.1."
	}
	c.Cols = make([]column, len(pts))
	for i, p := range pts {
		v := f(p)
		ch := float64(v) * float64(h-top-bottom) / float64(c.Max)
		x := float64(left) + float64(i)*cw
		c.Cols[i] = column{X: num(x + 1), Y: num(float64(h-bottom) - ch), W: num(cw - 2), H: num(ch),
			Label: p.Start.Local().Format(layout), Count: v, ShowLabel: i%every == 0}
	}
	return c
}

// Place is a location with coordinates (WGS 84) for the dashboard's map.
type Place struct {
	ID       string
	Name     string
	Lat, Lon float64
}

// placeMap is the places as circles sized by their online count over a
// plain frame: no tiles, no external requests.
type placeMap struct {
	Title  string
	W, H   int
	Places []mapPlace
}

type mapPlace struct {
	Name    string
	Count   int
	X, Y, R string // one decimal place
	LabelY  string
}

// newPlaceMap lays out the places that have coordinates; (0, 0) means none.
// With no place left there is no map (ok false).
func newPlaceMap(title string, places []Place, counts map[string]int) (m placeMap, ok bool) {
	var ps []Place
	for _, p := range places {
		if (p.Lat != 0 || p.Lon != 0) && math.Abs(p.Lat) <= 90 && math.Abs(p.Lon) <= 180 {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return placeMap{}, false
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
	most := 1
	for _, p := range ps {
		most = max(most, counts[p.ID])
	}
	m = placeMap{Title: title, W: w, H: h, Places: make([]mapPlace, len(ps))}
	for i, p := range ps {
		x := offX + (p.Lon-minLon)*k*scale
		y := h - (offY + (p.Lat-minLat)*scale)
		n := counts[p.ID]
		r := 6 + 22*math.Sqrt(float64(n)/float64(most))
		m.Places[i] = mapPlace{Name: p.Name, Count: n, X: num(x), Y: num(y), R: num(r), LabelY: num(y + r + 13)}
	}
	return m, true
}

// num formats a coordinate with one decimal place.
func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }
