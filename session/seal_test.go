package session

import (
	"net/netip"
	"testing"
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
			got, err := decodeDevice(encodeDevice(tt.d))
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.d {
				t.Fatalf("round trip = %+v, want %+v", got, tt.d)
			}
		})
	}
	for _, bad := range [][]byte{nil, make([]byte, deviceLen-1), append(make([]byte, deviceLen), 0)} {
		if _, err := decodeDevice(bad); err == nil {
			t.Errorf("decodeDevice(%d bytes) accepted", len(bad))
		}
	}
	b := encodeDevice(Device{IPv6Prefix: netip.MustParsePrefix("2001:db8::/32")})
	b[39] = 200 // a prefix length no address has
	if _, err := decodeDevice(b); err == nil {
		t.Error("decodeDevice accepted prefix length 200")
	}
}

func FuzzDecodeDevice(f *testing.F) {
	f.Add(encodeDevice(Device{IP: netip.MustParseAddr("10.0.0.1"), HasMAC: true}))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeDevice(b)
		if err != nil {
			return
		}
		again, err := decodeDevice(encodeDevice(d))
		if err != nil || again != d {
			t.Fatalf("re-encoding %+v gave %+v, %v", d, again, err)
		}
	})
}
