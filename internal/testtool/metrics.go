package testtool

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Counter is the value of the counter name as g exposes it: the sum of its
// series whose labels include every given name/value pair (all series when
// none is given). A test that holds the collector itself reads it with
// prometheus/testutil.ToFloat64; this is for tests that see only what a
// server registered. It fails the test when no series matches, so a
// misspelt name or label cannot read as 0.
func Counter(t testing.TB, g prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("testtool.Counter(%s, %q): labels come in name, value pairs", name, labels)
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gathering %s: %v", name, err)
	}
	var sum float64
	found := false
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if v, ok := have[labels[i]]; !ok || v != labels[i+1] {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
			found = true
		}
	}
	if !found {
		t.Fatalf("no series %s{%s}", name, pairs(labels))
	}
	return sum
}

func pairs(labels []string) string {
	var b strings.Builder
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(labels[i] + "=" + labels[i+1])
	}
	return b.String()
}
