package admin

import (
	"strings"
	"testing"
)

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
			got := string(placeMap("Map", tt.places, map[string]int{"a": 3}))
			if tt.want == nil {
				if got != "" {
					t.Fatalf("map drawn: %s", got)
				}
				return
			}
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
