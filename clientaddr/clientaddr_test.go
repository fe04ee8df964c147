package clientaddr_test

import (
	"net/netip"
	"strings"
	"testing"

	"roamgate/clientaddr"
)

func TestParseProxies(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"10.1.2.3/8", "10.0.0.0/8"},
		{"192.0.2.1", "192.0.2.1/32"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := clientaddr.ParseProxies("x.trusted_proxies", []string{tc.in})
			if err != nil || len(got) != 1 || got[0].String() != tc.want {
				t.Errorf("ParseProxies(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
			}
		})
	}
	_, err := clientaddr.ParseProxies("admin.trusted_proxies", []string{"10.0.0.0/8", "10.0.0.0/33"})
	if err == nil || err.Error() != `admin.trusted_proxies[1]: "10.0.0.0/33" is not a network or address` {
		t.Errorf("bad entry: %v", err)
	}
}

func TestClient(t *testing.T) {
	ps, err := clientaddr.ParseProxies("p", []string{"127.0.0.1", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer, xff, want string
	}{
		{"untrusted peer: header ignored", "192.0.2.9", "203.0.113.7", "192.0.2.9"},
		{"trusted proxy", "127.0.0.1", "203.0.113.7", "203.0.113.7"},
		{"spoofed left part", "127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"},
		{"proxy chain", "127.0.0.1", "203.0.113.7, 10.1.2.3", "203.0.113.7"},
		{"only proxies", "127.0.0.1", "10.1.2.3", "10.1.2.3"},
		{"garbage", "127.0.0.1", "not-an-ip", "127.0.0.1"},
		{"garbage left of the client", "127.0.0.1", "not-an-ip, 203.0.113.7", "203.0.113.7"},
		{"no header", "127.0.0.1", "", "127.0.0.1"},
		{"too long", "127.0.0.1", strings.Repeat("203.0.113.7, ", 100) + "203.0.113.8", "127.0.0.1"},
		{"mapped peer", "::ffff:127.0.0.1", "::ffff:203.0.113.7", "203.0.113.7"},
		{"IPv6 client", "127.0.0.1", "2001:db8::7", "2001:db8::7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ps.Client(netip.MustParseAddr(tc.peer), tc.xff); got != netip.MustParseAddr(tc.want) {
				t.Errorf("Client(%s, %q) = %s, want %s", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}
