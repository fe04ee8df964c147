package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds roamgate once per test run, as a user would run it.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "roamgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestServeStartsAndStopsOnSIGINT(t *testing.T) {
	bin := buildBinary(t)
	dataDir := t.TempDir()
	start := time.Now()
	gw := startGatewayProc(t, bin, "ROAMGATE_DATA_DIR="+dataDir)
	t.Logf("listening after %v", time.Since(start))

	for _, u := range []string{"http://" + gw.portal + "/healthz", "http://" + gw.admin + "/healthz"} {
		resp, err := http.Get(u)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", u, err, resp)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", "http://"+gw.admin+"/api/v1/stats", nil)
	req.SetBasicAuth("admin", gw.password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var stats map[string]any
	json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if resp.StatusCode != 200 || stats["active_sessions"] != float64(0) {
		t.Fatalf("stats with the printed password: %d %v", resp.StatusCode, stats)
	}

	if err := gw.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	done := make(chan error, 1)
	go func() { done <- gw.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGINT: %v\n%s", err, gw.stderr.String())
		}
		t.Logf("stopped %v after SIGINT", time.Since(stopped))
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5s after SIGINT")
	}
	if fi, err := os.Stat(filepath.Join(dataDir, "site.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("site key: %v %v", fi, err)
	}
	if !strings.Contains(gw.stderr.String(), `level=INFO msg="sessions loaded"`) {
		t.Errorf("the default log.level (info) lacks the start line:\n%s", gw.stderr.String())
	}
}

// TestLogLevelFromEnv: ROAMGATE_LOG_LEVEL=warn silences the info lines of
// a start (issue 11 item 12).
func TestLogLevelFromEnv(t *testing.T) {
	bin := buildBinary(t)
	gw := startGatewayProc(t, bin, "ROAMGATE_DATA_DIR="+t.TempDir(), "ROAMGATE_LOG_LEVEL=warn")
	gw.stop(t)
	if log := gw.stderr.String(); strings.Contains(log, "level=INFO") {
		t.Errorf("info lines with log.level warn:\n%s", log)
	}
	out, err := runCmd(t, bin, "", "check-config", writeFile(t, "log:\n  level: loud\n"))
	if err == nil || !strings.Contains(out, `log.level: "loud" is not one of debug, info, warn, error`) {
		t.Errorf("check-config with a bad log.level: %v %s", err, out)
	}
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "roamgate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(t *testing.T, bin string, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "ROAMGATE_DATA_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSubcommands(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("radius:\n  clients:\n    - {cidr: 10.0.0.0/33, secrett: x}\n"), 0o600)

	tests := []struct {
		name    string
		args    []string
		stdin   string
		ok      bool
		pattern string
	}{
		{"example config passes", []string{"check-config", "../../deploy/roamgate.example.yaml"}, "", true, `roamgate.example.yaml: ok`},
		{"bad config names key paths", []string{"check-config", bad}, "", false, `(?s)radius.clients\[0\].secrett \(line 3\): unknown key`},
		{"missing config file", []string{"check-config", filepath.Join(dir, "nope.yaml")}, "", false, `no such file`},
		{"version", []string{"version"}, "", true, `^roamgate \S+`},
		{"hash-password", []string{"hash-password"}, "correct horse battery\n", true, `^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$\S+\$\S+\n$`},
		{"hash-password refuses short ones", []string{"hash-password"}, "short\n", false, `at least 8 characters`},
		{"unknown command", []string{"frobnicate"}, "", false, `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCmd(t, bin, tt.stdin, tt.args...)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v\n%s", err, tt.ok, out)
			}
			if !regexp.MustCompile(tt.pattern).MatchString(out) {
				t.Fatalf("output does not match %q:\n%s", tt.pattern, out)
			}
		})
	}
	t.Run("check-config reports the bad CIDR too", func(t *testing.T) {
		out, _ := runCmd(t, bin, "", "check-config", bad)
		if !strings.Contains(out, "radius.clients[0].secrett") {
			t.Fatalf("%s", out)
		}
	})
}

func TestKeysRotate(t *testing.T) {
	bin := buildBinary(t)
	dataDir := t.TempDir()
	env := append(os.Environ(), "ROAMGATE_DATA_DIR="+dataDir)
	var kids []string
	for i := 0; i < 2; i++ {
		cmd := exec.Command(bin, "keys", "rotate")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keys rotate: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`new signing key (\S+);`).FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("keys rotate printed %q", out)
		}
		kids = append(kids, m[1])
	}
	raw, err := os.ReadFile(filepath.Join(dataDir, "token-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ring struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &ring); err != nil {
		t.Fatal(err)
	}
	// The first rotate creates the ring with a key and adds one; the second adds another.
	if n := len(ring.Keys); n != 3 || ring.Keys[n-1].Kid != kids[1] || ring.Keys[n-2].Kid != kids[0] {
		t.Fatalf("ring = %+v, rotated %v", ring, kids)
	}
}

// TestKeysInit: creates the keys once, then leaves them byte for byte alone
// (compose runs it before every start of a roaming domain's gateways).
func TestKeysInit(t *testing.T) {
	bin := buildBinary(t)
	keysDir := filepath.Join(t.TempDir(), "keys")
	env := append(os.Environ(), "ROAMGATE_DATA_DIR="+t.TempDir(), "ROAMGATE_KEYS_DIR="+keysDir)
	var outs []string
	var files [][]byte
	for range 2 {
		cmd := exec.Command(bin, "keys", "init")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("keys init: %v\n%s", err, out)
		}
		outs = append(outs, string(out))
		var both []byte
		for _, name := range []string{"site.key", "token-keys.json"} {
			b, err := os.ReadFile(filepath.Join(keysDir, name))
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Stat(filepath.Join(keysDir, name))
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v", name, fi.Mode().Perm())
			}
			both = append(both, b...)
		}
		files = append(files, both)
	}
	if !bytes.Equal(files[0], files[1]) || outs[0] != outs[1] || !strings.Contains(outs[0], "keys in "+keysDir) {
		t.Fatalf("keys init is not idempotent:\n%s\n%s", outs[0], outs[1])
	}
}
