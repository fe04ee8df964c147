package radius_test

import (
	"net"
	"sync/atomic"
	"testing"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"
	"layeh.com/radius/rfc2866"

	"roamgate/session"
)

// BenchmarkAccountingDurable is the durable recording of Interim-Updates:
// over UDP to the real server, each answered only after the real
// session.Manager has written it to SQLite (synchronous=FULL, so an fsync per
// record). Sixteen parallel clients, each waiting for its answer: ns/op is the time
// per stored record at the throughput the store allows.
func BenchmarkAccountingDurable(b *testing.B) {
	r := startRigB(b)
	const n = 256
	ids := make([]string, n)
	for i := range ids {
		m := session.MAC{0x02, 0, 0, 0, byte(i >> 8), byte(i)}
		s, _, err := r.mgr.Create(b.Context(), session.CreateRequest{MAC: m, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = s.ID
	}
	var next atomic.Uint64
	before := r.srv.Stats().AccountingResponses
	// Access points report concurrently; 8 per core waiting for answers
	// keep the server's accounting workers busy.
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.DialUDP("udp", nil, r.srv.AcctAddr().(*net.UDPAddr))
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		buf := make([]byte, 4096)
		for pb.Next() {
			k := next.Add(1)
			p := layeh.New(layeh.CodeAccountingRequest, []byte(acceptSecret))
			p.Identifier = byte(k)
			rfc2866.AcctStatusType_Set(p, rfc2866.AcctStatusType_Value_InterimUpdate)
			rfc2865.Class_Set(p, []byte(ids[k%n]))
			rfc2865.NASIdentifier_SetString(p, "bench-ap")
			rfc2866.AcctInputOctets_Set(p, rfc2866.AcctInputOctets(k))
			wire, err := p.Encode()
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := conn.Write(wire); err != nil {
				b.Error(err)
				return
			}
			if _, err := conn.Read(buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if got := r.srv.Stats().AccountingResponses - before; got != uint64(b.N) {
		b.Fatalf("%d Accounting-Responses for %d requests", got, b.N)
	}
}
