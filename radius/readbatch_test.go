package radius

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

// loopbackUDP listens on a free loopback port of network ("udp4" or
// "udp6"); it skips the test when the machine has no such loopback.
func loopbackUDP(t *testing.T, network string) *net.UDPConn {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "udp6" {
		addr = "[::1]:0"
	}
	conn, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("no %s loopback here: %v", network, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn.(*net.UDPConn)
}

// TestBatchReaderSourcesAndBytes: the batch reader returns every datagram
// whole, in several reads where they exceed one, each with the address and
// port it came from, on IPv4 and IPv6.
func TestBatchReaderSourcesAndBytes(t *testing.T) {
	for _, network := range []string{"udp4", "udp6"} {
		t.Run(network, func(t *testing.T) {
			conn := loopbackUDP(t, network)
			var senders []*net.UDPConn
			for range 2 {
				c, err := net.DialUDP(network, nil, conn.LocalAddr().(*net.UDPAddr))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				senders = append(senders, c)
			}
			sent := map[string]netip.AddrPort{}
			for i := range batchSize + 7 {
				c := senders[i%2]
				payload := bytes.Repeat([]byte{byte(i)}, 1+i*37%layeh.MaxPacketLength)
				payload = append(payload, fmt.Sprint(i)...)
				if _, err := c.Write(payload); err != nil {
					t.Fatal(err)
				}
				sent[string(payload)] = c.LocalAddr().(*net.UDPAddr).AddrPort()
			}
			br, err := newBatchReader(conn)
			if err != nil {
				t.Fatal(err)
			}
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			b := newBatch()
			reads := 0
			for len(sent) > 0 {
				n, err := br.read(b)
				if err != nil {
					t.Fatalf("read %d: %v (%d datagrams not read)", reads, err, len(sent))
				}
				reads++
				if n < 1 || n > batchSize {
					t.Fatalf("read returned %d datagrams", n)
				}
				for i := range n {
					d := string(b.bufs[i][:b.lens[i]])
					from, ok := sent[d]
					if !ok {
						t.Fatalf("read %d octets that were not sent (or twice)", len(d))
					}
					if b.srcs[i] != from {
						t.Errorf("datagram from %v read as from %v", from, b.srcs[i])
					}
					delete(sent, d)
				}
			}
			if reads < 2 {
				t.Errorf("%d datagrams in %d read, want at least two reads of at most %d", batchSize+7, reads, batchSize)
			}
			conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := br.read(b); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("read with nothing to read: %v, want the deadline", err)
			}
		})
	}
}

// TestAccessOverIPv6: a server listening on IPv6 answers to the address
// and port the request came from.
func TestAccessOverIPv6(t *testing.T) {
	loopbackUDP(t, "udp6") // skips without IPv6 loopback
	cfg := testConfig()
	cfg.AuthListen, cfg.AcctListen = "[::1]:0", "[::1]:0"
	cfg.Clients = []Client{{Name: "loopback6", CIDR: "::1/128", Secret: testSecret, Location: "rathaus"}}
	ts := startServer(t, cfg, Deps{Sessions: newFakeSessions()})
	p := sign(t, newRequest(layeh.CodeAccessRequest, testSecret, attr{rfc2865.CallingStationID_Type, "02-1A-2B-3C-4D-5E"}))
	if resp := mustExchange(t, p, ts.AuthAddr()); resp.Code != layeh.CodeAccessAccept {
		t.Fatalf("%v over IPv6, want Access-Accept", resp.Code)
	}
}
