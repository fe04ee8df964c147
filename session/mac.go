package session

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"sync"
)

// ErrInvalidMAC is returned (wrapped) for any string that is not a MAC address
// in one of the notations access points send.
var ErrInvalidMAC = errors.New("session: invalid MAC address")

// MAC is a 48-bit IEEE 802 MAC address.
type MAC [6]byte

// ParseMAC accepts the notations access points put into RADIUS attributes and
// redirect URLs: aa:bb:cc:dd:ee:ff, AA-BB-CC-DD-EE-FF (RFC 3580),
// aabbccddeeff (hostapd), aabb.ccdd.eeff (Cisco), in any letter case.
// Everything else, including EUI-64 and mixed separators, is rejected.
func ParseMAC(s string) (MAC, error) {
	m, problem, pos := scanMAC(s)
	switch {
	case problem == "":
		return m, nil
	case pos > 0:
		return MAC{}, fmt.Errorf("%w: %q: %s %d", ErrInvalidMAC, truncate(s), problem, pos)
	}
	return MAC{}, fmt.Errorf("%w: %q: %s", ErrInvalidMAC, truncate(s), problem)
}

// ScanMAC is ParseMAC without the error, for hot paths: it keeps nothing
// of s, so that s may alias a buffer that is reused (a datagram, a
// decrypted password on the stack) without escaping to the heap.
func ScanMAC(s string) (MAC, bool) {
	m, problem, _ := scanMAC(s)
	return m, problem == ""
}

// scanMAC parses s; problem (with a position, if pos > 0) says what is
// wrong, "" if nothing.
func scanMAC(s string) (m MAC, problem string, pos int) {
	var digits [12]byte
	n := 0
	switch len(s) {
	case 12: // aabbccddeeff
		copy(digits[:], s)
		n = 12
	case 14: // aabb.ccdd.eeff
		for i := 0; i < len(s); i++ {
			if i%5 == 4 {
				if s[i] != '.' {
					return MAC{}, "expected '.' at position", i + 1
				}
				continue
			}
			digits[n] = s[i]
			n++
		}
	case 17: // aa:bb:cc:dd:ee:ff or aa-bb-cc-dd-ee-ff
		sep := s[2]
		if sep != ':' && sep != '-' {
			return MAC{}, "separator must be ':' or '-'", 0
		}
		for i := 0; i < len(s); i++ {
			if i%3 == 2 {
				if s[i] != sep {
					return MAC{}, "mixed or misplaced separators", 0
				}
				continue
			}
			digits[n] = s[i]
			n++
		}
	default:
		return MAC{}, "want 12 hex digits as aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff, aabbccddeeff or aabb.ccdd.eeff", 0
	}
	if _, err := hex.Decode(m[:], digits[:n]); err != nil {
		return MAC{}, "not hexadecimal", 0
	}
	return m, "", 0
}

// truncate keeps hostile input from blowing up error messages and logs.
func truncate(s string) string {
	const limit = 32
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

// String returns the normalised form, lower case with colons.
func (m MAC) String() string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hexdigits[x>>4], hexdigits[x&0x0f])
	}
	return string(b)
}

// LocallyAdministered reports whether the address is a locally administered
// one, which is what phones use for their per-network random ("private") MAC.
func (m MAC) LocallyAdministered() bool { return m[0]&0x02 != 0 }

// Multicast reports whether the group bit is set; no device has such a source
// address, so it is never a valid client.
func (m MAC) Multicast() bool { return m[0]&0x01 != 0 }

// IsZero reports whether m is the all-zero address.
func (m MAC) IsZero() bool { return m == MAC{} }

// MACKey is the keyed hash of a MAC address, hex encoded. It is how sessions
// are found by device without the MAC itself ever being stored.
type MACKey string

// Hasher turns MAC addresses into MACKeys with HMAC-SHA256 under the site key.
// It is safe for concurrent use; HMAC states are pooled because Key is on the
// RADIUS hot path, with the buffers they write and sum into (passed to the
// hash through an interface, they would be allocated by every call).
type Hasher struct{ pool sync.Pool }

type hmacState struct {
	h   hash.Hash
	mac MAC
	sum [sha256.Size]byte
}

// NewHasher returns a Hasher for the given site key (at least 32 bytes).
func NewHasher(siteKey []byte) (*Hasher, error) {
	if len(siteKey) < 32 {
		return nil, fmt.Errorf("session: site key has %d bytes, need at least 32", len(siteKey))
	}
	key := append([]byte(nil), siteKey...)
	h := &Hasher{}
	h.pool.New = func() any { return &hmacState{h: hmac.New(sha256.New, key)} }
	return h, nil
}

// Key returns the MACKey of m.
func (h *Hasher) Key(m MAC) MACKey {
	sum := h.sum(m)
	var out [2 * sha256.Size]byte
	hex.Encode(out[:], sum[:])
	return MACKey(out[:])
}

// macSum is a MACKey as the index holds it: the 32 bytes of the hash
// rather than 64 hex digits in a string of their own. A map compares it in
// place, where a string key means following a pointer to another cache
// line, and the RADIUS hot path finds a session without encoding (or
// allocating) the key.
type macSum [sha256.Size]byte

// sum returns the hash of m, the bytes Key encodes.
func (h *Hasher) sum(m MAC) macSum {
	st := h.pool.Get().(*hmacState)
	st.h.Reset()
	st.mac = m
	st.h.Write(st.mac[:])
	st.h.Sum(st.sum[:0])
	out := macSum(st.sum)
	h.pool.Put(st)
	return out
}

// sum returns the bytes of k as Hasher.sum made them. A key Key did not
// make (only tests make others) is hashed with SHA-256, so that it still
// has one index slot of its own: to land on the slot of a real key it
// would need a SHA-256 preimage of that key's HMAC.
func (k MACKey) sum() macSum {
	var s macSum
	if len(k) == hex.EncodedLen(len(s)) {
		if _, err := hex.Decode(s[:], []byte(k)); err == nil {
			return s
		}
	}
	return sha256.Sum256([]byte(k))
}
