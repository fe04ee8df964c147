// Package deploy holds no code, only the tests that keep the deployment
// material in this directory true: the systemd unit passes systemd-analyze,
// the compose file describes two gateways on one Redis with the key material
// shared, every access-point recipe names its product version and carries
// config snippets roamgate accepts, and docs/OPERATIONS.md explains every
// metric the servers register.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"roamgate/apfamily"
	"roamgate/gateway"
	"roamgate/internal/testtool"
	"roamgate/portal"
	"roamgate/radius"
)

// needTool returns the path of a command the test needs. In CI a missing
// tool is a failure, elsewhere a skip with a hint (the project's rule).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	return testtool.Need(t, name, pkg)
}

// TestSystemdUnit checks the unit's hardening and runs systemd-analyze
// verify and security on it, with ExecStart pointing at a freshly built
// roamgate (verify insists that the binary exists and is executable).
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("roamgate.service")
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(unit))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			settings[k] = append(settings[k], v)
		}
	}
	for _, tc := range []struct{ key, want string }{
		{"DynamicUser", "yes"},
		{"StateDirectory", "roamgate"},
		{"AmbientCapabilities", "CAP_NET_BIND_SERVICE"},
		{"CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"},
		{"NoNewPrivileges", "yes"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"Environment", "ROAMGATE_DATA_DIR=/var/lib/roamgate"},
		{"LoadCredential", "roamgate.yaml:/etc/roamgate/roamgate.yaml"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if got := settings[tc.key]; !slices.Equal(got, []string{tc.want}) {
				t.Errorf("%s=%q, want exactly %q", tc.key, got, tc.want)
			}
		})
	}

	t.Run("systemd-analyze", func(t *testing.T) {
		analyze := needTool(t, "systemd-analyze", "systemd")
		dir := t.TempDir()
		bin := filepath.Join(dir, "roamgate")
		build := exec.Command("go", "build", "-o", bin, "roamgate/cmd/roamgate")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		if !bytes.Contains(unit, []byte("/usr/local/bin/roamgate ")) {
			t.Fatal("ExecStart does not run /usr/local/bin/roamgate")
		}
		path := filepath.Join(dir, "roamgate.service")
		if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/roamgate "), []byte(bin+" ")), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", path).CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
		}
		// verify also lints units the host has installed; only ours counts.
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "roamgate.service") {
				t.Errorf("systemd-analyze verify: %s", line)
			}
		}
		// The hardening, scored: exposure at most 2.0 of 10 (systemd says
		// "OK" up to 4.9; the unit scored 1.7 when this was written).
		out, err = exec.Command(analyze, "security", "--offline=yes", "--threshold=20", path).CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			t.Errorf("systemd-analyze security: exposure above 2.0 (%v): %s", err, lines[len(lines)-1])
		}
	})
}

