package sqlite

import (
	"bufio"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The store's waits for the disk run in another process: the syncer, this
// same executable started again (syncerEnv), one per store. With
// synchronous=FULL SQLite called fsync in the committing goroutine, and a
// system call holds the Go scheduler's P until sysmon takes it back — up to
// 10 ms later when sysmon has been idle (runtime/proc.go, sysmon's delay
// doubles to 10 ms; a P in a system call is retaken only once it was seen
// there twice, retake). With GOMAXPROCS 1, as make bench-radius runs
// roamgate on one core, no RADIUS answer went out meanwhile: in execution
// traces of the roaming bench the group commit's fsyncs and WAL checkpoints
// were single gaps of 9–13 ms (docs/BENCHMARKS.md). A goroutine that waits
// for a pipe parks in the network poller instead and leaves the P to the
// RADIUS readers.
//
// So the writer's connection runs with synchronous=NORMAL (a commit writes
// the WAL and does not sync it) and without automatic checkpoints, and
//   - after every commit that a caller is told is durable, the store asks
//     the syncer to fsync the WAL file and waits for its answer: the same
//     promise as FULL, whose commit is the WAL's fsync
//     (https://sqlite.org/pragma.html#pragma_synchronous);
//   - every checkpointEvery the syncer checkpoints the WAL into the
//     database file on a connection of its own (PASSIVE: it never waits
//     for a reader or the writer), with FULL, so that the WAL is synced
//     before pages are copied and the database file after; and so for
//     the other databases the store is given (CheckpointAlso: the
//     history's).
//
// The checkpoints run on a thread of the syncer with the SCHED_IDLE
// policy, the lowest priority there is: on a busy CPU it gets a few
// thousandths of the time, next to nothing taken from RADIUS. A checkpoint
// copies every page written in checkpointEvery (tens of milliseconds of
// CPU under the roaming load), and at the syncer's normal priority the kernel shared the
// core with it in slices of milliseconds: on the core RADIUS answered on,
// the answers fell behind in each of them (docs/BENCHMARKS.md). A round
// of checkpoints (the store's and CheckpointAlso's) that took longer than
// checkpointPatience, waiting for an idle CPU (every CPU busy), makes the
// next round run at the normal priority, so that the WAL stays bounded.
//
// What stays in roamgate's process: SQLite's fsync of the WAL header when
// a write begins the WAL anew after a complete checkpoint (NORMAL keeps
// it, https://sqlite.org/src/info/ff5be73dee), so at most once per
// checkpoint.
//
// If the syncer cannot be started, the store runs as before, with FULL and
// automatic checkpoints. If it dies later, the store does its work itself
// (an fsync of the WAL file, a PASSIVE checkpoint) and counts it
// (Store.Syncer).

// syncerEnv, set to a database's absolute path, makes a process that
// imports this package that database's syncer (see init).
const syncerEnv = "ROAMGATE_SQLITE_SYNCER"

// checkpointEvery is how often the WAL is checkpointed. Each checkpoint
// that copied every frame lets the next write begin the WAL anew, with the
// fsync of its header in roamgate's process, so not more often than
// needed: SQLite's default is every 1 000 pages (4 MiB of WAL), a few
// seconds of the roaming load; the WAL grows by what two seconds write.
const checkpointEvery = 2 * time.Second

// checkpointPatience: a round of checkpoints that took longer than this
// makes the next round urgent (at the syncer's normal priority, not its
// idle one).
const checkpointPatience = 10 * time.Second

const (
	syncWAL       byte = 's'
	checkpoint    byte = 'c' // on the syncer's SCHED_IDLE thread
	checkpointNow byte = 'C' // at its normal priority
)

func init() {
	if db := os.Getenv(syncerEnv); db != "" {
		os.Exit(serveSyncer(db, os.Stdin, os.Stdout))
	}
}

// serveSyncer answers requests from in until it ends: each request is a
// kind, an ID and a path (a checkpoint's database, empty for db's); each
// answer the ID, a status (0 done, 1 failed) and a message (the error, or
// for a checkpoint the WAL's frames and how many of them are in the
// database file, as wal_checkpoint reports them).
func serveSyncer(db string, in io.Reader, out io.Writer) int {
	// A system call holds a P here too: more Ps than CPUs, so that a sync
	// does not wait behind a checkpoint's fsync.
	runtime.GOMAXPROCS(4)
	// No collection before 64 MiB: stopping the world waits for every
	// running thread, the idle checkpoint thread too, which gets no CPU
	// while all of them are busy, and the syncs would wait with it. What
	// the syncer allocates per request is a few hundred bytes (SQLite's
	// memory is not Go's), so that is a collection every few minutes at
	// the most.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(64 << 20)
	// The WAL is opened at the first sync (a new database has none before
	// its first write) and kept open, so that a write-back error of any
	// page of it is reported to this descriptor's fsync.
	var walMu sync.Mutex
	var wal *os.File
	defer func() {
		if wal != nil {
			wal.Close()
		}
	}()
	syncWALFile := func() error {
		walMu.Lock()
		defer walMu.Unlock()
		if wal == nil {
			f, err := os.Open(db + "-wal")
			if err != nil {
				return err
			}
			wal = f
		}
		return wal.Sync()
	}
	conn := checkpointDB(db)
	defer conn.Close()

	var outMu sync.Mutex
	w := bufio.NewWriter(out)
	reply := func(id uint32, err error, msg string) {
		status := byte(0)
		if err != nil {
			status, msg = 1, err.Error()
		}
		msg = msg[:min(len(msg), 1<<16-1)]
		outMu.Lock()
		defer outMu.Unlock()
		var head [7]byte
		binary.BigEndian.PutUint32(head[:4], id)
		head[4] = status
		binary.BigEndian.PutUint16(head[5:], uint16(len(msg)))
		w.Write(head[:])
		w.WriteString(msg)
		w.Flush()
	}
	var checkpoints sync.Mutex // one at a time; guards others
	others := map[string]*sql.DB{}
	defer func() {
		for _, db := range others {
			db.Close()
		}
	}()
	runCheckpoint := func(id uint32, path []byte) {
		checkpoints.Lock()
		defer checkpoints.Unlock()
		db := conn
		if len(path) > 0 {
			if db = others[string(path)]; db == nil {
				db = checkpointDB(string(path))
				others[string(path)] = db
			}
		}
		frames, done, err := checkpointWAL(db)
		reply(id, err, fmt.Sprintf("%d %d", frames, done))
	}
	idle := idleThread(os.Stderr)
	defer close(idle) // after wg.Wait: no request waits for it then
	r := bufio.NewReader(in)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var req [7]byte
		if _, err := io.ReadFull(r, req[:]); err != nil {
			return 0 // the store closed the pipe, or its process is gone
		}
		id := binary.BigEndian.Uint32(req[1:])
		path := make([]byte, binary.BigEndian.Uint16(req[5:]))
		if _, err := io.ReadFull(r, path); err != nil {
			return 0
		}
		switch req[0] {
		case syncWAL:
			wg.Go(func() { reply(id, syncWALFile(), "") })
		case checkpoint:
			wg.Go(func() {
				done := make(chan struct{})
				idle <- func() {
					defer close(done)
					runCheckpoint(id, path)
				}
				<-done
			})
		case checkpointNow:
			wg.Go(func() { runCheckpoint(id, path) })
		default:
			reply(id, fmt.Errorf("unknown request %q", req[0]), "")
		}
	}
}

