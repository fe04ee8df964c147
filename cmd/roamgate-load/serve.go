package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"roamgate/gateway"
	"roamgate/radius"
	"roamgate/session"
	"roamgate/session/sqlite"
)

// serveConfig is what serve runs.
type serveConfig struct {
	sessions   int
	auth, acct string
	secret     string
	dir        string
	town       town
	procs      int
	status     string
	cpuProfile string
	memProfile string
	// trace, if set, is where the execution trace of CPU profile segment
	// traceSegment goes: what the serving goroutines wait for, which a
	// CPU profile does not show.
	trace        string
	traceSegment int
	traceFile    *os.File // while tracing
}

// serve runs roamgate as a town runs it — gateway.New and Gateway.Run with
// the production wiring: the locator of locations[].match, the session
// manager on SQLite, the history recorder of roams, the metrics — on
// loopback with -sessions live sessions created through
// session.Manager.Create (as the portal creates them), until SIGINT or
// SIGTERM. The town has -locations locations of -aps access points each
// (fleet.go); known device i signed in at access point home(i). serve prints
// "ready" on stdout once it answers, and a summary on stderr at exit.
func serve(args []string) error {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.IntVar(&c.sessions, "sessions", 100000, "live sessions to create")
	fs.StringVar(&c.auth, "auth", "127.0.0.1:18120", "auth listen address (loopback)")
	fs.StringVar(&c.acct, "acct", "127.0.0.1:18130", "accounting listen address (loopback)")
	fs.StringVar(&c.secret, "secret", "bench-secret-0123456789", "shared secret of the 127.0.0.0/8 client")
	fs.StringVar(&c.dir, "dir", "", "data directory (default: a temporary one, removed at exit); sessions already in it are kept, missing ones created")
	fs.IntVar(&c.town.locations, "locations", 50, "locations of the town")
	fs.IntVar(&c.town.aps, "aps", 8, "access points per location")
	fs.IntVar(&c.procs, "gomaxprocs", 0, "GOMAXPROCS once the sessions exist (creating them uses every core); 0 leaves it")
	fs.StringVar(&c.status, "status", "", "file to rewrite every 100 ms with the activity writes pending and done (to wait for the store to catch up)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the serving time to this file; each SIGUSR1 ends it and starts the next in FILE.1, FILE.2 …")
	fs.StringVar(&c.memProfile, "memprofile", "", "write an allocation profile of the serving time to this file at exit")
	fs.StringVar(&c.trace, "trace", "", "write an execution trace of CPU profile segment -trace-segment to this file (with -cpuprofile)")
	fs.IntVar(&c.traceSegment, "trace-segment", 4, "the CPU profile segment (FILE.N) the execution trace covers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.town.valid(); err != nil {
		return err
	}
	if c.dir == "" {
		d, err := os.MkdirTemp("", "roamgate-load-serve")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		c.dir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return runServe(ctx, c, quiet, func(g *gateway.Gateway) { fmt.Println("ready", g.Addrs().RADIUSAuth) }, os.Stderr)
}

// benchConfig is the gateway configuration of serve: the demo site's
// defaults with every listener on loopback, one RADIUS client for
// 127.0.0.0/8, one network, and the town's locations, each matching the
// NAS-Identifiers of its access points by pattern as a town configures them.
func benchConfig(c serveConfig) gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.Site.Name = "roamgate-load"
	cfg.DataDir = c.dir
	cfg.Portal.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.DNS.Listen = "127.0.0.1:0"
	cfg.RADIUS.AuthListen, cfg.RADIUS.AcctListen = c.auth, c.acct
	cfg.RADIUS.Clients = []radius.Client{{Name: "bench", CIDR: "127.0.0.0/8", Secret: c.secret}}
	// As the FreeRADIUS users file replies (users.go).
	cfg.Session.Lifetime, cfg.Session.IdleTimeout = 24*time.Hour, 12*time.Hour
	cfg.Networks = []gateway.Network{{ID: "bench", SSID: benchSSID}}
	cfg.Locations = make([]gateway.Location, c.town.locations)
	for l := range cfg.Locations {
		id := locationID(l)
		cfg.Locations[l] = gateway.Location{ID: id, Name: id, Network: "bench", Match: gateway.Match{NASID: []string{id + "-*"}}}
	}
	return cfg
}

