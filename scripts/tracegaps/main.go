// Command tracegaps reads a Go execution trace (make bench-radius
// PROFILE=… TRACE=N writes one of roamgate) and reports the gaps in the
// running of the goroutines that answer (by default RADIUS's readers and
// workers): stretches of at least -min in which none of them ran, and what
// ran on the Ps (or sat in a system call) meanwhile, by goroutine entry
// function. With GOMAXPROCS 1 a request that arrives in such a gap waits
// for it to end, so the gaps are where a p99 of tens of milliseconds
// comes from. It is a separate module, so that golang.org/x/exp stays out
// of roamgate's go.mod.
//
//	go run . -min 1ms /tmp/prof/trace.out
package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/exp/trace"
)

type stretch struct {
	from, to trace.Time
	g        trace.GoID
	kind     kind
}

type kind int

const (
	running  kind = iota
	syscall       // in a system call (its P may or may not be taken)
	runnable      // waiting for a P
)

func main() {
	shortest := flag.Duration("min", time.Millisecond, "the shortest gap counted")
	answer := flag.String("answer", `radius\.\(\*Server\)\.(reader|worker)`, "entry functions of the goroutines whose gaps count")
	longest := flag.Int("longest", 0, "list what ran in this many of the longest gaps")
	flag.DurationVar(&longSyscalls, "syscalls", 0, "also list every system call at least this long, with the stack it was made from (0: none)")
	ignore := flag.String("ignore", `pprof\.profileWriter|signal\.loop`, "entry functions of goroutines that wait in system calls without holding a P")
	flag.Parse()
	if flag.NArg() != 1 {
		log.Fatal("usage: tracegaps [-min 1ms] [-answer re] [-ignore re] trace.out")
	}
	answers, ignored := regexp.MustCompile(*answer), regexp.MustCompile(*ignore)
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	stretches, entry, first, span, err := read(f)
	if err != nil {
		log.Fatal(err)
	}
	var answering []stretch
	for _, s := range stretches {
		if answers.MatchString(entry[s.g]) && s.kind == running {
			answering = append(answering, s)
		}
	}
	if len(answering) == 0 {
		log.Fatalf("no goroutine matching %q ran in the trace", *answer)
	}
	type gapInfo struct {
		from trace.Time
		d    time.Duration
		what map[string]time.Duration
	}
	var detail []gapInfo
	blame := map[string]time.Duration{}
	var gaps []time.Duration
	var idle, waited time.Duration
	end := answering[0].to
	for _, a := range answering[1:] {
		if a.from > end && time.Duration(a.from-end) >= *shortest {
			from, to := end, a.from
			gaps = append(gaps, time.Duration(to-from))
			busy := time.Duration(0)
			gi := gapInfo{from, time.Duration(to - from), map[string]time.Duration{}}
			var occupied, ready []stretch // in this gap: P work, answerers waiting for one
			for _, s := range stretches {
				if s.from >= to {
					break
				}
				if s.to <= from || ignored.MatchString(entry[s.g]) {
					continue
				}
				if s.kind == runnable {
					if answers.MatchString(entry[s.g]) {
						ready = append(ready, s)
					}
					continue
				}
				occupied = append(occupied, s)
				d := time.Duration(min(s.to, to) - max(s.from, from))
				k := cmp.Or(entry[s.g], "(a goroutine that never blocked in the trace)")
				if s.kind == syscall {
					k += " [in a system call]"
				}
				blame[k] += d
				gi.what[k] += d
				busy += d
			}
			idle += max(time.Duration(to-from)-busy, 0)
			waited += unattended(from, to, occupied, ready)
			detail = append(detail, gi)
		}
		end = max(end, a.to)
	}
	slices.SortFunc(gaps, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	var total time.Duration
	for _, g := range gaps {
		total += g
	}
	fmt.Printf("trace of %v: %d gaps of at least %v, %v in all; the longest %v\n",
		span.Round(time.Millisecond), len(gaps), *shortest, total.Round(time.Millisecond), gaps[:min(5, len(gaps))])
	keys := make([]string, 0, len(blame))
	for k := range blame {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return cmp.Compare(blame[b], blame[a]) })
	fmt.Println("what ran in them:")
	for _, k := range keys {
		if blame[k] >= time.Millisecond {
			fmt.Printf("  %-75s %v\n", k, blame[k].Round(time.Millisecond))
		}
	}
	fmt.Printf("  %-75s %v\n", "(no goroutine ran: nothing to answer, or the thread off the CPU)", idle.Round(time.Millisecond))
	fmt.Printf("  %-75s %v\n", "  of it, an answering goroutine runnable (no P for it)", waited.Round(time.Millisecond))
	if *longest > 0 {
		slices.SortFunc(detail, func(a, b gapInfo) int { return cmp.Compare(b.d, a.d) })
		for _, g := range detail[:min(*longest, len(detail))] {
			fmt.Printf("gap of %v at %v:", g.d.Round(time.Microsecond), time.Duration(g.from-first).Round(time.Millisecond))
			for k, d := range g.what {
				fmt.Printf(" %s %v;", k, d.Round(time.Microsecond))
			}
			fmt.Println()
		}
	}
}

