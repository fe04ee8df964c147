package radius

import (
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// How many datagrams each read system call (recvmmsg) returns says whether
// batching works under load: one per read means two system calls per
// request; batchSize per read means the socket's queue is never empty. The
// reader counts them per read, not per datagram, so counting costs two
// atomic adds per system call.

// numBatchBuckets are the buckets of reads by datagrams: 1, 2–3, 4–7, 8–15,
// 16–31, 32 (= batchSize).
const numBatchBuckets = 6

var batchBucketNames = [numBatchBuckets]string{"1", "2-3", "4-7", "8-15", "16-31", "32"}

// batchBucket is the bucket of a read that returned n ≥ 1 datagrams.
func batchBucket(n int) int { return min(bits.Len(uint(n))-1, numBatchBuckets-1) }

type batchCounters struct {
	reads     [numBatchBuckets]atomic.Uint64
	datagrams atomic.Uint64
}

func (c *batchCounters) add(n int) {
	c.reads[batchBucket(n)].Add(1)
	c.datagrams.Add(uint64(n))
}

// ReadBatches counts the reads of one socket by how many datagrams each
// returned.
type ReadBatches struct {
	// Reads[i] counts the reads that returned 1, 2–3, 4–7, 8–15, 16–31 or
	// 32 datagrams (i = 0…5).
	Reads [numBatchBuckets]uint64
	// Datagrams is the sum over all reads.
	Datagrams uint64
}

// Total is the number of reads.
func (b ReadBatches) Total() uint64 {
	var n uint64
	for _, r := range b.Reads {
		n += r
	}
	return n
}

// Mean is the datagrams per read.
func (b ReadBatches) Mean() float64 {
	if t := b.Total(); t > 0 {
		return float64(b.Datagrams) / float64(t)
	}
	return 0
}

// String is a one-line summary: mean and the share of reads per bucket.
func (b ReadBatches) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%d reads, %.1f datagrams per read;", b.Total(), b.Mean())
	for i, r := range b.Reads {
		fmt.Fprintf(&s, " %s: %.0f %%", batchBucketNames[i], 100*float64(r)/float64(max(b.Total(), 1)))
		if i < len(b.Reads)-1 {
			s.WriteByte(',')
		}
	}
	return s.String()
}

// AuthReadBatches is how the authentication socket's reads were filled.
func (s *Server) AuthReadBatches() ReadBatches { return s.batches[authListener].snapshot() }

// AcctReadBatches is how the accounting socket's reads were filled.
func (s *Server) AcctReadBatches() ReadBatches { return s.batches[acctListener].snapshot() }

func (c *batchCounters) snapshot() ReadBatches {
	var b ReadBatches
	for i := range c.reads {
		b.Reads[i] = c.reads[i].Load()
	}
	b.Datagrams = c.datagrams.Load()
	return b
}

var descReadBatch = prometheus.NewDesc("roamgate_radius_read_batch_datagrams",
	"Datagrams returned by each read system call (recvmmsg), by port: near 1 under load means a system call per request.",
	[]string{"port"}, nil)

// collectBatches sends the read batch histograms.
func (c collector) collectBatches(ch chan<- prometheus.Metric) {
	for l := range c.s.batches {
		b := c.s.batches[l].snapshot()
		buckets := make(map[float64]uint64, numBatchBuckets)
		var cum uint64
		for i, r := range b.Reads {
			cum += r
			// Upper bounds 1, 3, 7, 15, 31, 32.
			buckets[float64(min(2<<i-1, batchSize))] = cum
		}
		ch <- prometheus.MustNewConstHistogram(descReadBatch, cum, float64(b.Datagrams), buckets, listener(l).String())
	}
}