// idleThread runs the functions sent to it, one at a time, on a thread of
// its own with the SCHED_IDLE policy, until the channel is closed. If the
// policy cannot be set, it says so on log and runs them all the same.
func idleThread(log io.Writer) chan<- func() {
	work := make(chan func())
	go func() {
		// Never unlocked: the thread ends with the goroutine instead of
		// running other goroutines at its policy.
		runtime.LockOSThread()
		if err := idlePolicy(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
			fmt.Fprintf(log, "roamgate [sqlite syncer]: checkpoints run at the normal priority: SCHED_IDLE: %v\n", err)
		}
		for f := range work {
			f()
		}
	}()
	return work
}

// checkpointDB is a connection that checkpoints the database at path
// (opened at its first use), with FULL: the WAL synced before its pages
// are copied, the database file after.
func checkpointDB(path string) *sql.DB {
	db, _ := sql.Open("sqlite", dsn(path, url.Values{"_pragma": {
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"synchronous(FULL)",
	}})) // sql.Open only checks the driver's name
	db.SetMaxOpenConns(1)
	return db
}

// checkpointWAL runs a PASSIVE checkpoint: it copies what it can without
// waiting for a reader or the writer.
func checkpointWAL(db *sql.DB) (frames, done int, err error) {
	var busy int
	err = db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done)
	return frames, done, err
}

// syncer is the store's side of its syncer process.
type syncer struct {
	cmd *exec.Cmd
	in  io.WriteCloser

	wmu sync.Mutex // one request written at a time

	mu      sync.Mutex // guards the fields below; never held while writing
	next    uint32
	waiting map[uint32]chan answer
	gone    error // why the process no longer answers; nil while it does

	read chan struct{} // closed when the answers' reader ends
}

type answer struct {
	err error
	msg string
}

var errSyncerGone = errors.New("syncer process is gone")

