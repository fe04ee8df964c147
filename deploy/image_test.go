package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"roamgate/internal/redistest"
)

// TestContainerImage builds deploy/Containerfile with podman the way
// `make image` does (scripts/build-image.sh: offline, FROM scratch), checks
// what is in the image and how it is configured, and runs two gateways
// from it with deploy/compose.yaml's settings.
func TestContainerImage(t *testing.T) {
	podman := needTool(t, "podman", "podman")
	tag := fmt.Sprintf("localhost/roamgate:rgt-%d", time.Now().UnixNano())
	build := exec.Command("../scripts/build-image.sh", tag)
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build-image.sh: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(podman, "rmi", "-f", tag).Run() })

	t.Run("configuration", func(t *testing.T) {
		raw, err := exec.Command(podman, "image", "inspect", tag).Output()
		if err != nil {
			t.Fatal(err)
		}
		var images []struct {
			Config struct {
				User         string
				Entrypoint   []string
				Cmd          []string
				Env          []string
				ExposedPorts map[string]struct{}
				Volumes      map[string]struct{}
				StopSignal   string
			}
		}
		if err := json.Unmarshal(raw, &images); err != nil || len(images) != 1 {
			t.Fatalf("podman image inspect: %v\n%s", err, raw)
		}
		c := images[0].Config
		if c.User != "65532:65532" {
			t.Errorf("user %q, want 65532:65532", c.User)
		}
		if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/roamgate"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
			t.Errorf("entrypoint %q, cmd %q", c.Entrypoint, c.Cmd)
		}
		var ports []string
		for p := range c.ExposedPorts {
			ports = append(ports, p)
		}
		slices.Sort(ports)
		if want := []string{"1812/udp", "1813/udp", "5353/tcp", "5353/udp", "8080/tcp", "9080/tcp"}; !slices.Equal(ports, want) {
			t.Errorf("exposed ports %q, want %q", ports, want)
		}
		for _, v := range []string{"/var/lib/roamgate", "/var/lib/roamgate-keys"} {
			if _, ok := c.Volumes[v]; !ok {
				t.Errorf("%s is not a volume (%v)", v, c.Volumes)
			}
		}
		if !slices.Contains(c.Env, "ROAMGATE_DATA_DIR=/var/lib/roamgate") {
			t.Errorf("env %q lacks the data directory", c.Env)
		}
	})

	t.Run("contents", func(t *testing.T) {
		// create + export reads the file system without running anything.
		name := "rgt-export-" + fmt.Sprint(time.Now().UnixNano())
		if out, err := exec.Command(podman, "create", "--name", name, tag).CombinedOutput(); err != nil {
			t.Fatalf("podman create: %v\n%s", err, out)
		}
		defer exec.Command(podman, "rm", "-f", "-v", name).Run()
		var tarball bytes.Buffer
		export := exec.Command(podman, "export", name)
		export.Stdout = &tarball
		if err := export.Run(); err != nil {
			t.Fatalf("podman export: %v", err)
		}
		files := map[string]*tar.Header{}
		var binary []byte
		tr := tar.NewReader(&tarball)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := strings.Trim(h.Name, "./")
			files[name] = h
			if name == "usr/local/bin/roamgate" {
				binary, _ = io.ReadAll(tr)
			}
		}
		// Exactly these regular files: no shell, no package manager, no
		// libraries (podman adds the empty run-time mount points).
		var regular []string
		for name, h := range files {
			if h.Typeflag == tar.TypeReg {
				regular = append(regular, name)
			}
		}
		slices.Sort(regular)
		if want := []string{"etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "usr/local/bin/roamgate"}; !slices.Equal(regular, want) {
			t.Errorf("files in the image: %q, want exactly %q", regular, want)
		}
		for _, shell := range []string{"bin/sh", "bin/bash", "bin/busybox", "usr/bin/sh"} {
			if _, ok := files[shell]; ok {
				t.Errorf("the image has %s", shell)
			}
		}
		for _, dir := range []string{"var/lib/roamgate", "var/lib/roamgate-keys"} {
			if h := files[dir]; h == nil || h.Uid != 65532 || h.Gid != 65532 {
				t.Errorf("%s: %+v, want a directory owned by 65532", dir, h)
			}
		}
		f, err := elf.NewFile(bytes.NewReader(binary))
		if err != nil {
			t.Fatalf("roamgate in the image is not ELF: %v", err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("roamgate in the image is dynamically linked (it has an interpreter)")
			}
		}
	})

	t.Run("two gateways from the compose file", func(t *testing.T) {
		runTwoGateways(t, podman, tag)
	})
}

// runReason is why containers cannot start on this machine, found by
// trying: crun and runc both refuse to apply podman's default rlimits
// ("crun: setrlimit `RLIMIT_NOFILE`: Operation not permitted", even with
// --ulimit host or --ulimit nofile=N:N at the current limits, which then
// fails on RLIMIT_NPROC); with the rlimits dropped (containers.conf
// default_ulimits = []) crun stops at "cgroups in hybrid mode not
// supported", and runc (Debian runc) starts the container. So the test uses
// runc and a private containers.conf when it can, and says why it cannot
// otherwise.
func containerRuntime(t *testing.T, podman, tag string) []string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_CONF", conf)
	var args []string
	if _, err := exec.LookPath("runc"); err == nil {
		args = []string{"--runtime", "runc"}
	}
	out, err := exec.Command(podman, append(args, "run", "--rm", "--network", "none", tag, "version")...).CombinedOutput()
	if err != nil {
		t.Skipf("containers cannot start here: %v: %s (tried: default settings; --ulimit host; --ulimit nofile/nproc at the current limits; "+
			"CONTAINERS_CONF with default_ulimits = []; --cgroups=disabled; --runtime runc with and without that file — runc with it works where runc is installed)",
			err, strings.TrimSpace(string(out)))
	}
	if !strings.HasPrefix(string(out), "roamgate ") {
		t.Fatalf("roamgate version in the container printed %q", out)
	}
	return args
}

