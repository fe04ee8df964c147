package admin

import (
	"bytes"
	"html/template"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"roamgate/history"
)

// renderChart executes one of web/charts.html's templates.
func renderChart(t *testing.T, name string, data any) string {
	t.Helper()
	v, err := newViews()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := v.t.ExecuteTemplate(&b, name, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestPlaceMap(t *testing.T) {
	tests := []struct {
		name   string
		places []Place
		want   []string // substrings; none means no map
	}{
		{"no places", nil, nil},
		{"no coordinates", []Place{{ID: "a", Name: "A"}}, nil},
		{"out of range", []Place{{ID: "a", Name: "A", Lat: 95, Lon: 7}}, nil},
		{"one place", []Place{{ID: "a", Name: "A", Lat: 51.3, Lon: 6.5}}, []string{"<circle", "A (3)"}},
		{"names are escaped", []Place{{ID: "a", Name: `<script>"x"`, Lat: 51.3, Lon: 6.5}, {ID: "b", Name: "B", Lat: 51.4, Lon: 6.6}},
			[]string{"&lt;script&gt;&#34;x&#34; (3)", "B (0)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := newPlaceMap("Map", tt.places, map[string]int{"a": 3})
			if tt.want == nil {
				if ok {
					t.Fatalf("map drawn: %+v", m)
				}
				return
			}
			got := renderChart(t, "place-map", m)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("map lacks %q: %s", w, got)
				}
			}
			if strings.Contains(got, "<script") || strings.Contains(got, "NaN") {
				t.Errorf("bad map: %s", got)
			}
		})
	}
}

// TestChartGeometry: the bars and columns are where and as large as their
// counts say, and an empty series is a frame without columns.
func TestChartGeometry(t *testing.T) {
	bars := renderChart(t, "bar-chart", newBarChart("By location", []bar{{"Bahnhof", 4}, {"Rathaus", 2}, {"Brückerfeld", 0}}))
	for _, want := range []string{
		`<svg class="chart" role="img" viewBox="0 0 460 70" width="460" height="70"><title>By location</title>`,
		`<text x="144" y="15" text-anchor="end" class="label">Bahnhof</text><rect x="150" y="3" width="250" height="16" class="bar"><title>Bahnhof: 4</title></rect><text x="406" y="15" class="value">4</text>`,
		`<rect x="150" y="25" width="125" height="16" class="bar"><title>Rathaus: 2</title></rect>`,
		`<rect x="150" y="47" width="0" height="16" class="bar"><title>Brückerfeld: 0</title></rect>`,
	} {
		if !strings.Contains(bars, want) {
			t.Errorf("bar chart lacks %s\n%s", want, bars)
		}
	}

	start := time.Date(2026, 12, 4, 0, 0, 0, 0, time.Local)
	pts := make([]history.Point, 24)
	for i := range pts {
		pts[i] = history.Point{Start: start.Add(time.Duration(i) * time.Hour), SignIns: i % 3}
	}
	cols := renderChart(t, "column-chart", newColumnChart("Sign-ins", pts, history.Hour, func(p history.Point) int { return p.SignIns }))
	for _, want := range []string{
		`<figcaption>Sign-ins: <strong>24</strong></figcaption>`,
		`<text x="26" y="22" text-anchor="end" class="axis">2</text><line x1="30" y1="130" x2="480" y2="130" class="base"/>`,
		`<rect x="31.0" y="130.0" width="16.8" height="0.0" class="col"><title>00h: 0</title></rect><text x="31.0" y="144" class="axis">00h</text>`,
		`<rect x="49.8" y="74.0" width="16.8" height="56.0" class="col"><title>01h: 1</title></rect>`,
		`<rect x="68.5" y="18.0" width="16.8" height="112.0" class="col"><title>02h: 2</title></rect>`,
	} {
		if !strings.Contains(cols, want) {
			t.Errorf("column chart lacks %s\n%s", want, cols)
		}
	}
	if n := strings.Count(cols, `class="axis">`); n != 1+4 {
		t.Errorf("%d axis texts, want the maximum and every sixth hour (4)", n)
	}
	empty := renderChart(t, "column-chart", newColumnChart("Roams", nil, history.Day, func(p history.Point) int { return p.Roams }))
	if strings.Contains(empty, "<rect") || !strings.Contains(empty, "Roams: <strong>0</strong>") {
		t.Errorf("empty series: %s", empty)
	}
}

// TestChartsEscapeNames: a location name with markup in it reaches the
// dashboard's chart, table and map as text, never as markup.
func TestChartsEscapeNames(t *testing.T) {
	sc := newScenario(t)
	deps := sc.deps()
	hostile := `<script>alert("x")</script><b>Bahnhof</b> & Co`
	deps.LocationNames = map[string]string{"bahnhof": hostile, "stadtpark": "Stadtpark"}
	deps.Places = []Place{{"bahnhof", hostile, 51.3236, 6.5703}, {"stadtpark", "Stadtpark", 51.3281, 6.5805}}
	s := startAdmin(t, Config{Users: testUsers(t)}, deps)
	c := newClient(t, s)
	c.login("viewer", viewerPassword)
	resp, page := c.do("GET", "/?lang=en", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dashboard: %d", resp.StatusCode)
	}
	escaped := `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;b&gt;Bahnhof&lt;/b&gt; &amp; Co`
	for _, want := range []string{
		`class="label">` + escaped + `</text><rect`,  // the bar's label
		`<title>` + escaped + `: 4</title></rect>`,   // the bar's tooltip
		`<td>` + escaped + `</td>`,                   // the table
		`<title>` + escaped + `: 4</title></circle>`, // the map's place
		`class="label">` + escaped + ` (4)</text>`,   // the map's label
	} {
		if !strings.Contains(page, want) {
			t.Errorf("dashboard lacks %s", want)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "<b>Bahnhof") {
		t.Error("the location name reached the page as markup")
	}
}

// TestNoTrustedHTML: the dashboard's data holds no template.HTML, so no
// markup is built outside html/template (issue 13 §7).
func TestNoTrustedHTML(t *testing.T) {
	html := reflect.TypeOf(template.HTML(""))
	var walk func(reflect.Type, string, map[reflect.Type]bool)
	walk = func(typ reflect.Type, path string, seen map[reflect.Type]bool) {
		if typ == html {
			t.Errorf("%s is template.HTML", path)
			return
		}
		if seen[typ] {
			return
		}
		seen[typ] = true
		switch typ.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(typ.Elem(), path+"[]", seen)
		case reflect.Struct:
			for i := range typ.NumField() {
				walk(typ.Field(i).Type, path+"."+typ.Field(i).Name, seen)
			}
		}
	}
	walk(reflect.TypeOf(pageData{}), "pageData", map[reflect.Type]bool{})
}
