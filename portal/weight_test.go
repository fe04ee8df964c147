package portal

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

// pageBudget is the most the splash page may transfer, with its style sheet
// and images, compressed (issue 4: ≤ 25 KB).
const pageBudget = 25 << 10

// TestSplashWeight measures what a phone downloads for the splash page of a
// WiFi4EU network (the heaviest: logo included), gzip-compressed as the
// portal sends it.
func TestSplashWeight(t *testing.T) {
	env := newTestEnv(t, Config{})
	fetch := func(target string) (int, string) {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, body := env.do(t, req)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET %s: %d, encoding %q", target, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		return len(body), body
	}
	total, page := fetch("/" + testArrival)
	// The page's own resources, as a browser would fetch them.
	res := regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)
	_, body := env.get(t, "/"+testArrival)
	n := 0
	for _, m := range res.FindAllStringSubmatch(body, -1) {
		size, _ := fetch(htmlUnescape(m[1]))
		total += size
		n++
	}
	if n < 2 {
		t.Fatalf("found %d static resources on the splash; want the style sheet and the WiFi4EU logo", n)
	}
	t.Logf("splash page weight: %d bytes gzip (page %d bytes gzip, %d resources)", total, len(page), n)
	if total > pageBudget {
		t.Errorf("splash page weighs %d bytes, budget %d", total, pageBudget)
	}
}

func htmlUnescape(s string) string {
	return regexp.MustCompile(`&amp;`).ReplaceAllString(s, "&")
}
