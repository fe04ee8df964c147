// Command roamgate-soak runs a roamgate binary under a steady mixed load —
// portal sign-ins, RADIUS MAC authentication and RADIUS accounting — for a
// long time, and reports per window the latency (p50, p99) of each kind, the
// gateway's resident memory and goroutines, then compares the first window
// with the last: memory must not grow by 5 % or more, goroutines must stay
// flat. make soak runs it (SOAK_DURATION, default 10m).
//
// Everything runs on loopback; the load stops by itself.
package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"
	"layeh.com/radius/rfc2869"
)

const secret = "soak-secret-0123456789abcdef"

func main() {
	bin := flag.String("roamgate", "", "roamgate binary (default: go build ./cmd/roamgate)")
	duration := flag.Duration("duration", 10*time.Minute, "how long the load runs")
	window := flag.Duration("window", time.Minute, "reporting window")
	authRate := flag.Float64("auth-rate", 2000, "MAC-auth Access-Requests per second")
	acctRate := flag.Float64("acct-rate", 500, "Accounting-Requests (Interim-Update) per second")
	signinRate := flag.Float64("signin-rate", 5, "portal sign-ins per second (a busy town's peak; each leaves a CSRF token in memory for two hours)")
	warmup := flag.Int("warmup", -1, "windows to leave out of the start-to-end comparison while the session population reaches its steady state (-1: one session lifetime plus a sweep, plus one window)")
	devices := flag.Int("devices", 5000, "devices: signed in before the load starts, then signing in again as their sessions end")
	lifetime := flag.Duration("lifetime", 3*time.Minute, "session lifetime of the gateway under test, so sessions end and are swept during the run (steady state)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *warmup < 0 {
		*warmup = int((*lifetime+time.Minute+*window-1) / *window) + 1
	}
	if err := run(ctx, *bin, *duration, *window, *authRate, *acctRate, *signinRate, *devices, *lifetime, *warmup); err != nil {
		fmt.Fprintln(os.Stderr, "roamgate-soak:", err)
		os.Exit(1)
	}
}

// gateway is the roamgate process under test.
type gateway struct {
	cmd                       *exec.Cmd
	portal, auth, acct, admin string
}

func startGateway(bin, dir string, env ...string) (*gateway, error) {
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(), env...),
		"ROAMGATE_DATA_DIR="+dir,
		"ROAMGATE_PORTAL_LISTEN=127.0.0.1:0",
		"ROAMGATE_RADIUS_AUTH_LISTEN=127.0.0.1:0",
		"ROAMGATE_RADIUS_ACCT_LISTEN=127.0.0.1:0",
		"ROAMGATE_ADMIN_LISTEN=127.0.0.1:0",
		"ROAMGATE_DNS_LISTEN=127.0.0.1:0",
		"ROAMGATE_RADIUS_CLIENTS_0_SECRET="+secret,
	)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var banner strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		banner.WriteString(sc.Text() + "\n")
		if strings.HasPrefix(sc.Text(), "Ctrl-C stops") {
			break
		}
	}
	go io.Copy(io.Discard, out)
	find := func(re string) string {
		if m := regexp.MustCompile(re).FindStringSubmatch(banner.String()); m != nil {
			return m[1]
		}
		return ""
	}
	g := &gateway{cmd: cmd, portal: find(`portal\s+http://(\S+)/`), auth: find(`RADIUS auth\s+(\S+)/udp`),
		acct: find(`RADIUS acct\s+(\S+)/udp`), admin: find(`admin\s+http://(\S+)/`)}
	if g.portal == "" || g.auth == "" || g.acct == "" || g.admin == "" {
		cmd.Process.Kill()
		return nil, fmt.Errorf("no banner from %s:\n%s", bin, banner.String())
	}
	return g, nil
}

