//go:build linux

package chillitest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Var is one HS_* variable of chilli's etc/chilli/config.
type Var struct{ Name, Value string }

// Chilli is one CoovaChilli process in an access point's namespace, with
// its own configuration directory and statedir.
type Chilli struct {
	ns      *Netns
	inst    Install
	dir     string
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	// CmdSock is its command socket (chilli_query -s).
	CmdSock string
}

// startChilli configures chilli the way its init script's start does
// (conf/chilli.in:50-66: ip_forward on, writeconfig, then chilli -c with
// etc/chilli.conf, conf/chilli.conf.in:18-23) and runs
// `chilli --conf FILE --fg --debug` in ns until the test ends. Two steps of
// the init script are left out: radiusconfig (with HS_RADCONF off it only
// compares files and may `killall -HUP chilli`, every chilli on the
// machine) and `ip address add 0.0.0.0 dev $HS_LANIF` (the LAN bridge
// has no address to keep).
//
// Every chilli gets its own copy of functions, up.sh and down.sh with the
// installation's paths rewritten into its own directory: functions puts
// the command socket, pid file and IPC file in RUN_D and its temporary
// files in /tmp/…$HS_LANIF (conf/functions.in:12, 30-34, 69, 74), up.sh
// and down.sh their iptables undo file in RUN_D and a lock in /tmp
// (conf/up.sh.in:4, 102), and chilli's redirect helpers find their chilli
// through the IPC file in the statedir (src/redir.c:1870, statedir_file in
// src/util.c:23) — shared, two chillis on one machine would answer each
// other's phones.
func startChilli(t testing.TB, inst Install, ns *Netns, vars []Var) *Chilli {
	t.Helper()
	dir, err := os.MkdirTemp("", "rgt-chilli-") // short: the command socket path must fit sun_path
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c := &Chilli{ns: ns, inst: inst, dir: dir, logPath: filepath.Join(dir, "chilli.log"), done: make(chan struct{})}
	etc := filepath.Join(dir, "etc", "chilli")
	for _, d := range []string{etc, filepath.Join(dir, "run"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(inst.Prefix, "etc", "chilli")
	rewrite := strings.NewReplacer(
		src, etc,
		filepath.Join(inst.Prefix, "var", "run"), filepath.Join(dir, "run"),
		"/tmp/hs.conf.", filepath.Join(dir, "tmp", "hs.conf."),
		"/tmp/main.conf.", filepath.Join(dir, "tmp", "main.conf."),
		"/tmp/configs1.", filepath.Join(dir, "tmp", "configs1."),
		"/tmp/configs2.", filepath.Join(dir, "tmp", "configs2."),
		"/tmp/.chilli-flock", filepath.Join(dir, "tmp", ".chilli-flock"),
	)
	for _, name := range []string{"functions", "up.sh", "down.sh", "defaults"} {
		raw, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		out := rewrite.Replace(string(raw))
		// A path into the shared installation that the copy still uses
		// would let two chillis share state: refuse rather than guess.
		for _, shared := range []string{filepath.Join(inst.Prefix, "etc"), filepath.Join(inst.Prefix, "var")} {
			if strings.Contains(out, shared) {
				t.Fatalf("chilli's %s still refers to %s after rewriting: this chilli version needs more rewriting", name, shared)
			}
		}
		if err := os.WriteFile(filepath.Join(etc, name), []byte(out), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The captive portal UI chilli serves itself (HS_UAMUIPORT, defaults):
	// shared and read-only.
	for _, name := range []string{"www", "wwwsh"} {
		if err := os.Symlink(filepath.Join(src, name), filepath.Join(etc, name)); err != nil {
			t.Fatal(err)
		}
	}
	var cfg bytes.Buffer
	cfg.WriteString("# written by roamgate's internal/chillitest\n")
	for _, v := range vars {
		fmt.Fprintf(&cfg, "%s=%s\n", v.Name, shellQuote(v.Value))
	}
	if err := os.WriteFile(filepath.Join(etc, "config"), cfg.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	ns.Run(t, "sh", "-c", ". "+filepath.Join(etc, "functions")+" && writeconfig")
	ns.Run(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	conf := filepath.Join(dir, "chilli.conf")
	// As etc/chilli.conf, plus a statedir of its own.
	confText := fmt.Sprintf("include %[1]s/main.conf\ninclude %[1]s/hs.conf\ninclude %[1]s/local.conf\nipup=%[1]s/up.sh\nipdown=%[1]s/down.sh\nstatedir %[2]s\n",
		etc, filepath.Join(dir, "run"))
	if err := os.WriteFile(conf, []byte(confText), 0o644); err != nil {
		t.Fatal(err)
	}
	lanif := lookup(vars, "HS_LANIF")
	c.CmdSock = filepath.Join(dir, "run", "chilli."+lanif+".sock") // CMDSOCK in functions
	logf, err := os.Create(c.logPath)
	if err != nil {
		t.Fatal(err)
	}
	c.cmd = ns.Command(inst.Sbin("chilli"), "--conf", conf, "--fg", "--debug")
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start chilli: %v", err)
	}
	go func() {
		c.cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	t.Cleanup(func() { c.stop(t) })

	// Ready: the command socket answers, and up.sh has run (it writes the
	// iptables undo file run/chilli.<tun>.sh as it adds its rules,
	// conf/up.sh.in:11-14).
	undo := filepath.Join(dir, "run", "chilli."+lookup(vars, "HS_TUNDEV")+".sh")
	c.waitFor(t, 20*time.Second, "chilli answers on its command socket and up.sh has run", func() bool {
		if _, err := os.Stat(undo); err != nil {
			return false
		}
		_, err := c.list()
		return err == nil
	})
	return c
}

// stop ends chilli with SIGTERM (it runs down.sh and ends its sessions),
// then SIGKILL if it lingers. On a failed test it logs chilli's last words.
func (c *Chilli) stop(t testing.TB) {
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
		t.Errorf("chilli in %s still running 5s after SIGTERM", c.ns.Name)
	}
	if t.Failed() {
		t.Logf("chilli in %s, end of its log:\n%s", c.ns.Name, c.LogTail(60))
	}
}

// waitFor polls cond until it holds, failing the test after within.
func (c *Chilli) waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		select {
		case <-c.done:
			t.Fatalf("chilli exited while waiting until %s:\n%s", what, c.LogTail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s\n%s", within, what, c.LogTail(40))
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// Session is one line of `chilli_query list`: a device chilli knows.
type Session struct {
	// MAC as chilli prints it (AA-BB-CC-DD-EE-FF).
	MAC, IP string
	// State is "dnat" (captive: redirected to the portal), "pass" (online),
	// or one of chilli's others (src/chilli.c:5283 state2name).
	State string
	// SessionID is chilli's Acct-Session-Id.
	SessionID string
	// Authenticated is chilli's own flag.
	Authenticated bool
	// User is the User-Name it authenticated with, "-" before.
	User string
}

// Sessions lists what chilli knows now.
func (c *Chilli) Sessions(t testing.TB) []Session {
	t.Helper()
	s, err := c.list()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Session returns chilli's session for mac (any notation chilli prints it
// in is compared case-insensitively, - or :), if it has one.
func (c *Chilli) Session(t testing.TB, mac string) (Session, bool) {
	t.Helper()
	want := strings.ToUpper(strings.ReplaceAll(mac, ":", "-"))
	for _, s := range c.Sessions(t) {
		if s.MAC == want {
			return s, true
		}
	}
	return Session{}, false
}

// list runs chilli_query list. Each line starts with MAC, IP and state
// (src/chilli.c:5447 chilli_print), then session ID, authenticated flag and
// user name (chilli_getinfo, src/chilli.c:5297).
func (c *Chilli) list() ([]Session, error) {
	out, err := exec.Command(c.inst.Sbin("chilli_query"), "-s", c.CmdSock, "list").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("chilli_query list: %v: %s", err, out)
	}
	var sessions []Session
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		sessions = append(sessions, Session{MAC: f[0], IP: f[1], State: f[2], SessionID: f[3], Authenticated: f[4] == "1", User: f[5]})
	}
	return sessions, nil
}

// LogTail is the end of chilli's --debug output, without its lines for
// every loop and every packet.
func (c *Chilli) LogTail(lines int) string {
	raw, _ := os.ReadFile(c.logPath)
	var keep []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l != "" && !strings.Contains(l, "net select count") && !strings.Contains(l, "Address found") {
			keep = append(keep, l)
		}
	}
	if len(keep) > lines {
		keep = keep[len(keep)-lines:]
	}
	return strings.Join(keep, "\n")
}

// Log is chilli's --debug output from offset on (0: all of it); len(Log(0))
// marks where the next part starts.
func (c *Chilli) Log(offset int) string {
	raw, _ := os.ReadFile(c.logPath)
	if offset > len(raw) {
		return ""
	}
	return string(raw[offset:])
}

func lookup(vars []Var, name string) string {
	for _, v := range vars {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// shellQuote quotes s for sh: etc/chilli/config is sourced.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