// read returns every stretch a goroutine ran or sat in a system call, in
// order of start, each goroutine's entry function (the outermost frame of
// a stack it blocked with), and when the trace begins and how long it is.
func read(r io.Reader) ([]stretch, map[trace.GoID]string, trace.Time, time.Duration, error) {
	tr, err := trace.NewReader(r)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	var stretches []stretch
	entry := map[trace.GoID]string{}
	onP := map[trace.GoID]trace.Time{}
	inSyscall := map[trace.GoID]trace.Time{}
	waiting := map[trace.GoID]trace.Time{}
	syscallStack := map[trace.GoID]string{}
	var first, last trace.Time
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, 0, 0, err
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		if ev.Kind() != trace.EventStateTransition {
			continue
		}
		st := ev.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			continue
		}
		g := st.Resource.Goroutine()
		from, to := st.Goroutine()
		if from == trace.GoRunning && entry[g] == "" {
			for frame := range ev.Stack().Frames() {
				entry[g] = frame.Func // the last is the outermost
			}
		}
		if t, ok := onP[g]; ok && from == trace.GoRunning {
			stretches = append(stretches, stretch{t, ev.Time(), g, running})
			delete(onP, g)
		}
		if t, ok := inSyscall[g]; ok && from == trace.GoSyscall {
			stretches = append(stretches, stretch{t, ev.Time(), g, syscall})
			delete(inSyscall, g)
			if d := time.Duration(ev.Time() - t); longSyscalls > 0 && d >= longSyscalls {
				fmt.Printf("system call of %v at %v:\n%s", d, time.Duration(t-first), syscallStack[g])
			}
		}
		if t, ok := waiting[g]; ok && from == trace.GoRunnable {
			stretches = append(stretches, stretch{t, ev.Time(), g, runnable})
			delete(waiting, g)
		}
		switch to {
		case trace.GoRunnable:
			waiting[g] = ev.Time()
		case trace.GoRunning:
			onP[g] = ev.Time()
		case trace.GoSyscall:
			inSyscall[g] = ev.Time()
			if longSyscalls > 0 {
				var b strings.Builder
				for frame := range ev.Stack().Frames() {
					fmt.Fprintf(&b, "    %s %s:%d\n", frame.Func, frame.File, frame.Line)
				}
				syscallStack[g] = b.String()
			}
		}
	}
	slices.SortFunc(stretches, func(a, b stretch) int { return cmp.Compare(a.from, b.from) })
	return stretches, entry, first, time.Duration(last - first), nil
}

// longSyscalls: list the system calls at least this long (-syscalls).
var longSyscalls time.Duration

// unattended is how long within [from, to) no stretch of occupied covers
// and one of ready does: an answering goroutine could run, and nothing ran.
func unattended(from, to trace.Time, occupied, ready []stretch) time.Duration {
	const step = 10 * time.Microsecond
	covers := func(ss []stretch, t trace.Time) bool {
		for _, s := range ss {
			if s.from <= t && t < s.to {
				return true
			}
		}
		return false
	}
	var d time.Duration
	for t := from; t < to; t += trace.Time(step) {
		if !covers(occupied, t) && covers(ready, t) {
			d += step
		}
	}
	return d
}
