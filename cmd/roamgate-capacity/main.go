// Command roamgate-capacity measures what many live sessions cost: it fills
// a store with N sessions through the session manager (as sign-ins would),
// then starts a fresh process that loads them the way a restarted gateway
// does, and reports the time until the index answers and the resident
// memory per session.
//
//	go run ./cmd/roamgate-capacity -n 1000000 -store sqlite
//	go run ./cmd/roamgate-capacity -n 1000000 -store redis -redis 127.0.0.1:6379
//	go run ./cmd/roamgate-capacity -n 1000000 -store redis-cluster -redis 127.0.0.1:7001,127.0.0.1:7002
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"roamgate/session"
	"roamgate/session/redis"
	"roamgate/session/sqlite"
)

func main() {
	n := flag.Int("n", 100_000, "live sessions")
	kind := flag.String("store", "sqlite", "sqlite, redis or redis-cluster")
	redisAddr := flag.String("redis", "127.0.0.1:6379", "redis address (-store redis), or comma-separated cluster nodes (-store redis-cluster)")
	dir := flag.String("dir", "", "data directory (default: a new temporary one)")
	load := flag.Bool("load", false, "load an already filled -dir and report (what a restarted gateway does)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the load to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	if *dir == "" && !*load {
		d, err := os.MkdirTemp("", "roamgate-capacity-")
		check(err)
		defer os.RemoveAll(d)
		*dir = d
	}
	if *load {
		restart(*kind, *redisAddr, *dir)
		return
	}
	fill(*kind, *redisAddr, *dir, *n)
	cmd := exec.Command(os.Args[0], "-load", "-store", *kind, "-redis", *redisAddr, "-dir", *dir)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	check(cmd.Run())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "roamgate-capacity:", err)
		os.Exit(1)
	}
}

func openStore(kind, addr, dir string) session.Store {
	ctx := context.Background()
	switch kind {
	case "sqlite":
		st, err := sqlite.Open(ctx, filepath.Join(dir, "sessions.db"))
		check(err)
		return st
	case "redis":
		st, _, err := redis.Open(ctx, redis.Options{Addr: addr})
		check(err)
		return st
	case "redis-cluster":
		st, _, err := redis.Open(ctx, redis.Options{Cluster: strings.Split(addr, ",")})
		check(err)
		return st
	}
	check(fmt.Errorf("unknown store %q", kind))
	return nil
}

func manager(st session.Store, dir string) (*session.Manager, session.LoadReport, time.Duration) {
	key, err := session.LoadOrCreateSiteKey(dir)
	check(err)
	ring, err := session.OpenKeyRing(dir, 24*time.Hour, time.Now())
	check(err)
	start := time.Now()
	m, rep, err := session.NewManager(context.Background(), session.Options{
		Store: st, Tokens: session.NewTokens(ring, "capacity", "http://portal", nil), SiteKey: key,
		Policy: session.Policy{Lifetime: 24 * time.Hour}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	check(err)
	return m, rep, time.Since(start)
}

// fill signs in n devices with MACs derived from their index, from many
// goroutines (group commit batches them).
func fill(kind, addr, dir string, n int) {
	st := openStore(kind, addr, dir)
	m, _, _ := manager(st, dir)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) * 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				_, _, err := m.Create(context.Background(), session.CreateRequest{
					MAC: mac(i), HasMAC: true, Network: "wifi4eu", Location: "bahnhof", AP: "ap-1",
				})
				check(err)
			}
		})
	}
	wg.Wait()
	fmt.Printf("filled %d sessions in %v (%.0f sign-ins/s)\n", n, time.Since(start).Round(time.Millisecond), float64(n)/time.Since(start).Seconds())
	check(m.Close())
	check(st.Close())
}

func mac(i int64) session.MAC {
	var m session.MAC
	m[0] = 0x02 // locally administered, like phones' private addresses
	for b := 5; b >= 1; b-- {
		m[b] = byte(i)
		i >>= 8
	}
	return m
}

func restart(kind, addr, dir string) {
	runtime.GC()
	debug.FreeOSMemory()
	before := rss()
	st := openStore(kind, addr, dir)
	// As roamgate serve does around gateway.New (cmd/roamgate whileLoading).
	gcPercent := debug.SetGCPercent(400)
	m, rep, took := manager(st, dir)
	debug.SetGCPercent(gcPercent)
	// The gateway answers as soon as the index is loaded; check one device.
	_, err := m.ByMAC(mac(0))
	check(err)
	runtime.GC()
	loadRSS := rss()
	// As the gateway does after loading: hand the scan's garbage back.
	debug.FreeOSMemory()
	after := rss()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	per := float64(after-before) / float64(max(rep.Loaded, 1))
	fmt.Printf("store=%s loaded=%d refused=%d restart-until-answering=%v rss-before=%dMiB rss-after-load=%dMiB rss-settled=%dMiB rss-per-session=%.0fB heap-inuse=%dMiB cores=%d\n",
		kind, rep.Loaded, rep.Rejected, took.Round(time.Millisecond), before>>20, loadRSS>>20, after>>20, per, ms.HeapInuse>>20, runtime.NumCPU())
}

// rss reads the resident set size from /proc.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	check(err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			check(err)
			return kb << 10
		}
	}
	check(fmt.Errorf("no VmRSS"))
	return 0
}