// startSyncer starts the syncer of the database at db (an absolute path;
// the syncer opens the WAL at its first sync).
func startSyncer(db string) (*syncer, error) {
	exe, err := executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	// How ps lists it: "roamgate [sqlite syncer]", not /proc/self/exe.
	cmd.Args = []string{filepath.Base(os.Args[0]) + " [sqlite syncer]"}
	cmd.Env = append(os.Environ(), syncerEnv+"="+db)
	cmd.Stderr = os.Stderr
	// Both pipes are os.Pipe's: non-blocking, so that a goroutine waiting
	// for an answer parks in the network poller and leaves its P.
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		in.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &syncer{cmd: cmd, in: in, waiting: map[uint32]chan answer{}, read: make(chan struct{})}
	go p.answers(out)
	return p, nil
}

// executable is the path that starts this program again: /proc/self/exe on
// Linux, which works even when the file was replaced since (an upgrade).
func executable() (string, error) {
	if runtime.GOOS == "linux" {
		if _, err := os.Stat("/proc/self/exe"); err == nil {
			return "/proc/self/exe", nil
		}
	}
	return os.Executable()
}

// answers hands each answer to the call waiting for it, until the process
// closes its end; then every waiting call fails.
func (p *syncer) answers(out io.Reader) {
	defer close(p.read)
	r := bufio.NewReader(out)
	var err error
	for {
		var head [7]byte
		if _, err = io.ReadFull(r, head[:]); err != nil {
			break
		}
		msg := make([]byte, binary.BigEndian.Uint16(head[5:]))
		if _, err = io.ReadFull(r, msg); err != nil {
			break
		}
		a := answer{msg: string(msg)}
		if head[4] != 0 {
			a = answer{err: errors.New(a.msg)}
		}
		p.mu.Lock()
		c := p.waiting[binary.BigEndian.Uint32(head[:4])]
		delete(p.waiting, binary.BigEndian.Uint32(head[:4]))
		p.mu.Unlock()
		if c != nil {
			c <- a
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gone == nil {
		p.gone = fmt.Errorf("%w: %v", errSyncerGone, err)
	}
	for id, c := range p.waiting {
		c <- answer{err: p.gone}
		delete(p.waiting, id)
	}
}

// call sends a request (path: the database a checkpoint is for, "" for
// the store's) and waits for its answer; errSyncerGone (wrapped) if the
// process did not answer.
func (p *syncer) call(kind byte, path string) (string, error) {
	c := make(chan answer, 1)
	p.mu.Lock()
	if p.gone != nil {
		p.mu.Unlock()
		return "", p.gone
	}
	p.next++
	id := p.next
	p.waiting[id] = c
	p.mu.Unlock()
	req := make([]byte, 7, 7+len(path))
	req[0] = kind
	binary.BigEndian.PutUint32(req[1:], id)
	binary.BigEndian.PutUint16(req[5:], uint16(len(path)))
	req = append(req, path...)
	p.wmu.Lock()
	_, err := p.in.Write(req)
	p.wmu.Unlock()
	if err != nil {
		p.mu.Lock()
		if p.gone == nil {
			p.gone = fmt.Errorf("%w: %v", errSyncerGone, err)
		}
		err = p.gone
		// Unless the reader, ending, answered it already.
		if _, ok := p.waiting[id]; ok {
			delete(p.waiting, id)
			p.mu.Unlock()
			return "", err
		}
		p.mu.Unlock()
	}
	a := <-c
	return a.msg, a.err
}

// close ends the process (it exits when its input ends) and waits for it;
// how a process that had gone before ended is no news (the store did its
// work since).
func (p *syncer) close() error {
	p.mu.Lock()
	goneBefore := p.gone != nil
	if !goneBefore {
		p.gone = fmt.Errorf("%w: closed", errSyncerGone)
	}
	p.mu.Unlock()
	p.in.Close()
	var err error
	select {
	case <-p.read:
	case <-time.After(time.Minute): // a checkpoint of a huge WAL, or stuck
		p.cmd.Process.Kill()
	}
	if werr := p.cmd.Wait(); werr != nil && !goneBefore {
		err = fmt.Errorf("syncer: %w", werr)
	}
	return err
}

// pid is the syncer process's.
func (p *syncer) pid() int { return p.cmd.Process.Pid }

// syncStats are the syncer's counters for the store's metrics.
type syncStats struct {
	syncs       atomic.Uint64 // done by the syncer
	inProcess   atomic.Uint64 // syncs and checkpoints the store did itself
	checkpoints atomic.Uint64 // done by the syncer
	failed      atomic.Uint64 // checkpoints that failed
	urgent      atomic.Uint64 // rounds of checkpoints at the normal priority
}

// durable makes every commit so far durable: the syncer fsyncs the WAL, or
// the store does if the syncer is gone. A no-op for a store without a
// syncer (synchronous=FULL: its commits are).
func (s *Store) durable() error {
	if s.syncer == nil {
		return nil
	}
	_, err := s.syncer.call(syncWAL, "")
	if err == nil {
		s.syncStats.syncs.Add(1)
	}
	if !errors.Is(err, errSyncerGone) {
		return err
	}
	s.syncStats.inProcess.Add(1)
	f, err := os.Open(s.path + "-wal")
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// checkpointer checkpoints the WAL every checkpointEvery until Close.
func (s *Store) checkpointer() {
	defer close(s.ckptDone)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	kind := checkpoint
	for {
		select {
		case <-s.ckptStop:
			return
		case <-tick.C:
			if kind == checkpointNow {
				s.syncStats.urgent.Add(1)
			}
			start := time.Now()
			if _, _, err := s.checkpointOther(kind, ""); err != nil {
				s.syncStats.failed.Add(1)
			}
			s.othersMu.Lock()
			others := slices.Clone(s.others)
			s.othersMu.Unlock()
			for _, path := range others {
				if _, _, err := s.checkpointOther(kind, path); err != nil {
					s.syncStats.failed.Add(1)
				}
			}
			kind = nextCheckpoint(time.Since(start))
		}
	}
}

// CheckpointAlso has the store's syncer checkpoint another SQLite
// database in WAL mode too, at path, every checkpointEvery (the store
// itself if the syncer dies), until the store closes; its writer can then
// run without automatic checkpoints (wal_autocheckpoint 0), whose fsyncs
// would hold the only P. An error if the store has no syncer.
func (s *Store) CheckpointAlso(path string) error {
	if s.syncer == nil {
		return wrap("checkpoint also", errors.New("the store has no syncer process"))
	}
	abs, err := filepath.Abs(path)
	if err != nil || len(abs) > 1<<16-1 {
		return wrap("checkpoint also", fmt.Errorf("bad path %q", path))
	}
	s.othersMu.Lock()
	defer s.othersMu.Unlock()
	if !slices.Contains(s.others, abs) {
		s.others = append(s.others, abs)
	}
	return nil
}

// nextCheckpoint is the kind of the round of checkpoints after one that
// took took: one that waited longer than checkpointPatience for an idle
// CPU says every CPU is busy, and the WAL must not grow on meanwhile.
func nextCheckpoint(took time.Duration) byte {
	if took > checkpointPatience {
		return checkpointNow
	}
	return checkpoint
}

// checkpointOther is checkpoint for a database of CheckpointAlso (path),
// or the store's own (""), of kind checkpoint or checkpointNow.
func (s *Store) checkpointOther(kind byte, path string) (frames, done int, err error) {
	msg, err := s.syncer.call(kind, path)
	if errors.Is(err, errSyncerGone) {
		s.syncStats.inProcess.Add(1)
		if path == "" {
			return checkpointWAL(s.w)
		}
		s.othersMu.Lock()
		db := s.othersDB[path]
		if db == nil {
			db = checkpointDB(path)
			if s.othersDB == nil {
				s.othersDB = map[string]*sql.DB{}
			}
			s.othersDB[path] = db
		}
		s.othersMu.Unlock()
		return checkpointWAL(db)
	}
	if err != nil {
		return 0, 0, err
	}
	s.syncStats.checkpoints.Add(1)
	_, err = fmt.Sscan(msg, &frames, &done)
	return frames, done, err
}

// checkpoint has the syncer checkpoint the store's WAL (or does it, if
// the syncer is gone) and returns the WAL's frames and how many of them
// are in the database file.
func (s *Store) checkpoint() (frames, done int, err error) {
	return s.checkpointOther(checkpoint, "")
}

// SyncerStats is what Store.Syncer reports.
type SyncerStats struct {
	PID     int  // the syncer process's, 0 if the store never had one
	Running bool // it answers (false once it died or the store closed)
	// InProcess counts the syncs and checkpoints the store did itself,
	// its syncer gone; FailedCheckpoints the checkpoints that failed (the
	// WAL keeps the frames, the next checkpoint copies them).
	InProcess, FailedCheckpoints uint64
	// UrgentCheckpoints counts the rounds of checkpoints that ran at the
	// syncer's normal priority because the round before waited longer than
	// checkpointPatience for an idle CPU: every CPU was busy.
	UrgentCheckpoints uint64
}

// Syncer reports the store's syncer process, for metrics.
func (s *Store) Syncer() SyncerStats {
	st := SyncerStats{InProcess: s.syncStats.inProcess.Load(), FailedCheckpoints: s.syncStats.failed.Load(),
		UrgentCheckpoints: s.syncStats.urgent.Load()}
	if p := s.syncer; p != nil {
		st.PID = p.pid()
		p.mu.Lock()
		st.Running = p.gone == nil
		p.mu.Unlock()
	}
	return st
}
