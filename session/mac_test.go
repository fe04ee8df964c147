package session_test

import (
	"errors"
	"strings"
	"testing"

	"roamgate/session"
)

func TestParseMAC(t *testing.T) {
	const want = "aa:bb:cc:0d:ee:ff"
	tests := []struct {
		name string
		in   string
	}{
		{"colons", "aa:bb:cc:0d:ee:ff"},
		{"colons upper case", "AA:BB:CC:0D:EE:FF"},
		{"dashes (RFC 3580)", "AA-BB-CC-0D-EE-FF"},
		{"dashes lower case", "aa-bb-cc-0d-ee-ff"},
		{"bare (hostapd)", "aabbcc0deeff"},
		{"bare upper case", "AABBCC0DEEFF"},
		{"dots (Cisco)", "aabb.cc0d.eeff"},
		{"dots upper case", "AABB.CC0D.EEFF"},
		{"mixed case", "aA:Bb:cC:0d:EE:ff"},
		{"mixed case bare", "AaBbCc0DeEfF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := session.ParseMAC(tt.in)
			if err != nil {
				t.Fatalf("ParseMAC(%q): %v", tt.in, err)
			}
			if got := m.String(); got != want {
				t.Errorf("ParseMAC(%q) = %s, want %s", tt.in, got, want)
			}
			if m != (session.MAC{0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff}) {
				t.Errorf("ParseMAC(%q) bytes = % x", tt.in, m[:])
			}
			if s, ok := session.ScanMAC(tt.in); !ok || s != m {
				t.Errorf("ScanMAC(%q) = %s, %v; ParseMAC gives %s", tt.in, s, ok, m)
			}
		})
	}
}

func TestParseMACRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"mixed separators", "aa:bb-cc:dd:ee:ff"},
		{"mixed separators late", "aa-bb-cc-dd-ee:ff"},
		{"dots and colons", "aabb.ccdd:eeff"},
		{"dots misplaced", "aab.bccd.deeff"},
		{"colons misplaced", "aab:bc:cd:de:eff"},
		{"other separator", "aa_bb_cc_dd_ee_ff"},
		{"11 digits", "aabbccddeef"},
		{"13 digits", "aabbccddeeff0"},
		{"five groups", "aa:bb:cc:dd:ee"},
		{"seven groups", "aa:bb:cc:dd:ee:ff:00"},
		{"single-digit group", "a:bb:cc:dd:ee:ff"},
		{"non-hex", "gg:bb:cc:dd:ee:ff"},
		{"non-hex bare", "aabbccddeefg"},
		{"non-hex dots", "aabb.ccdd.eefz"},
		{"sign", "+abbccddeeff"},
		{"0x prefix", "0xaabbccddee"},
		{"EUI-64", "aa:bb:cc:dd:ee:ff:00:11"},
		{"EUI-64 bare", "aabbccddeeff0011"},
		{"EUI-64 dashes", "aa-bb-cc-dd-ee-ff-00-11"},
		{"leading space", " aa:bb:cc:dd:ee:ff"},
		{"trailing space", "aa:bb:cc:dd:ee:ff "},
		{"trailing newline", "aabbccddeeff\n"},
		{"space separators", "aa bb cc dd ee ff"},
		{"spaces in bare", "aabbcc ddeeff"},
		{"NUL", "aabbccddeef\x00"},
		{"unicode digit", "aabbccddeeف"},
		{"fullwidth digits", "ａａｂｂccddeeff"},
		{"unicode separator", "aa：bb：cc：dd：ee：ff"},
		{"long", strings.Repeat("aa:", 1000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := session.ParseMAC(tt.in)
			if !errors.Is(err, session.ErrInvalidMAC) {
				t.Fatalf("ParseMAC(%q) = %s, %v; want ErrInvalidMAC", tt.in, m, err)
			}
			if !m.IsZero() {
				t.Errorf("ParseMAC(%q) returned %s with its error, want the zero MAC", tt.in, m)
			}
			if s, ok := session.ScanMAC(tt.in); ok || !s.IsZero() {
				t.Errorf("ScanMAC(%q) = %s, %v; want the zero MAC, false", tt.in, s, ok)
			}
			if len(err.Error()) > 256 {
				t.Errorf("error message is %d bytes long: hostile input must be truncated", len(err.Error()))
			}
		})
	}
}

