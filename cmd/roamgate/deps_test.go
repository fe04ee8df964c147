package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// goListDeps returns the packages pkg imports, directly or not.
func goListDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestBinaryDeps guards what the one binary pulls in (model: tailscale's
// cmd/tailscaled/deps_test.go): CoreDNS's plugin-everything packages, cloud
// SDKs and kubernetes must never be linked.
func TestBinaryDeps(t *testing.T) {
	forbidden := []string{
		"github.com/coredns/coredns/core/plugin",
		// CoreDNS plugins that talk to clouds and orchestrators; dns/
		// imports its plugins one by one and none of these.
		"github.com/coredns/coredns/plugin/kubernetes",
		"github.com/coredns/coredns/plugin/k8s_external",
		"github.com/coredns/coredns/plugin/route53",
		"github.com/coredns/coredns/plugin/azure",
		"github.com/coredns/coredns/plugin/clouddns",
		"github.com/coredns/coredns/plugin/etcd",
		"github.com/coredns/coredns/plugin/nomad",
		"github.com/coredns/coredns/plugin/grpc",
		"github.com/coredns/coredns/plugin/trace",
		"go.etcd.io/",
		"github.com/hashicorp/nomad/",
		"github.com/openzipkin/",
		"github.com/DataDog/",
		"cloud.google.com/",
		"github.com/aws/",
		"github.com/Azure/",
		"k8s.io/",
		"sigs.k8s.io/",
	}
	checkOnlyImportedBy(t, "roamgate/cmd/roamgate", "github.com/coredns/coredns/coremain",
		// CoreDNS 1.15's cache and forward register their metrics through
		// plugin/metrics, which reads coremain's version string; so
		// coremain is linked, but only its init runs (it registers CoreDNS
		// flags on flag.CommandLine, which roamgate does not parse). Nothing
		// of ours may import it: roamgate starts CoreDNS with caddy.Start.
		"github.com/coredns/coredns/plugin/metrics")
	for _, dep := range goListDeps(t, "roamgate/cmd/roamgate") {
		for _, f := range forbidden {
			if dep == f || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
				t.Errorf("roamgate imports %s (forbidden: %s)", dep, f)
			}
		}
	}
}

// checkOnlyImportedBy fails if any package in pkg's dependencies other than
// those allowed imports target directly.
func checkOnlyImportedBy(t *testing.T, pkg, target string, allowed ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		for _, imp := range f[1:] {
			if imp == target && !slices.Contains(allowed, f[0]) {
				t.Errorf("%s imports %s (only %s may)", f[0], target, strings.Join(allowed, ", "))
			}
		}
	}
}

// TestImportRules checks DESIGN §2: the servers meet only in session and
// gateway, session stays free of servers and storage, assets is stdlib only.
func TestImportRules(t *testing.T) {
	servers := []string{"roamgate/portal", "roamgate/radius", "roamgate/dns", "roamgate/admin"}
	rules := []struct {
		pkg     string
		allowed []string // non-standard import prefixes allowed
	}{
		{"roamgate/session", []string{"roamgate/session", "github.com/golang-jwt/jwt/v5"}},
		{"roamgate/assets", []string{"roamgate/assets"}},
		// The one probe list: the standard library only, so that dns and
		// portal may both import it.
		{"roamgate/probe", []string{"roamgate/probe"}},
		// The one vendor list is a leaf: names only (DESIGN §2).
		{"roamgate/apfamily", []string{"roamgate/apfamily"}},
		{"roamgate/session/sqlite", []string{"roamgate/session", "modernc.org/", "github.com/golang-jwt/", "github.com/dustin/go-humanize", "github.com/google/uuid", "github.com/mattn/go-isatty", "github.com/ncruces/go-strftime", "github.com/remyoudompheng/bigfft", "golang.org/x/sys/", "golang.org/x/exp/"}},
	}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			for _, dep := range goListDeps(t, r.pkg) {
				ok := false
				for _, a := range r.allowed {
					if dep == a || strings.HasPrefix(dep, a+"/") || (strings.HasSuffix(a, "/") && strings.HasPrefix(dep, a)) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("%s imports %s, which DESIGN §2 does not allow", r.pkg, dep)
				}
			}
		})
	}
	out, err := exec.Command("go", "list", "roamgate/...").Output()
	if err != nil {
		t.Fatalf("go list roamgate/...: %v", err)
	}
	exists := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		exists[p] = true
	}
	for _, s := range servers {
		if !exists[s] {
			continue // dns arrives with its own issue
		}
		t.Run(s, func(t *testing.T) {
			for _, dep := range goListDeps(t, s) {
				for _, other := range servers {
					if other != s && (dep == other || strings.HasPrefix(dep, other+"/")) {
						t.Errorf("%s imports %s: servers meet only in session and gateway", s, dep)
					}
				}
				if strings.HasPrefix(dep, "roamgate/gateway") {
					t.Errorf("%s imports %s: gateway wires servers, not the other way round", s, dep)
				}
			}
		})
	}
}
