package radius

import (
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestBatchBucket(t *testing.T) {
	for _, tt := range []struct{ n, want int }{
		{1, 0}, {2, 1}, {3, 1}, {4, 2}, {7, 2}, {8, 3}, {15, 3}, {16, 4}, {31, 4}, {32, 5},
	} {
		if got := batchBucket(tt.n); got != tt.want {
			t.Errorf("batchBucket(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}

// TestReadBatchesCounted: every datagram of a burst is counted in exactly
// one read, no read holds more than batchSize, and the Prometheus histogram
// says the same.
func TestReadBatchesCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := startServer(t, testConfig(), Deps{Sessions: newFakeSessions(), Metrics: reg})
	const burst = 3*batchSize + 5
	conn, err := net.DialUDP("udp", nil, srv.AuthAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for range burst {
		if _, err := conn.Write(packet(t, "02-1A-2B-3C-4D-5E")); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for i := range burst {
		if _, err := conn.Read(buf); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	b := srv.AuthReadBatches()
	if b.Datagrams != burst || b.Total() < (burst+batchSize-1)/batchSize || b.Total() > burst {
		t.Errorf("auth reads %+v: want %d datagrams in %d…%d reads", b, burst, (burst+batchSize-1)/batchSize, burst)
	}
	if a := srv.AcctReadBatches(); a.Total() != 0 {
		t.Errorf("accounting reads %+v, want none", a)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "roamgate_radius_read_batch_datagrams" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != "auth" {
				continue
			}
			found = true
			h := m.GetHistogram()
			if h.GetSampleCount() != b.Total() || h.GetSampleSum() != burst {
				t.Errorf("histogram count %d sum %v, want %d and %d", h.GetSampleCount(), h.GetSampleSum(), b.Total(), burst)
			}
			if bk := h.GetBucket(); len(bk) != numBatchBuckets || bk[len(bk)-1].GetUpperBound() != batchSize {
				t.Errorf("buckets %v", bk)
			}
		}
	}
	if !found {
		t.Error("roamgate_radius_read_batch_datagrams{port=auth} not exported")
	}
}