func run(ctx context.Context, bin string, duration, window time.Duration, authRate, acctRate, signinRate float64, devices int, lifetime time.Duration, warmup int) error {
	dir, err := os.MkdirTemp("", "roamgate-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "roamgate")
		if out, err := exec.Command("go", "build", "-o", bin, "./cmd/roamgate").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	g, err := startGateway(bin, filepath.Join(dir, "data"), "ROAMGATE_SESSION_LIFETIME="+lifetime.String())
	if err != nil {
		return err
	}
	defer func() {
		g.cmd.Process.Signal(os.Interrupt)
		g.cmd.Wait()
	}()

	fmt.Printf("signing in %d devices …\n", devices)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(devices) || ctx.Err() != nil {
					return
				}
				if signIn(g.portal, mac(i), from(int(i))) != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return fmt.Errorf("%d of %d sign-ins failed before the load", failed.Load(), devices)
	}

	fmt.Printf("load for %v: %.0f auth/s, %.0f acct/s, %.0f sign-ins/s over %d devices; window %v\n",
		duration, authRate, acctRate, signinRate, devices, window)
	fmt.Printf("%-8s %-28s %-28s %-28s %9s %10s\n", "window", "auth p50/p99 (ok/err)", "acct p50/p99 (ok/err)", "sign-in p50/p99 (ok/err)", "RSS MiB", "goroutines")
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	kinds := map[string]*stats{"auth": {}, "acct": {}, "signin": {}}
	var load sync.WaitGroup
	pace(ctx, &load, authRate, 4, func(i int64) error { return radiusAuth(g.auth, mac(i%int64(devices))) }, kinds["auth"])
	pace(ctx, &load, acctRate, 4, func(i int64) error { return radiusAcct(g.acct, mac(i%int64(devices)), i) }, kinds["acct"])
	// Sign-ins cycle through the devices: a live session is returned as it
	// is, an ended one is replaced — a steady population, as in a town.
	pace(ctx, &load, signinRate, 8, func(i int64) error {
		n := i % int64(devices)
		return signIn(g.portal, mac(n), from(int(n)))
	}, kinds["signin"])

	var rows []row
	tick := time.NewTicker(window)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tick.C:
		}
		r := row{at: time.Now(), rss: rss(g.cmd.Process.Pid), goroutines: goroutines(g.admin)}
		for _, k := range []string{"auth", "acct", "signin"} {
			r.kinds = append(r.kinds, kinds[k].take())
		}
		if done && r.kinds[0].ok+r.kinds[0].err < int(authRate*window.Seconds()/2) {
			break // a last, partial window says nothing
		}
		rows = append(rows, r)
		fmt.Println(r)
	}
	load.Wait()
	if len(rows) < warmup+2 {
		return fmt.Errorf("the run was shorter than %d windows", warmup+2)
	}
	measured := rows[warmup:]
	first, last := measured[0], measured[len(measured)-1]
	growth := 100 * (float64(last.rss) - float64(first.rss)) / float64(first.rss)
	// Goroutines come and go with the HTTP server's worker pool, so a
	// single sample says little: compare the peaks of the two halves.
	half := len(measured) / 2
	peak := func(rs []row) int {
		p := 0
		for _, r := range rs {
			p = max(p, r.goroutines)
		}
		return p
	}
	early, late := peak(measured[:half]), peak(measured[half:])
	fmt.Printf("\nafter %d warm-up window(s): RSS %.1f MiB → %.1f MiB (%+.1f %%); goroutine peak %d → %d; auth p99 %v → %v; acct p99 %v → %v; sign-in p99 %v → %v\n",
		warmup, mib(first.rss), mib(last.rss), growth, early, late,
		first.kinds[0].p99, last.kinds[0].p99, first.kinds[1].p99, last.kinds[1].p99, first.kinds[2].p99, last.kinds[2].p99)
	verdict := "PASS"
	if growth >= 5 || late > early+10 {
		verdict = "FAIL"
	}
	fmt.Printf("soak: %s (RSS growth < 5 %%, goroutines flat)\n", verdict)
	if verdict == "FAIL" {
		return fmt.Errorf("soak failed")
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

type row struct {
	at         time.Time
	rss        int64
	goroutines int
	kinds      []summary
}

func (r row) String() string {
	cell := func(s summary) string {
		return fmt.Sprintf("%v/%v (%d/%d)", s.p50.Round(10*time.Microsecond), s.p99.Round(10*time.Microsecond), s.ok, s.err)
	}
	return fmt.Sprintf("%-8s %-28s %-28s %-28s %9.1f %10d", r.at.Format("15:04:05"), cell(r.kinds[0]), cell(r.kinds[1]), cell(r.kinds[2]), mib(r.rss), r.goroutines)
}

// stats collects latencies of one kind for the current window.
type stats struct {
	mu   sync.Mutex
	lat  []time.Duration
	errs int
}

type summary struct {
	p50, p99 time.Duration
	ok, err  int
}

func (s *stats) add(d time.Duration, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.errs++
		return
	}
	s.lat = append(s.lat, d)
}