// runTwoGateways starts the key service and both gateways of compose.yaml
// from the image, with the compose file's environment and hardening
// (read-only root, no capabilities, no new privileges, tmpfs /tmp, the
// shared keys volume and a data volume each), signs in through A and asks
// B's RADIUS. Departures from the compose file, because this is a test on
// one host without a registry: the host network with loopback ports instead
// of a bridge with published ports, and a private redis-server instead of
// the redis image (which would have to be pulled).
func runTwoGateways(t *testing.T, podman, tag string) {
	runtime := containerRuntime(t, podman, tag)
	if _, err := exec.LookPath("radclient"); err != nil {
		needTool(t, "radclient", "freeradius-utils")
	}
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	rds := redistest.Start(t)
	id := fmt.Sprint(time.Now().UnixNano())
	podmanRun := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(podman, append(append(slices.Clone(runtime), "run"), args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("podman run %q: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	volume := func(name string) string {
		v := "rgt-" + name + "-" + id
		t.Cleanup(func() { exec.Command(podman, "volume", "rm", "-f", v).Run() })
		return v
	}
	keys := volume("keys")
	keysEnv := cf.Services["keys"].Environment["ROAMGATE_KEYS_DIR"]
	podmanRun("--rm", "--read-only", "--cap-drop", "ALL", "--network", "none",
		"-v", keys+":"+keysEnv, "-e", "ROAMGATE_KEYS_DIR="+keysEnv, tag, "keys", "init")

	type gw struct{ portal, radius string }
	start := func(name string) gw {
		t.Helper()
		s := cf.Services[name]
		env := map[string]string{}
		for k, v := range s.Environment {
			v, err := interpolate(v, map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			env[k] = v
		}
		g := gw{portal: freeAddr(t, "tcp"), radius: freeAddr(t, "udp")}
		// The host network: every listener on a free loopback port; the
		// access points are this host; Redis is the private server.
		env["ROAMGATE_PORTAL_LISTEN"] = g.portal
		env["ROAMGATE_RADIUS_AUTH_LISTEN"] = g.radius
		env["ROAMGATE_RADIUS_ACCT_LISTEN"] = freeAddr(t, "udp")
		env["ROAMGATE_DNS_LISTEN"] = freeAddr(t, "udp")
		env["ROAMGATE_ADMIN_LISTEN"] = freeAddr(t, "tcp")
		env["ROAMGATE_RADIUS_CLIENTS_0_CIDR"] = "127.0.0.0/8"
		env["ROAMGATE_STORE_REDIS_ADDR"] = rds.Addr()
		env["ROAMGATE_STORE_REDIS_PASSWORD"] = ""
		args := []string{"-d", "--name", "rgt-" + name + "-" + id, "--network", "host",
			"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp",
			"-v", keys + ":" + env["ROAMGATE_KEYS_DIR"], "-v", volume(name) + ":" + env["ROAMGATE_DATA_DIR"]}
		for k, v := range env {
			args = append(args, "-e", k+"="+v)
		}
		ctr := podmanRun(append(args, tag)...)
		t.Cleanup(func() {
			if t.Failed() {
				logs, _ := exec.Command(podman, "logs", ctr).CombinedOutput()
				t.Logf("%s's log:\n%s", name, logs)
			}
			exec.Command(podman, "rm", "-f", "-v", "-t", "5", ctr).Run()
		})
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + g.portal + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return g
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer on %s within 30s", name, g.portal)
			}
			time.Sleep(50 * time.Millisecond) // poll interval, bounded by the deadline
		}
	}
	a, b := start("gateway-a"), start("gateway-b")

	const mac = "da:a1:19:00:0c:01"
	if status := containerSignIn(t, a.portal, mac); status != http.StatusSeeOther {
		t.Fatalf("sign-in at gateway-a: status %d, want 303", status)
	}
	secret := cf.Services["gateway-a"].Environment["ROAMGATE_RADIUS_CLIENTS_0_SECRET"]
	secret, _ = interpolate(secret, map[string]string{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		cmd := exec.Command("radclient", "-x", "-r", "1", "-t", "1", b.radius, "auth", secret)
		cmd.Stdin = strings.NewReader(fmt.Sprintf("User-Name = %q\nCalling-Station-Id = %q\nNAS-Identifier = \"bahnhof-ap-1\"\nMessage-Authenticator = 0x00\n", mac, mac))
		out, _ := cmd.CombinedOutput()
		if strings.Contains(string(out), "Received Access-Accept") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway-b's RADIUS does not accept the sign-in made at gateway-a:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// freeAddr is a loopback address with a port nobody uses now.
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// containerSignIn is a browser's sign-in: the splash, then its form.
func containerSignIn(t *testing.T, portal, mac string) int {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_mac": {mac}, "nas_id": {"bahnhof-ap-1"}, "ssid": {"WiFi4EU"}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+portal+"/?"+q.Encode(), nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("splash without _csrf (status %d)", resp.StatusCode)
	}
	form := url.Values{"_csrf": {string(m[1])}, "terms": {"1"}, "accept": {"1"}, "client_mac": {mac}, "nas_id": {"bahnhof-ap-1"}, "ssid": {"WiFi4EU"}}
	post, err := client.PostForm("http://"+portal+"/connect", form)
	if err != nil {
		t.Fatal(err)
	}
	post.Body.Close()
	return post.StatusCode
}
