//go:build !(linux && (amd64 || arm64))

package radius

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// batchReader reads datagrams with x/net's ReadBatch (one per read where
// the system has no recvmmsg); readbatch_linux.go reads without its
// per-datagram allocation.
type batchReader struct {
	bc batchConn
}

func newBatchReader(conn *net.UDPConn) (batchReader, error) {
	return batchReader{bc: newBatchConn(conn)}, nil
}

type readState struct {
	msgs [batchSize]ipv4.Message
}

func (b *batch) initRead() {
	for i := range b.rd.msgs {
		b.rd.msgs[i].Buffers = [][]byte{b.bufs[i]}
	}
}

func (r batchReader) read(b *batch) (int, error) {
	n, err := r.bc.ReadBatch(b.rd.msgs[:], 0)
	for i := range n {
		m := &b.rd.msgs[i]
		b.lens[i] = m.N
		b.srcs[i] = netip.AddrPort{}
		if u, ok := m.Addr.(*net.UDPAddr); ok {
			b.srcs[i] = u.AddrPort()
		}
	}
	return n, err
}