func (s *stats) take() summary {
	s.mu.Lock()
	lat, errs := s.lat, s.errs
	s.lat, s.errs = nil, 0
	s.mu.Unlock()
	slices.Sort(lat)
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return summary{p50: q(0.5), p99: q(0.99), ok: len(lat), err: errs}
}

// pace runs op at rate per second over workers goroutines until ctx ends.
func pace(ctx context.Context, wg *sync.WaitGroup, rate float64, workers int, op func(i int64) error, st *stats) {
	if rate <= 0 {
		return
	}
	var n atomic.Int64
	interval := time.Duration(float64(time.Second) * float64(workers) / rate)
	for range workers {
		wg.Go(func() {
			t := time.NewTicker(interval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				start := time.Now()
				err := op(n.Add(1))
				st.add(time.Since(start), err)
			}
		})
	}
}

func mac(i int64) string {
	return fmt.Sprintf("02:50:%02x:%02x:%02x:%02x", byte(i>>24), byte(i>>16), byte(i>>8), byte(i))
}

// from spreads browsers over loopback addresses, as phones are many clients.
func from(w int) string { return fmt.Sprintf("127.0.1.%d", 10+w%200) }

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func signIn(portal, mac, from string) error {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	c := &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_mac": {mac}, "nas_id": {"bahnhof-ap-1"}, "ssid": {"WiFi4EU"}}
	resp, err := c.Get("http://" + portal + "/?" + q.Encode())
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(body)
	if m == nil {
		return fmt.Errorf("splash: status %d without _csrf", resp.StatusCode)
	}
	q.Set("_csrf", string(m[1]))
	q.Set("terms", "1")
	q.Set("accept", "1")
	resp, err = c.PostForm("http://"+portal+"/connect", q)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("connect: status %d", resp.StatusCode)
	}
	return nil
}

// exchange sends p and waits for a reply with its identifier.
func exchange(addr string, p *layeh.Packet, signMA bool) (*layeh.Packet, error) {
	raw, err := p.Encode()
	if err != nil {
		return nil, err
	}
	if signMA {
		// Message-Authenticator (RFC 3579 §3.2): HMAC-MD5 of the packet
		// with the attribute zeroed, which Encode left it as.
		off := maOffset(raw)
		h := hmac.New(md5.New, []byte(secret))
		h.Write(raw)
		copy(raw[off:off+16], h.Sum(nil))
	}
	conn, err := net.Dial("udp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(raw); err != nil {
		return nil, err
	}
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		return nil, err
	}
	return layeh.Parse(buf[:n], []byte(secret))
}

// maOffset finds the value of the Message-Authenticator attribute.
func maOffset(b []byte) int {
	for i := 20; i+2 <= len(b); {
		t, l := b[i], int(b[i+1])
		if t == byte(rfc2869.MessageAuthenticator_Type) {
			return i + 2
		}
		if l < 2 {
			break
		}
		i += l
	}
	return -1
}

func radiusAuth(addr, mac string) error {
	p := layeh.New(layeh.CodeAccessRequest, []byte(secret))
	rfc2869.MessageAuthenticator_Set(p, make([]byte, 16))
	rfc2865.UserName_SetString(p, mac)
	rfc2865.CallingStationID_SetString(p, mac)
	rfc2865.NASIdentifier_SetString(p, "stadtpark-ap-3")
	r, err := exchange(addr, p, true)
	if err != nil {
		return err
	}
	// A device whose session just ended is rejected until it signs in
	// again: an answer either way.
	if r.Code != layeh.CodeAccessAccept && r.Code != layeh.CodeAccessReject {
		return fmt.Errorf("%v", r.Code)
	}
	return nil
}

func radiusAcct(addr, mac string, i int64) error {
	p := layeh.New(layeh.CodeAccountingRequest, []byte(secret))
	rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
	rfc2865.UserName_SetString(p, mac)
	rfc2865.CallingStationID_SetString(p, mac)
	rfc2865.NASIdentifier_SetString(p, "stadtpark-ap-3")
	rfc2866.AcctSessionID_SetString(p, "soak-"+strconv.FormatInt(i%100000, 10))
	rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(i))
	r, err := exchange(addr, p, false)
	if err != nil {
		return err
	}
	if r.Code != layeh.CodeAccountingResponse {
		return fmt.Errorf("%v", r.Code)
	}
	return nil
}

// rss is the process's resident set size.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

var goroutineSample = regexp.MustCompile(`(?m)^go_goroutines (\S+)$`)

func goroutines(admin string) int {
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := goroutineSample.FindSubmatch(body)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseFloat(string(m[1]), 64)
	return int(n)
}
