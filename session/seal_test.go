package session

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestDeviceEncoding(t *testing.T) {
	mac := MAC{0xda, 0xa1, 0x19, 0x0b, 0x7c, 0x4e}
	tests := []struct {
		name string
		d    Device
	}{
		{"nothing", Device{}},
		{"MAC only", Device{MAC: mac, HasMAC: true}},
		{"IPv4", Device{MAC: mac, HasMAC: true, IP: netip.MustParseAddr("10.1.2.3")}},
		{"IPv6 and prefix", Device{IP: netip.MustParseAddr("2001:db8::7"), IPv6Prefix: netip.MustParsePrefix("2001:db8:1:2::/64")}},
		{"IPv4-mapped stays mapped", Device{IP: netip.MustParseAddr("::ffff:10.1.2.3")}},
		{"short prefix", Device{IPv6Prefix: netip.MustParsePrefix("2001:db8::/32")}},
		{"addresses a NAS vouched for", Device{IP: netip.MustParseAddr("10.1.2.3"), AddrByNAS: true, AddrCurrent: true}},
		{"address signed in from", Device{IP: netip.MustParseAddr("10.1.2.3"), AddrCurrent: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := time.Date(2026, 12, 4, 10, 0, 0, 123, time.UTC)
			got, gotSeen, err := decodeDevice(encodeDevice(tt.d, seen))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.d || !gotSeen.Equal(seen) {
				t.Fatalf("round trip = %+v, %v; want %+v, %v", got, gotSeen, tt.d, seen)
			}
			// What version 1 sealed (no LastSeen) still reads.
			got, gotSeen, err = decodeDevice(encodeDevice(tt.d, seen)[:deviceLenV1])
			if err != nil || got != tt.d || !gotSeen.IsZero() {
				t.Fatalf("version 1 device = %+v, %v, %v", got, gotSeen, err)
			}
		})
	}
	for _, bad := range [][]byte{nil, make([]byte, deviceLen-1), append(make([]byte, deviceLen), 0)} {
		if _, _, err := decodeDevice(bad); err == nil {
			t.Errorf("decodeDevice(%d bytes) accepted", len(bad))
		}
	}
	b := encodeDevice(Device{IPv6Prefix: netip.MustParsePrefix("2001:db8::/32")}, time.Time{})
	b[39] = 200 // a prefix length no address has
	if _, _, err := decodeDevice(b); err == nil {
		t.Error("decodeDevice accepted prefix length 200")
	}
}

func FuzzDecodeDevice(f *testing.F) {
	f.Add(encodeDevice(Device{IP: netip.MustParseAddr("10.0.0.1"), HasMAC: true}, time.Unix(1e9, 0)))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, seen, err := decodeDevice(b)
		if err != nil {
			return
		}
		again, againSeen, err := decodeDevice(encodeDevice(d, seen))
		if err != nil || again != d || !againSeen.Equal(seen) {
			t.Fatalf("re-encoding %+v, %v gave %+v, %v, %v", d, seen, again, againSeen, err)
		}
	})
}

// TestSealDeviceWithScratch: the background writer's seals, through one
// scratch, open as sealDevice's do, and a seal made earlier stays intact
// when the scratch is used again.
func TestSealDeviceWithScratch(t *testing.T) {
	s, err := newSealer([]byte("site key of the test, thirty-two"))
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{sealer: s}
	seen := time.Unix(1_800_000_000, 42).UTC()
	devices := []Device{{HasMAC: true, MAC: [6]byte{2, 0, 0, 0, 0, 1}, IP: netip.MustParseAddr("10.1.2.3")},
		{IPv6Prefix: netip.MustParsePrefix("2001:db8:1::/48"), AddrByNAS: true}}
	var scratch deviceScratch
	var sealed [][]byte
	for i, d := range devices {
		b, err := m.sealDeviceWith(&scratch, fmt.Sprint("session-", i), d, seen.Add(time.Duration(i)))
		if err != nil {
			t.Fatal(err)
		}
		sealed = append(sealed, b)
	}
	for i, d := range devices {
		id := fmt.Sprint("session-", i)
		got, gotSeen, err := m.openDevice(Record{Session: Session{ID: id, LastSeen: seen.Add(time.Hour)}, SealedDevice: sealed[i]})
		if err != nil || got != d || !gotSeen.Equal(seen.Add(time.Duration(i))) {
			t.Fatalf("device %d: %+v at %v (%v), want %+v at %v", i, got, gotSeen, err, d, seen.Add(time.Duration(i)))
		}
		if _, _, err := m.openDevice(Record{Session: Session{ID: "another"}, SealedDevice: sealed[i]}); err == nil {
			t.Fatalf("device %d opens as another session's", i)
		}
	}
}
