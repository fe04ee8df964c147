package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"roamgate/radius"
	"roamgate/session"
	"roamgate/session/sqlite"
)

// serve runs roamgate's RADIUS server on loopback with -sessions live
// sessions, created through a session.Manager on a temporary SQLite store
// (as the portal creates them), until SIGINT or SIGTERM. It prints "ready"
// on stdout once it answers.
func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	n := fs.Int("sessions", 100000, "live sessions to create")
	auth := fs.String("auth", "127.0.0.1:18120", "auth listen address (loopback)")
	acct := fs.String("acct", "127.0.0.1:18130", "accounting listen address (loopback)")
	secret := fs.String("secret", "bench-secret-0123456789", "shared secret of the 127.0.0.0/8 client")
	dir := fs.String("dir", "", "data directory (default: a temporary one, removed at exit)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the serving time to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile of the serving time to this file at exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "roamgate-load-serve")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	mgr, closeMgr, err := openManager(ctx, *dir, quiet)
	if err != nil {
		return err
	}
	defer closeMgr()
	policy := mgr.Policy()

	start := time.Now()
	if err := createSessions(ctx, mgr, *n); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created %d sessions in %v\n", *n, time.Since(start).Round(time.Millisecond))
	// Creating 100 000 sessions at once leaves ~100 MB of garbage (tokens,
	// SQL arguments) and a heap the collector keeps resizing for the next
	// half minute; a gateway creates sessions one sign-in at a time. Collect
	// now, so that the measurement sees the steady state.
	runtime.GC()

	cfg := radius.DefaultConfig()
	cfg.AuthListen, cfg.AcctListen = *auth, *acct
	cfg.Clients = []radius.Client{{Name: "bench", CIDR: "127.0.0.0/8", Secret: *secret, Location: "bench"}}
	srv, err := radius.New(cfg, radius.Deps{Sessions: mgr, IdleTimeout: policy.IdleTimeout, Logger: quiet})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 64 << 10
		// The profile at the start, for pprof -base: the difference is
		// what serving allocated.
		if f, err := os.Create(*memProfile + ".base"); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fmt.Println("ready", srv.AuthAddr())
	err = srv.Serve(ctx)
	runtime.ReadMemStats(&after)
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "served: received %d, accepted %d, rejected %d, resent %d, dropped %+v; allocated %d B (%.0f B per datagram), %d GCs\n",
		st.Received, st.Accepted, st.Rejected, st.Resent, st.Dropped, after.TotalAlloc-before.TotalAlloc,
		float64(after.TotalAlloc-before.TotalAlloc)/float64(max(st.Received, 1)), after.NumGC-before.NumGC)
	if errors.Is(err, radius.ErrServerClosed) {
		return nil // stopped by ctx: the signal
	}
	return err
}

// createSessions signs n devices in, in parallel so that the store can
// commit them in groups.
func createSessions(ctx context.Context, mgr *session.Manager, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
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
				if _, _, err := mgr.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Network: "bench", Location: "bench"}); err != nil {
					errs <- fmt.Errorf("create session %d: %w", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// openManager opens a session manager on a SQLite store in dir, as the
// gateway does.
func openManager(ctx context.Context, dir string, log *slog.Logger) (*session.Manager, func(), error) {
	policy := session.Policy{Lifetime: 24 * time.Hour, IdleTimeout: 12 * time.Hour}
	siteKey, err := session.LoadOrCreateSiteKey(dir)
	if err != nil {
		return nil, nil, err
	}
	ring, err := session.OpenKeyRing(dir, policy.MaxLifetime(), time.Now())
	if err != nil {
		return nil, nil, err
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "sessions.db"))
	if err != nil {
		return nil, nil, err
	}
	mgr, _, err := session.NewManager(ctx, session.Options{
		Store: store, Tokens: session.NewTokens(ring, "roamgate-load", "https://bench.invalid", nil),
		SiteKey: siteKey, Policy: policy, Logger: log,
	})
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return mgr, func() { mgr.Close(); store.Close() }, nil
}