// runServe serves until ctx is done; ready is called once the sessions
// exist and the gateway serves, and the summary goes to w at the end.
func runServe(ctx context.Context, c serveConfig, log *slog.Logger, ready func(*gateway.Gateway), w io.Writer) error {
	g, err := gateway.New(ctx, benchConfig(c), log)
	if err != nil {
		return err
	}
	mgr := g.Manager()
	var roams atomic.Uint64
	mgr.OnEvent(func(e session.Event) {
		if e.Kind == session.EventRoam {
			roams.Add(1)
		}
	})

	start := time.Now()
	created, err := createSessions(ctx, mgr, c.town, c.sessions)
	if err != nil {
		// Run closes the manager and the store; with a done context it
		// returns at once.
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		g.Run(cctx)
		return err
	}
	fmt.Fprintf(w, "created %d sessions (%d were in the store) in %v\n", created, c.sessions-created, time.Since(start).Round(time.Millisecond))
	if c.procs > 0 {
		runtime.GOMAXPROCS(c.procs)
	}
	// Creating many sessions at once leaves much garbage (tokens, SQL
	// arguments) and a heap the collector keeps resizing for the next half
	// minute; a gateway creates sessions one sign-in at a time. Collect now,
	// so that the measurement sees the steady state.
	runtime.GC()

	if c.cpuProfile != "" {
		stop, err := profileSegments(c.cpuProfile, c.traceOf)
		if err != nil {
			return err
		}
		defer stop()
	}
	if c.memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		// The profile at the start, for pprof -base: the difference is
		// what serving allocated.
		if f, err := os.Create(c.memProfile + ".base"); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
		defer func() {
			if f, err := os.Create(c.memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	sctx, stopStatus := context.WithCancel(ctx)
	defer stopStatus()
	if c.status != "" {
		go writeStatus(sctx, c.status, mgr, g.Store())
	}
	go checkpointOnSignal(sctx, mgr, w)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	served := make(chan error, 1)
	go func() { served <- g.Run(ctx) }()
	ready(g)
	err = <-served
	runtime.ReadMemStats(&after)
	st := g.RADIUS().Stats()
	mc := mgr.Counters()
	fmt.Fprintf(w, "served: received %d, accepted %d, rejected %d, resent %d, dropped %+v\n",
		st.Received, st.Accepted, st.Rejected, st.Resent, st.Dropped)
	fmt.Fprintf(w, "allocated %d B (%.0f B per datagram), %d mallocs (%.1f per datagram), %d GCs, heap in use %d MiB\n",
		after.TotalAlloc-before.TotalAlloc, float64(after.TotalAlloc-before.TotalAlloc)/float64(max(st.Received, 1)),
		after.Mallocs-before.Mallocs, float64(after.Mallocs-before.Mallocs)/float64(max(st.Received, 1)),
		after.NumGC-before.NumGC, after.HeapInuse>>20)
	fmt.Fprintf(w, "sessions: %d roams, %d activity writes to the store (%d failed, %d pending)\n",
		roams.Load(), mc.ActivityWritten, mc.ActivityFailed, mc.ActivityPending)
	if al, ok := g.Store().(interface{ ActivityLog() (int64, uint64) }); ok {
		// A fold that fails (its one-minute deadline on a busy core) is
		// done again from the start: work a run pays for that its own
		// numbers do not explain.
		unfolded, failures := al.ActivityLog()
		fmt.Fprintf(w, "store: %d touches unfolded, %d folds failed\n", unfolded, failures)
	}
	if sy, ok := g.Store().(interface{ Syncer() sqlite.SyncerStats }); ok {
		st := sy.Syncer()
		fmt.Fprintf(w, "store syncer: pid %d, running %v, %d syncs or checkpoints in roamgate's process, %d checkpoints failed, %d rounds urgent\n",
			st.PID, st.Running, st.InProcess, st.FailedCheckpoints, st.UrgentCheckpoints)
	}
	fmt.Fprintf(w, "read batches (auth): %s\n", g.RADIUS().AuthReadBatches())
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// writeStatus rewrites path with the manager's activity counters, the
// touches the store's log holds unfolded (SQLite) and the files of the
// move journal the store has not been given, and whether a checkpoint
// runs or is due, until ctx ends: "pending N unfolded U written M journal
// F due D". The bench's drain asks for a checkpoint (SIGUSR2) and waits
// for N, U, F and D to be 0, so that the store's writes of a run's moves
// are counted to that run.
func writeStatus(ctx context.Context, path string, mgr *session.Manager, store session.Store) {
	log, _ := store.(interface{ ActivityLog() (int64, uint64) })
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	tmp := path + ".tmp"
	for {
		c := mgr.Counters()
		var unfolded int64
		if log != nil {
			unfolded, _ = log.ActivityLog()
		}
		due := 0
		if c.CheckpointDue {
			due = 1
		}
		if os.WriteFile(tmp, fmt.Appendf(nil, "pending %d unfolded %d written %d journal %d due %d\n",
			c.ActivityPending, unfolded, c.ActivityWritten, c.JournalFiles, due), 0o644) == nil {
			os.Rename(tmp, path)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// createSessions signs n devices in, each at its home access point, in
// parallel so that the store can commit them in groups. Devices that
// already have a live session (a reused -dir) are skipped; it returns how
// many were created.
func createSessions(ctx context.Context, mgr *session.Manager, t town, n int) (int, error) {
	aps := make([]string, t.numAPs())
	for k := range aps {
		m, err := session.ParseMAC(apMAC(k))
		if err != nil {
			return 0, err
		}
		aps[k] = m.String()
	}
	var next, created atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				mac, err := session.ParseMAC(deviceMAC(i, true))
				if err != nil {
					errs <- err
					return
				}
				if _, err := mgr.ByMAC(mac); err == nil {
					continue
				}
				k := t.home(i)
				req := session.CreateRequest{MAC: mac, HasMAC: true, Network: "bench", Location: locationID(k / t.aps), AP: aps[k]}
				if _, _, err := mgr.Create(ctx, req); err != nil {
					errs <- fmt.Errorf("create session %d: %w", i, err)
					return
				}
				created.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	return int(created.Load()), <-errs
}

// profileSegments writes a CPU profile to path until the next SIGUSR1, then
// to path.1 until the one after, and so on, so that a harness can profile
// its load runs apart from what lies between them. stop ends the last.
// segment is told the number of each segment as it begins, -1 at the end.
func profileSegments(path string, segment func(n int)) (stop func(), err error) {
	start := func(name string) (*os.File, error) {
		f, err := os.Create(name)
		if err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
	f, err := start(path)
	if err != nil {
		return nil, err
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		for n := 1; ; n++ {
			select {
			case <-done:
				pprof.StopCPUProfile()
				f.Close()
				segment(-1)
				return
			case <-usr1:
				pprof.StopCPUProfile()
				f.Close()
				if f, err = start(fmt.Sprintf("%s.%d", path, n)); err != nil {
					fmt.Fprintln(os.Stderr, "roamgate-load serve: cpu profile:", err)
					segment(-1)
					<-done
					return
				}
				segment(n)
			}
		}
	}()
	return func() {
		signal.Stop(usr1)
		close(done)
		<-finished
	}, nil
}

// traceOf starts the execution trace when CPU profile segment n is
// c.traceSegment and stops it when another begins (n < 0: the end).
func (c *serveConfig) traceOf(n int) {
	switch {
	case c.traceFile != nil:
		trace.Stop()
		c.traceFile.Close()
		c.traceFile = nil
	case c.trace == "" || n != c.traceSegment:
	default:
		f, err := os.Create(c.trace)
		if err == nil {
			if err = trace.Start(f); err != nil {
				f.Close()
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "roamgate-load serve: trace:", err)
			return
		}
		c.traceFile = f
	}
}

// checkpointOnSignal checkpoints the move journal at each SIGUSR2, so
// that a harness can count the store's writes of a run's moves to that
// run instead of to whichever run the five-minute checkpoint falls in.
func checkpointOnSignal(ctx context.Context, mgr *session.Manager, w io.Writer) {
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	for {
		select {
		case <-ctx.Done():
			return
		case <-usr2:
			if err := mgr.Checkpoint(ctx); err != nil && ctx.Err() == nil {
				fmt.Fprintln(w, "roamgate-load serve: checkpoint:", err)
			}
		}
	}
}
