package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

type loadConfig struct {
	addr      string
	secret    string
	sessions  int
	unknown   float64
	sockets   int
	window    int
	rate      float64
	duration  time.Duration
	warmup    time.Duration
	timeout   time.Duration
	roam      float64
	locations int
	aps       int
	sweep     bool
	name      string
	jsonOut   bool
}

// result is what a run measured, after the warm-up.
type result struct {
	Name       string  `json:"name"`
	Mode       string  `json:"mode"`
	Seconds    float64 `json:"seconds"`
	Sent       uint64  `json:"sent"`
	Accepts    uint64  `json:"accepts"`
	Rejects    uint64  `json:"rejects"`
	Timeouts   uint64  `json:"timeouts"`
	Invalid    uint64  `json:"invalid"`
	Backlog    uint64  `json:"backlog"`
	Throughput float64 `json:"answers_per_second"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	P999us     float64 `json:"p999_us"`
	MaxUs      float64 `json:"max_us"`
	// AllAnswers and AllSeconds count the warm-up too: what a server did
	// while the load ran, to divide its CPU time by.
	AllAnswers uint64  `json:"all_answers"`
	AllSeconds float64 `json:"all_seconds"`
}

func load(args []string) error {
	var c loadConfig
	fs := flag.NewFlagSet("roamgate-load", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:18120", "RADIUS auth server")
	fs.StringVar(&c.secret, "secret", "bench-secret-0123456789", "shared secret")
	fs.IntVar(&c.sessions, "sessions", 100000, "known devices (as given to serve / users)")
	fs.Float64Var(&c.unknown, "unknown", 0.1, "fraction of requests for unknown devices")
	fs.IntVar(&c.sockets, "sockets", 8, "UDP sockets (source ports)")
	fs.IntVar(&c.window, "window", 32, "closed loop: requests outstanding per socket (at most 256)")
	fs.Float64Var(&c.rate, "rate", 0, "fixed rate in requests/s over all sockets; 0 = closed loop")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "load before measuring")
	fs.DurationVar(&c.timeout, "timeout", time.Second, "a request unanswered this long is a timeout")
	fs.Float64Var(&c.roam, "roam", 0.3, "fraction of known devices' requests from an access point at another location (the session moves)")
	fs.IntVar(&c.locations, "locations", 50, "locations of the town (as given to serve)")
	fs.IntVar(&c.aps, "aps", 8, "access points per location (as given to serve)")
	fs.BoolVar(&c.sweep, "sweep", false, "ask once for every known device from where it signed in, then stop (primes a server's sessions with their access point)")
	fs.StringVar(&c.name, "name", "server", "label for the output")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.window < 1 || c.window > 256 || c.sockets < 1 || c.sessions < 1 {
		return errors.New("-window must be 1…256, -sockets and -sessions positive")
	}
	if c.sweep && c.rate != 0 {
		return errors.New("-sweep runs a closed loop; leave -rate 0")
	}
	if c.unknown < 0 || c.unknown > 1 || c.roam < 0 || c.roam > 1 {
		return errors.New("-unknown and -roam must be between 0 and 1")
	}
	if err := (town{c.locations, c.aps}).valid(); err != nil {
		return err
	}
	res, err := run(c)
	if err != nil {
		return err
	}
	if c.jsonOut {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Printf("%s (%s, %.0fs): %.0f answers/s, accept %d, reject %d, timeout %d, invalid %d, backlog %d; latency p50 %.0f µs, p99 %.0f µs, p99.9 %.0f µs, max %.0f µs\n",
		res.Name, res.Mode, res.Seconds, res.Throughput, res.Accepts, res.Rejects, res.Timeouts, res.Invalid, res.Backlog,
		res.P50us, res.P99us, res.P999us, res.MaxUs)
	return nil
}

// shape is the one Access-Request every send starts from: MAC
// authentication by PAP as an access point sends it (User-Name =
// User-Password = Calling-Station-Id = the device's MAC, Called-Station-Id,
// NAS-Identifier, NAS-Port-Type, Service-Type, Message-Authenticator). Per
// send the device, the access point, the identifier and the Request
// Authenticator change, and with them the User-Password and the
// Message-Authenticator, so that no request repeats within a server's
// duplicate window (FreeRADIUS and roamgate would answer a repeat from
// their caches). The variable fields have fixed lengths (fleet.go), so they
// are written in place.
type shape struct {
	b         []byte
	userOff   int // User-Name value
	csiOff    int // Calling-Station-Id value
	calledOff int // Called-Station-Id value
	nasOff    int // NAS-Identifier value
	pwOff     int // User-Password value (32 octets)
	maOff     int // Message-Authenticator value
	secret    []byte
	names     apNames
}

func newShape(c loadConfig) (*shape, error) {
	t := town{c.locations, c.aps}
	mac := deviceMAC(0, true)
	p := layeh.New(layeh.CodeAccessRequest, []byte(c.secret))
	rfc2865.UserName_SetString(p, mac)
	p.Add(rfc2865.UserPassword_Type, make(layeh.Attribute, 32))
	rfc2865.CallingStationID_SetString(p, mac)
	rfc2865.CalledStationID_SetString(p, apMAC(0)+":"+benchSSID)
	rfc2865.NASIdentifier_SetString(p, t.nasID(0))
	rfc2865.NASPortType_Set(p, rfc2865.NASPortType_Value_Wireless80211)
	rfc2865.ServiceType_Set(p, rfc2865.ServiceType_Value_CallCheck)
	p.Add(80, make(layeh.Attribute, 16))
	b, err := p.MarshalBinary()
	if err != nil {
		return nil, err
	}
	sh := &shape{b: b, secret: []byte(c.secret), names: newAPNames(t)}
	for i := 20; i < len(b); i += int(b[i+1]) {
		switch b[i] {
		case byte(rfc2865.UserName_Type):
			sh.userOff = i + 2
		case byte(rfc2865.CallingStationID_Type):
			sh.csiOff = i + 2
		case byte(rfc2865.CalledStationID_Type):
			sh.calledOff = i + 2
		case byte(rfc2865.NASIdentifier_Type):
			sh.nasOff = i + 2
		case byte(rfc2865.UserPassword_Type):
			sh.pwOff = i + 2
		case 80:
			sh.maOff = i + 2
		}
	}
	return sh, nil
}

// request is what one send asks: which device, from which access point.
type request struct {
	dev   int
	known bool
	ap    int
}

// encoder fills in the shape for one send. One per goroutine.
type encoder struct {
	mac    hash.Hash
	md     hash.Hash
	sum    [16]byte
	plain  [32]byte // the password, padded to 32 octets
	prefix uint64
	count  uint64
}

func newEncoder(secret []byte) *encoder {
	return &encoder{mac: hmac.New(md5.New, secret), md: md5.New(), prefix: rand.Uint64()}
}

// encode writes the packet for r with identifier id and a fresh
// authenticator (also written to auth) into dst's storage.
func (e *encoder) encode(dst []byte, sh *shape, r request, id byte, auth *[16]byte) []byte {
	b := append(dst[:0], sh.b...)
	b[1] = id
	putDeviceMAC(b[sh.userOff:], r.dev, r.known)
	copy(b[sh.csiOff:sh.csiOff+macLen], b[sh.userOff:sh.userOff+macLen])
	copy(b[sh.calledOff:], sh.names.called[r.ap][:])
	copy(b[sh.nasOff:], sh.names.nas[r.ap][:])
	copy(e.plain[:], b[sh.userOff:sh.userOff+macLen])
	e.count++
	binary.BigEndian.PutUint64(auth[:8], e.prefix)
	binary.BigEndian.PutUint64(auth[8:], e.count)
	copy(b[4:20], auth[:])
	// User-Password (RFC 2865 §5.2).
	prev := auth[:]
	for i := 0; i < 32; i += 16 {
		e.md.Reset()
		e.md.Write(sh.secret)
		e.md.Write(prev)
		e.md.Sum(e.sum[:0])
		for j := range 16 {
			b[sh.pwOff+i+j] = e.plain[i+j] ^ e.sum[j]
		}
		prev = b[sh.pwOff+i : sh.pwOff+i+16]
	}
	// Message-Authenticator (RFC 3579 §3.2) over the packet with it zeroed.
	clear(b[sh.maOff : sh.maOff+16])
	e.mac.Reset()
	e.mac.Write(b)
	e.mac.Sum(b[sh.maOff:sh.maOff])
	return b
}

// responseOK checks a reply's Response Authenticator against the request's.
func (e *encoder) responseOK(reply []byte, auth *[16]byte, secret []byte) bool {
	if len(reply) < 20 || int(binary.BigEndian.Uint16(reply[2:4])) != len(reply) {
		return false
	}
	e.md.Reset()
	e.md.Write(reply[:4])
	e.md.Write(auth[:])
	e.md.Write(reply[20:])
	e.md.Write(secret)
	return bytes.Equal(e.md.Sum(e.sum[:0]), reply[4:20])
}

// histogram counts latencies in microseconds: 1 µs wide up to 100 ms, then
// 1 ms wide up to 2 s (a request is a timeout after -timeout anyway).
type histogram struct {
	fine   [100000]uint64
	coarse [1900]uint64 // 100 ms + i ms
	max    time.Duration
	seen   uint64
}

func (h *histogram) add(d time.Duration) {
	us := int(d / time.Microsecond)
	if us < len(h.fine) {
		h.fine[max(us, 0)]++
	} else {
		h.coarse[min((us-len(h.fine))/1000, len(h.coarse)-1)]++
	}
	h.max = max(h.max, d)
	h.seen++
}

func (h *histogram) merge(o *histogram) {
	for i := range h.fine {
		h.fine[i] += o.fine[i]
	}
	for i := range h.coarse {
		h.coarse[i] += o.coarse[i]
	}
	h.max = max(h.max, o.max)
	h.seen += o.seen
}

// quantile is the latency in µs below which the fraction q of requests
// were answered (the lower edge of its bucket).
func (h *histogram) quantile(q float64) float64 {
	if h.seen == 0 {
		return 0
	}
	want := uint64(q * float64(h.seen))
	var n uint64
	for i, c := range h.fine {
		if n += c; n > want {
			return float64(i)
		}
	}
	for i, c := range h.coarse {
		if n += c; n > want {
			return float64(len(h.fine) + 1000*i)
		}
	}
	return float64(len(h.fine) + 1000*len(h.coarse))
}

// slot is one identifier of a socket and the request outstanding on it.
type slot struct {
	busy   bool
	sentAt time.Time
	auth   [16]byte
}

// sock is one UDP socket and its outstanding requests.
type sock struct {
	c         loadConfig
	conn      *net.UDPConn
	sh        *shape
	fl        *fleet
	rng       *rand.Rand
	measuring *atomic.Bool
	stopping  *atomic.Bool

	mu     sync.Mutex
	nextID int // next identifier to try
	slots  [256]slot
	bufs   [256][]byte // the request on each slot
	enc    *encoder
	hist   histogram

	sent, accepts, rejects, timeouts, invalid, backlog uint64
	all                                                uint64 // answers, warm-up included
}

// prepare encodes the next request for slot id and marks it sent; mu
// held. It returns nil when a sweep has asked for every device.
func (s *sock) prepare(id int, now time.Time) []byte {
	var r request
	if s.c.sweep {
		var ok bool
		if r.dev, r.ap, ok = s.fl.next(); !ok {
			return nil
		}
		r.known = true
	} else {
		r.dev, r.known, r.ap = s.fl.pick(s.rng)
	}
	sl := &s.slots[id]
	b := s.enc.encode(s.bufs[id], s.sh, r, byte(id), &sl.auth)
	s.bufs[id] = b
	sl.busy, sl.sentAt = true, now
	if s.measuring.Load() {
		s.sent++
	}
	return b
}

// busy is how many requests are outstanding.
func (s *sock) busy() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for i := range s.slots {
		if s.slots[i].busy {
			n++
		}
	}
	return n
}

// freeID picks the next free identifier round robin, as a NAS does: an
// identifier is reused only after the others, so that a server still
// finishing the previous request on it (FreeRADIUS drops such a
// "conflicting packet") is not penalised. mu held; with -window below 256
// there is always one.
func (s *sock) freeID() int {
	for range 256 {
		id := s.nextID
		s.nextID = (s.nextID + 1) % 256
		if !s.slots[id].busy {
			return id
		}
	}
	return s.nextID
}

// send puts the next request on slot id; mu held.
func (s *sock) send(id int, now time.Time) {
	if b := s.prepare(id, now); b != nil {
		s.conn.Write(b)
	}
}

// receive reads answers in batches (recvmmsg) and, in a closed loop, sends
// the next requests of the answered slots in one batch (sendmmsg): the load
// generator shares the machine with the server, so its system calls count.
func (s *sock) receive(closedLoop bool) {
	pc := ipv4.NewPacketConn(s.conn)
	in := make([]ipv4.Message, 64)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 4096)}
	}
	out := make([]ipv4.Message, 64)
	for i := range out {
		out[i].Buffers = [][]byte{nil}
	}
	check := newEncoder([]byte(s.c.secret))
	secret := []byte(s.c.secret)
	for {
		n, err := pc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP port unreachable while a server starts
		}
		now := time.Now()
		k := 0
		s.mu.Lock()
		m := s.measuring.Load()
		for i := range n {
			reply := in[i].Buffers[0][:in[i].N]
			if len(reply) < 20 {
				continue
			}
			sl := &s.slots[reply[1]]
			if !sl.busy || !check.responseOK(reply, &sl.auth, secret) {
				if m {
					s.invalid++ // late (after a timeout) or not authentic
				}
				continue
			}
			sl.busy = false
			s.all++
			if m {
				switch layeh.Code(reply[0]) {
				case layeh.CodeAccessAccept:
					s.accepts++
				case layeh.CodeAccessReject:
					s.rejects++
				default:
					s.invalid++
				}
				s.hist.add(now.Sub(sl.sentAt))
			}
			if closedLoop && !s.stopping.Load() {
				if b := s.prepare(s.freeID(), now); b != nil {
					out[k].Buffers[0] = b
					k++
				}
			}
		}
		s.mu.Unlock()
		for sent := 0; sent < k; {
			w, err := pc.WriteBatch(out[sent:k], 0)
			if err != nil {
				w = max(w, 1)
			}
			sent += w
		}
	}
}

// expire counts the requests unanswered for longer than the timeout; in a
// closed loop their slots carry on with new requests.
func (s *sock) expire(closedLoop bool, done <-chan struct{}) {
	t := time.NewTicker(s.c.timeout / 4)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			s.mu.Lock()
			for id := range s.slots {
				sl := &s.slots[id]
				if sl.busy && now.Sub(sl.sentAt) > s.c.timeout {
					sl.busy = false
					if s.measuring.Load() {
						s.timeouts++
					}
					if closedLoop && !s.stopping.Load() {
						s.send(s.freeID(), now)
					}
				}
			}
			s.mu.Unlock()
		}
	}
}

// pace sends at a fixed rate on this socket, on the next free identifier.
func (s *sock) pace(rate float64, done <-chan struct{}) {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for k := int64(0); ; k++ {
		at := start.Add(time.Duration(k) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-done:
				return
			case <-time.After(d):
			}
		} else {
			select {
			case <-done:
				return
			default:
			}
		}
		s.mu.Lock()
		if id := s.freeID(); !s.slots[id].busy {
			s.send(id, time.Now())
		} else if s.measuring.Load() {
			s.backlog++
		}
		s.mu.Unlock()
	}
}

func run(c loadConfig) (result, error) {
	sh, err := newShape(c)
	if err != nil {
		return result{}, err
	}
	fl := newFleet(town{c.locations, c.aps}, c.sessions, c.unknown, c.roam)
	raddr, err := net.ResolveUDPAddr("udp", c.addr)
	if err != nil {
		return result{}, err
	}
	var measuring, stopping atomic.Bool
	closedLoop := c.rate == 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	socks := make([]*sock, c.sockets)
	for i := range socks {
		conn, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			return result{}, err
		}
		_ = conn.SetReadBuffer(4 << 20)
		_ = conn.SetWriteBuffer(4 << 20)
		s := &sock{c: c, conn: conn, sh: sh, fl: fl, rng: rand.New(rand.NewPCG(uint64(i), 2)),
			enc: newEncoder([]byte(c.secret)), measuring: &measuring, stopping: &stopping}
		socks[i] = s
		wg.Add(2)
		go func() { defer wg.Done(); s.receive(closedLoop) }()
		go func() { defer wg.Done(); s.expire(closedLoop, done) }()
	}
	var start time.Time
	begin := time.Now()
	if c.sweep {
		// Everything is measured, from the first request on: a sweep of a
		// few devices can be answered whole before this goroutine runs
		// again (TestRunAgainstRoamgate counted 19 of 40 under make test).
		measuring.Store(true)
		start = begin
	}
	var pacers sync.WaitGroup
	for _, s := range socks {
		if closedLoop {
			s.mu.Lock()
			for range c.window {
				s.send(s.freeID(), time.Now())
			}
			s.mu.Unlock()
		} else {
			pacers.Add(1)
			go func() { defer pacers.Done(); s.pace(c.rate/float64(c.sockets), done) }()
		}
	}
	if c.sweep {
		// The sweep ends when every device has been asked for and
		// answered (or timed out).
		for !fl.swept() || slices.ContainsFunc(socks, func(s *sock) bool { return s.busy() > 0 }) {
			time.Sleep(10 * time.Millisecond) // polling a condition, bounded by the timeout of each request
		}
	} else {
		time.Sleep(c.warmup)
		measuring.Store(true)
		start = time.Now()
		time.Sleep(c.duration)
	}
	measuring.Store(false)
	elapsed, all := time.Since(start), time.Since(begin)
	stopping.Store(true)
	close(done)
	pacers.Wait()
	for _, s := range socks {
		s.conn.Close()
	}
	wg.Wait()

	res := result{Name: c.name, Mode: "closed loop", Seconds: elapsed.Seconds(), AllSeconds: all.Seconds()}
	switch {
	case c.sweep:
		res.Mode = "sweep"
	case !closedLoop:
		res.Mode = fmt.Sprintf("fixed rate %.0f/s", c.rate)
	}
	var h histogram
	for _, s := range socks {
		res.Sent += s.sent
		res.Accepts += s.accepts
		res.Rejects += s.rejects
		res.Timeouts += s.timeouts
		res.Invalid += s.invalid
		res.Backlog += s.backlog
		res.AllAnswers += s.all
		h.merge(&s.hist)
	}
	res.Throughput = float64(res.Accepts+res.Rejects) / elapsed.Seconds()
	res.P50us, res.P99us, res.P999us = h.quantile(0.5), h.quantile(0.99), h.quantile(0.999)
	res.MaxUs = float64(h.max / time.Microsecond)
	return res, nil
}
