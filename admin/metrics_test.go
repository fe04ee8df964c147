package admin

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"roamgate/internal/testtool"
)

// needTool finds a command the test runs for real. In CI a missing tool is
// a failure (make tools installs it); elsewhere the test is skipped with a
// hint.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	return testtool.Need(t, name, pkg)
}

// TestMetricsPromtool serves the gateway's registry (Go and process
// collectors, the history's and the admin's own metrics) and has promtool
// check the exposition.
func TestMetricsPromtool(t *testing.T) {
	promtool := needTool(t, "promtool", "prometheus")
	sc := newScenario(t)
	deps := sc.deps()
	deps.Registerer = sc.reg
	s := startAdmin(t, Config{Users: testUsers(t)}, deps)
	c := newClient(t, s)
	c.login("viewer", "wrong")             // counted: bad_credentials
	c.do("POST", "/login", nil, nil)       // counted: csrf
	c.do("GET", "/api/v1/stats", nil, nil) // counted: unauthenticated

	resp, body := c.do("GET", "/metrics", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	for _, want := range []string{
		`roamgate_admin_logins_total{result="bad_credentials"} 1`,
		`roamgate_admin_requests_refused_total{reason="csrf"} 1`,
		`roamgate_admin_requests_refused_total{reason="unauthenticated"} 1`,
		`roamgate_history_events_total{kind="signin"} 8`,
		`roamgate_history_events_total{kind="roam"} 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out.String())
	}
}
