package portal

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultMaxConnsPerClient is the default Config.MaxConnsPerClient. A
// browser opens six connections to a host; while a phone is captive every
// app's HTTP traffic comes here too, so a phone may hold a few dozen.
const DefaultMaxConnsPerClient = 64

// tooManyConns is what a refused connection gets before it is closed: a
// complete HTTP/1.1 response, so that a browser shows an error instead of
// retrying a reset connection at once.
const tooManyConns = "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Retry-After: 5\r\nConnection: close\r\nContent-Length: 18\r\n\r\nToo many requests\n"

// connLimiter caps the connections one client address holds open at once:
// without it one client could take every connection the server is willing
// to serve (fasthttp's Concurrency is for the whole server). fasthttp has
// MaxConnsPerIP, but for IPv4 only, without a counter, and it would count a
// trusted reverse proxy as one client; this counts every address, IPv6 ones
// one by one (on a guest WLAN all devices share one /64), and leaves the
// trusted proxies alone.
type connLimiter struct {
	net.Listener
	max     int
	exempt  func(netip.Addr) bool
	refused func()

	mu   sync.Mutex
	open map[netip.Addr]int
}

func newConnLimiter(ln net.Listener, max int, exempt func(netip.Addr) bool, refused func()) *connLimiter {
	return &connLimiter{Listener: ln, max: max, exempt: exempt, refused: refused, open: map[netip.Addr]int{}}
}

// Accept returns the next connection whose client is within its limit; the
// others are answered 429 and closed.
func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
		if err != nil {
			return c, nil // not TCP/IP (a test's pipe): nothing to count by
		}
		a := ap.Addr().Unmap()
		if l.exempt(a) {
			return c, nil
		}
		l.mu.Lock()
		if l.open[a] >= l.max {
			l.mu.Unlock()
			l.refused()
			// A fresh socket's send buffer is empty, so the write does not
			// wait; the deadline bounds it anyway.
			c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			io.WriteString(c, tooManyConns)
			c.Close()
			continue
		}
		l.open[a]++
		l.mu.Unlock()
		return &limitedConn{Conn: c, l: l, addr: a}, nil
	}
}

func (l *connLimiter) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a] <= 1 {
		delete(l.open, a)
		return
	}
	l.open[a]--
}

// limitedConn gives its client's place back when it is closed.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	addr netip.Addr
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.release(c.addr) })
	return c.Conn.Close()
}
