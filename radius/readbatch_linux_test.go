//go:build linux && (amd64 || arm64)

package radius

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// TestBatchReaderAllocatesNothing: reading a datagram and its source
// allocates nothing (x/net's ReadBatch allocated an address per datagram,
// and a closure per read would be one per read).
// The mean over many reads, as GC and the race detector's sync.Pool may
// add one now and then; an allocation per datagram still makes it ≥ 1.
func TestBatchReaderAllocatesNothing(t *testing.T) {
	conn := loopbackUDP(t, "udp4")
	c, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br, err := newBatchReader(conn)
	if err != nil {
		t.Fatal(err)
	}
	b := newBatch()
	payload := make([]byte, 120)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	const datagrams = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range datagrams { // one a read: an allocation per read counts too
		if _, err := c.Write(payload); err != nil {
			t.Fatal(err)
		}
		if n, err := br.read(b); err != nil || n != 1 {
			t.Fatalf("read %d datagrams, %v; want 1", n, err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.Mallocs-before.Mallocs) / datagrams; per >= 0.5 {
		t.Errorf("%.2f allocations per datagram read and sent, want none", per)
	}
}