func TestMACBits(t *testing.T) {
	tests := []struct {
		in                 string
		local, multi, zero bool
	}{
		{"00:1a:2b:3c:4d:5e", false, false, false}, // a vendor (OUI) address
		{"02:1a:2b:3c:4d:5e", true, false, false},  // locally administered
		{"da:a1:19:00:00:01", true, false, false},  // a phone's private address
		{"f6:00:00:00:00:00", true, false, false},
		{"01:00:5e:00:00:fb", false, true, false}, // IPv4 multicast
		{"33:33:00:00:00:01", true, true, false},  // IPv6 multicast
		{"ff:ff:ff:ff:ff:ff", true, true, false},  // broadcast
		{"00:00:00:00:00:00", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := session.ParseMAC(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.LocallyAdministered(); got != tt.local {
				t.Errorf("LocallyAdministered = %v, want %v", got, tt.local)
			}
			if got := m.Multicast(); got != tt.multi {
				t.Errorf("Multicast = %v, want %v", got, tt.multi)
			}
			if got := m.IsZero(); got != tt.zero {
				t.Errorf("IsZero = %v, want %v", got, tt.zero)
			}
		})
	}
}

func TestHasher(t *testing.T) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	h, err := session.NewHasher(key)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := session.ParseMAC("aa:bb:cc:dd:ee:ff")
	b, _ := session.ParseMAC("AABB.CCDD.EEFF")
	c, _ := session.ParseMAC("aa:bb:cc:dd:ee:fe")
	ka := h.Key(a)
	if h.Key(b) != ka {
		t.Error("the same MAC in two notations hashes to two keys")
	}
	if h.Key(c) == ka {
		t.Error("two MACs hash to the same key")
	}
	if len(ka) != 64 || strings.Trim(string(ka), "0123456789abcdef") != "" {
		t.Errorf("key %q is not 64 lower-case hex digits", ka)
	}
	if strings.Contains(string(ka), "aabbccddeeff") {
		t.Error("the key contains the MAC")
	}
	other := append([]byte(nil), key...)
	other[0] ^= 1
	h2, err := session.NewHasher(other)
	if err != nil {
		t.Fatal(err)
	}
	if h2.Key(a) == ka {
		t.Error("two site keys give the same MAC key")
	}
	// The hasher keeps its own copy of the site key.
	key[0] ^= 0xff
	if h.Key(a) != ka {
		t.Error("changing the caller's key slice changed the hasher")
	}
	for _, n := range []int{0, 16, 31} {
		if _, err := session.NewHasher(make([]byte, n)); err == nil {
			t.Errorf("NewHasher accepted a %d-byte key", n)
		}
	}
}

func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{
		"aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aabbccddeeff", "aabb.ccdd.eeff",
		"aa:bb-cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:00:11", "", " ", "ａａ:bb:cc:dd:ee:ff",
		"00:00:00:00:00:00", "zz.zzzz.zzzz", "aabb.ccdd:eeff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := session.ParseMAC(s)
		if err != nil {
			if !errors.Is(err, session.ErrInvalidMAC) {
				t.Fatalf("ParseMAC(%q): error %v is not ErrInvalidMAC", s, err)
			}
			return
		}
		norm := m.String()
		again, err := session.ParseMAC(norm)
		if err != nil {
			t.Fatalf("ParseMAC(%q) = %s, which does not parse: %v", s, norm, err)
		}
		if again != m {
			t.Fatalf("ParseMAC(%q) = %s, which parses to %s", s, m, again)
		}
		// Every accepted input is one of the four notations of that MAC.
		bare := strings.ReplaceAll(norm, ":", "")
		forms := []string{norm, strings.ReplaceAll(norm, ":", "-"), bare, bare[0:4] + "." + bare[4:8] + "." + bare[8:12]}
		ok := false
		for _, form := range forms {
			ok = ok || strings.EqualFold(s, form)
		}
		if !ok {
			t.Fatalf("ParseMAC accepted %q, which is none of the notations of %s", s, norm)
		}
	})
}

func BenchmarkParseMAC(b *testing.B) {
	for _, in := range []string{"aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", "aabbccddeeff", "aabb.ccdd.eeff"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := session.ParseMAC(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