// composeFile is the part of the compose specification the tests read.
type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Entrypoint  []string          `yaml:"entrypoint"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck map[string]any `yaml:"healthcheck"`
	Profiles    []string       `yaml:"profiles"`
	ReadOnly    bool           `yaml:"read_only"`
	CapDrop     []string       `yaml:"cap_drop"`
}

// TestCompose checks compose.yaml with `docker compose config` when the
// compose plugin is there, and its structure in every case: two gateways on
// the Redis store, one Redis that fsyncs every write, the key material made
// once and shared, ports on loopback, and an environment roamgate accepts.
func TestCompose(t *testing.T) {
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("docker compose config", func(t *testing.T) {
		if exec.Command("docker", "compose", "version").Run() != nil {
			t.Skip("no docker client with the compose plugin; the structure is checked below")
		}
		out, err := exec.Command("docker", "compose", "-f", "compose.yaml", "config", "-q").CombinedOutput()
		if err != nil {
			t.Fatalf("docker compose config: %v\n%s", err, out)
		}
	})

	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	env := map[string]string{} // an operator who set nothing: every default applies
	expand := func(t *testing.T, s string) string {
		t.Helper()
		v, err := interpolate(s, env)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return v
	}

	var gateways, redises []string
	for name, s := range cf.Services {
		if s.Environment["ROAMGATE_STORE_DRIVER"] != "" {
			gateways = append(gateways, name)
		}
		if strings.Contains(s.Image, "redis") {
			redises = append(redises, name)
		}
	}
	slices.Sort(gateways)
	if len(gateways) != 2 || len(redises) != 1 {
		t.Fatalf("want two gateways and one redis, have gateways %v, redis %v", gateways, redises)
	}
	redis := cf.Services[redises[0]]

	t.Run("redis", func(t *testing.T) {
		cmd := strings.Join(redis.Command, " ")
		for _, want := range []string{"--appendonly yes", "--appendfsync always", "requirepass"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("redis command %q lacks %q", cmd, want)
			}
		}
		if len(redis.Ports) != 0 {
			t.Errorf("redis publishes %v; only the gateways should reach it", redis.Ports)
		}
		if !slices.ContainsFunc(redis.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/data") }) {
			t.Errorf("redis keeps /data in no volume: %v", redis.Volumes)
		}
		if len(redis.Healthcheck) == 0 {
			t.Error("redis has no healthcheck, so the gateways cannot wait for it")
		}
	})

	volumeAt := func(s composeService, dir string) string {
		for _, v := range s.Volumes {
			if src, dst, ok := strings.Cut(v, ":"); ok && dst == dir {
				return src
			}
		}
		return ""
	}
	var keyInit string
	for name, s := range cf.Services {
		if slices.Equal(s.Command, []string{"keys", "init"}) {
			keyInit = name
		}
	}
	if keyInit == "" {
		t.Fatal("no service runs roamgate keys init")
	}
	dataVolumes := map[string]string{}

	hostPorts := map[string]string{}
	for _, name := range gateways {
		s := cf.Services[name]
		t.Run(name, func(t *testing.T) {
			e := s.Environment
			for k, want := range map[string]string{
				"ROAMGATE_STORE_DRIVER":     "redis",
				"ROAMGATE_STORE_REDIS_ADDR": redises[0] + ":6379",
			} {
				if e[k] != want {
					t.Errorf("%s=%q, want %q", k, e[k], want)
				}
			}
			// One domain: the same site, store, secrets and clients everywhere.
			if !maps.Equal(e, cf.Services[gateways[0]].Environment) {
				t.Errorf("environment differs from %s's", gateways[0])
			}
			for _, k := range []string{"ROAMGATE_STORE_REDIS_PASSWORD", "ROAMGATE_RADIUS_CLIENTS_0_SECRET", "ROAMGATE_SITE_PORTAL_URL"} {
				if expand(t, e[k]) == "" {
					t.Errorf("%s is empty", k)
				}
			}
			if got := expand(t, e["ROAMGATE_STORE_REDIS_PASSWORD"]); got != expand(t, redis.Environment["REDIS_PASSWORD"]) {
				t.Errorf("gateway's Redis password %q is not Redis's %q", got, redis.Environment["REDIS_PASSWORD"])
			}
			keysDir := e["ROAMGATE_KEYS_DIR"]
			vol := volumeAt(s, keysDir)
			if vol == "" || vol != volumeAt(cf.Services[gateways[0]], keysDir) {
				t.Errorf("keys dir %s is not on the volume the other gateway uses (%q)", keysDir, vol)
			}
			if !slices.Contains(cf.Services[keyInit].Volumes, vol+":"+keysDir) || cf.Services[keyInit].Environment["ROAMGATE_KEYS_DIR"] != keysDir {
				t.Errorf("%s does not create the keys on %s at %s", keyInit, vol, keysDir)
			}
			data := volumeAt(s, e["ROAMGATE_DATA_DIR"])
			if data == "" || data == vol {
				t.Errorf("data dir %s: volume %q, want one of its own", e["ROAMGATE_DATA_DIR"], data)
			}
			if other, dup := dataVolumes[data]; dup {
				t.Errorf("data volume %s is also %s's", data, other)
			}
			dataVolumes[data] = name
			if c := s.DependsOn[keyInit].Condition; c != "service_completed_successfully" {
				t.Errorf("depends_on %s: %q, want service_completed_successfully", keyInit, c)
			}
			if c := s.DependsOn[redises[0]].Condition; c != "service_healthy" {
				t.Errorf("depends_on %s: %q, want service_healthy", redises[0], c)
			}
			if !s.ReadOnly || !slices.Contains(s.CapDrop, "ALL") {
				t.Errorf("read_only=%v cap_drop=%v, want a read-only root and no capabilities", s.ReadOnly, s.CapDrop)
			}
			if len(s.Ports) == 0 {
				t.Error("publishes no ports")
			}
			for _, p := range s.Ports {
				p = expand(t, p)
				parts := strings.Split(p, ":")
				if len(parts) != 3 || parts[0] != "127.0.0.1" {
					t.Errorf("port %q is not bound to the host's loopback by default", p)
					continue
				}
				if other, dup := hostPorts[parts[1]+"/"+proto(p)]; dup {
					t.Errorf("host port %s is also published by %s", parts[1], other)
				}
				hostPorts[parts[1]+"/"+proto(p)] = name
			}

			// The environment must be one roamgate accepts.
			var environ []string
			for k, v := range e {
				environ = append(environ, k+"="+expand(t, v))
			}
			if _, err := gateway.Load("", environ); err != nil {
				t.Errorf("roamgate refuses the environment: %v", err)
			}
		})
	}
}

func proto(port string) string {
	if _, p, ok := strings.Cut(port, "/"); ok {
		return p
	}
	return "tcp"
}

var varRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate expands compose variable references: $$, ${X}, $X, ${X:-d},
// ${X-d}, ${X:?msg}, ${X?msg}.
func interpolate(s string, env map[string]string) (string, error) {
	var errs []error
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := varRef.FindStringSubmatch(m)
		name, op, arg := g[1], g[2], g[3]
		if name == "" {
			name = g[4]
		}
		v, set := env[name]
		switch op {
		case ":-":
			if v == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?", "?":
			if !set || (op == ":?" && v == "") {
				errs = append(errs, fmt.Errorf("%s: %s", name, arg))
			}
		}
		return v
	})
	return out, errors.Join(errs...)
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{"SET": "x", "EMPTY": ""}
	for _, tc := range []struct{ in, want, err string }{
		{"plain", "plain", ""},
		{"$$HOME", "$HOME", ""},
		{"${SET}", "x", ""},
		{"$SET/y", "x/y", ""},
		{"${UNSET:-d}", "d", ""},
		{"${EMPTY:-d}", "d", ""},
		{"${EMPTY-d}", "", ""},
		{"${SET:-d}", "x", ""},
		{"${UNSET:?needed}", "", "UNSET: needed"},
		{"${EMPTY?needed}", "", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := interpolate(tc.in, env)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tc.want || gotErr != tc.err {
				t.Errorf("interpolate(%q) = %q, %v; want %q, %q", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// recipeConfig is what a recipe's YAML snippets may set: RADIUS clients and
// portal keys, nothing else (KnownFields catches misspelt keys).
type recipeConfig struct {
	Radius *struct {
		Clients []radius.Client `yaml:"clients"`
	} `yaml:"radius"`
	Portal *portal.Config `yaml:"portal"`
}

var (
	writtenFor = regexp.MustCompile(`(?m)^\*\*Written for:\*\* .*\d`)
	yamlBlock  = regexp.MustCompile("(?s)```yaml\n(.*?)```")
)

// TestAccessPointRecipes checks every recipe: it names the product version
// it was written for, its radius.clients snippet is one radius accepts, the
// vendor it names is an adapter the portal has, its portal snippet (if any)
// is valid, and it lists the walled garden.
func TestAccessPointRecipes(t *testing.T) {
	files, err := filepath.Glob("access-points/*.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("found %d recipes, want at least the eight of issue 7", len(files))
	}
	vendors := apfamily.All() // the one list radius and the portal share
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !writtenFor.Match(text) {
				t.Error(`no "**Written for:** <product> <version>" line`)
			}
			for _, want := range []string{"collection.wifi4eu.ec.europa.eu", "/api/captive"} {
				if !bytes.Contains(text, []byte(want)) {
					t.Errorf("the walled garden does not name %s", want)
				}
			}
			var clients []radius.Client
			var gateways []portal.OpenNDSGateway
			for i, m := range yamlBlock.FindAllSubmatch(text, -1) {
				var rc recipeConfig
				dec := yaml.NewDecoder(bytes.NewReader(m[1]))
				dec.KnownFields(true)
				if err := dec.Decode(&rc); err != nil {
					t.Errorf("yaml block %d: %v", i+1, err)
					continue
				}
				if rc.Radius != nil {
					clients = append(clients, rc.Radius.Clients...)
				}
				if rc.Portal != nil {
					if err := rc.Portal.Validate(); err != nil {
						t.Errorf("yaml block %d: %v", i+1, err)
					}
					gateways = append(gateways, rc.Portal.OpenNDS.Gateways...)
				}
			}
			for i, g := range gateways {
				if g.Location == "" {
					t.Errorf("portal.opennds.gateways[%d] names no location", i)
				}
			}
			if len(gateways) > 0 && len(clients) == 0 {
				return // openNDS gateways are no RADIUS clients
			}
			if len(clients) == 0 {
				t.Fatal("no radius.clients snippet (nor portal.opennds.gateways)")
			}
			cfg := radius.DefaultConfig()
			cfg.Clients = clients
			if err := cfg.Validate(); err != nil {
				t.Errorf("radius.clients snippet: %v", err)
			}
			for i, c := range clients {
				if c.Vendor != "" && !slices.Contains(vendors, c.Vendor) {
					t.Errorf("radius.clients[%d].vendor %q is none of %v", i, c.Vendor, vendors)
				}
				if c.Location == "" {
					t.Errorf("radius.clients[%d] names no location", i)
				}
			}
		})
	}
}

// metricLiteral and portalMetric find the metric names the servers
// register: literal names, and the portal's Namespace/Subsystem form.
var (
	metricLiteral = regexp.MustCompile(`(?:NewDesc\(|Name:\s*)"(roamgate_[a-z0-9_]+)"`)
	portalMetric  = regexp.MustCompile(`metric\("([a-z0-9_]+)"`)
)

// TestOperationsListsEveryMetric keeps docs/OPERATIONS.md's metric table
// complete: every metric the code registers must be explained there.
func TestOperationsListsEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	err = filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || d.Name() == "deploy" || d.Name() == "cmd") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range bytes.Split(src, []byte("\n")) {
			if bytes.Contains(line, []byte("Cookie")) {
				continue // cookie names share the prefix
			}
			for _, m := range metricLiteral.FindAllSubmatch(line, -1) {
				names = append(names, string(m[1]))
			}
		}
		if filepath.ToSlash(path) == "../portal/metrics.go" {
			for _, m := range portalMetric.FindAllSubmatch(src, -1) {
				names = append(names, "roamgate_portal_"+string(m[1]))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) < 10 {
		t.Fatalf("found only %d metric names in the code: %v — has the registration changed shape?", len(names), names)
	}
	for _, n := range names {
		if !bytes.Contains(doc, []byte("`"+n+"`")) {
			t.Errorf("docs/OPERATIONS.md does not explain `%s`", n)
		}
	}
}

// TestContainerfile checks the image's contract: a non-root user, no
// package manager or shell step in the runtime stage, the data directory a
// volume, and an environment roamgate accepts as it is.
func TestContainerfile(t *testing.T) {
	raw, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	// Instructions of the last stage, continuation lines joined.
	var stage []string
	text := strings.ReplaceAll(string(raw), "\\\n", " ")
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			stage = nil
		}
		stage = append(stage, line)
	}
	// FROM scratch: nothing to pull, so it builds offline (issue 14); a
	// registry image anywhere in the file would make it depend on one.
	if len(stage) == 0 || stage[0] != "FROM scratch" {
		t.Fatalf("runtime stage does not start FROM scratch: %q", stage)
	}
	if n := strings.Count(strings.ToUpper(text), "\nFROM "); n != 1 {
		t.Errorf("%d FROM lines, want the one FROM scratch", n)
	}
	instr := map[string][]string{}
	for _, line := range stage {
		op, rest, _ := strings.Cut(line, " ")
		instr[strings.ToUpper(op)] = append(instr[strings.ToUpper(op)], strings.TrimSpace(rest))
	}
	if len(instr["RUN"]) != 0 {
		t.Errorf("runtime stage runs commands: %q", instr["RUN"])
	}
	if u := instr["USER"]; len(u) != 1 || strings.HasPrefix(u[0], "0") || strings.HasPrefix(u[0], "root") {
		t.Errorf("USER %q, want one non-root user", u)
	}
	var env []string
	for _, e := range instr["ENV"] {
		env = append(env, strings.Fields(e)...)
	}
	dataDir := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "ROAMGATE_DATA_DIR="); ok {
			dataDir = v
		}
	}
	if dataDir == "" || !slices.ContainsFunc(instr["VOLUME"], func(v string) bool { return strings.Contains(v, `"`+dataDir+`"`) }) {
		t.Errorf("ROAMGATE_DATA_DIR %q is not a VOLUME (%q)", dataDir, instr["VOLUME"])
	}
	if e := instr["ENTRYPOINT"]; len(e) != 1 || !strings.Contains(e[0], "/usr/local/bin/roamgate") {
		t.Errorf("ENTRYPOINT %q does not run roamgate", e)
	}
	if _, err := gateway.Load("", env); err != nil {
		t.Errorf("roamgate refuses the image's environment %q: %v", env, err)
	}
}
