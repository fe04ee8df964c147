package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// sealer encrypts what a store keeps of a session beyond plain facts: the
// token and the device (AES-256-GCM under a key derived from the site key).
// The additional data binds each sealed value to the record it belongs to.
type sealer struct{ aead cipher.AEAD }

func newSealer(siteKey []byte) (*sealer, error) {
	mac := hmac.New(sha256.New, siteKey)
	mac.Write([]byte("roamgate token at rest v1"))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(aad string, plain []byte) ([]byte, error) {
	return s.sealBytes([]byte(aad), plain)
}

func (s *sealer) sealBytes(aad, plain []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	nonce := make([]byte, n, n+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plain, aad), nil
}

var errSealed = errors.New("session: sealed value does not open")

func (s *sealer) open(aad string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("%w: too short", errSealed)
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, errSealed
	}
	return plain, nil
}

// tokenAAD binds a sealed token to every column of the record that is fixed
// between two seals of its token (sign-in, re-bind) and that grants
// something or says what was granted: the ID, the MAC key (MAC
// authentication), the expiry, the network (bandwidth; lifetime), the
// creation (the token's nbf; which session a shared MAC goes to), the start
// location, the crisis flag and the random-MAC flag. Opening it therefore
// proves that these columns are as this gateway wrote them when it signed
// the token: a restart can trust a record after one AES-GCM open instead of
// an Ed25519 verification (about 1 µs instead of 50 µs — a million sessions
// load in seconds), and editing the database (another device's MAC key, a
// later expiry, another network, a copied token) grants nothing without the
// site key. What changes with every report (presence, octets, roams) grants
// nothing; LastSeen, which keeps a session from going idle, is sealed with
// the device (see sealDevice).
//
// Version 2 (issue 11): version 1 covered the ID, MAC key and expiry only.
func tokenAAD(s Session) string {
	return "token2\x00" + s.ID + "\x00" + string(s.MACKey) + "\x00" + strconv.FormatInt(s.Expires.Unix(), 10) +
		"\x00" + strconv.FormatInt(s.Created.Unix(), 10) + "\x00" + s.Network + "\x00" + s.Location +
		"\x00" + flag(s.Crisis) + flag(s.RandomMAC)
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// tokenAADv1 is what roamgate sealed tokens with before version 2.
func tokenAADv1(id string, key MACKey, expires time.Time) string {
	return "token\x00" + id + "\x00" + string(key) + "\x00" + strconv.FormatInt(expires.Unix(), 10)
}

func (m *Manager) sealToken(s Session, token string) ([]byte, error) {
	return m.sealer.seal(tokenAAD(s), []byte(token))
}

// openToken opens a record's sealed token and reports whether it was sealed
// by version 1. A version-1 seal vouches for the ID, MAC key and expiry
// only, so the claims of the token inside must agree with the rest it can
// speak for: subject, MAC key, expiry, and nbf (the creation). The columns
// no claim covers (network, start location, crisis, random MAC) are taken
// as they are: such records were written before the upgrade, and all of
// them expire within one session lifetime of it, after which every record
// carries a version-2 seal.
func (m *Manager) openToken(r Record) (v1 bool, err error) {
	if _, err := m.sealer.open(tokenAAD(r.Session), r.SealedToken); err == nil {
		return false, nil
	}
	plain, err := m.sealer.open(tokenAADv1(r.ID, r.MACKey, r.Expires), r.SealedToken)
	if err != nil {
		return false, err
	}
	var c Claims
	if _, _, err := jwt.NewParser().ParseUnverified(string(plain), &c); err != nil {
		return true, fmt.Errorf("%w: %v", errSealed, err)
	}
	switch {
	case c.Subject != r.ID, c.MACKey != r.MACKey,
		c.ExpiresAt == nil || c.ExpiresAt.Unix() != r.Expires.Unix(),
		c.NotBefore == nil || c.NotBefore.Unix() != r.Created.Unix():
		return true, fmt.Errorf("%w: the token's claims do not match the record", errSealed)
	}
	return true, nil
}

// deviceAAD binds a sealed device to its session and keeps it from being
// swapped with the session's sealed token.
func deviceAAD(id string) string { return deviceAADPrefix + id }

const deviceAADPrefix = "device\x00"

// Device encoding: one flag byte, then the MAC, the address and the prefix
// in fixed places (41 bytes), then since version 2 the session's LastSeen
// (8 bytes, Unix nanoseconds; 49 bytes in all): compact, and decoded
// without parsing text. Flags added later (devAddrByNAS, devAddrCurrent)
// are zero in what older versions sealed, which reads as "not vouched for".
const (
	devMAC = 1 << iota
	devIP
	devPrefix
	devIP4
	devPrefix4
	devAddrByNAS
	devAddrCurrent
	deviceLenV1 = 1 + 6 + 16 + 16 + 1
	deviceLen   = deviceLenV1 + 8
)

func encodeDevice(d Device, lastSeen time.Time) []byte {
	return appendDevice(nil, d, lastSeen)
}

// appendDevice appends d encoded to dst.
func appendDevice(dst []byte, d Device, lastSeen time.Time) []byte {
	dst = append(dst, make([]byte, deviceLen)...)
	b := dst[len(dst)-deviceLen:]
	if d.HasMAC {
		b[0] |= devMAC
		copy(b[1:7], d.MAC[:])
	}
	if d.IP.IsValid() {
		b[0] |= devIP
		if d.IP.Is4() {
			b[0] |= devIP4
		}
		a := d.IP.As16()
		copy(b[7:23], a[:])
	}
	if d.IPv6Prefix.IsValid() {
		b[0] |= devPrefix
		if d.IPv6Prefix.Addr().Is4() {
			b[0] |= devPrefix4
		}
		a := d.IPv6Prefix.Addr().As16()
		copy(b[23:39], a[:])
		b[39] = byte(d.IPv6Prefix.Bits())
	}
	if d.AddrByNAS {
		b[0] |= devAddrByNAS
	}
	if d.AddrCurrent {
		b[0] |= devAddrCurrent
	}
	var ns int64
	if !lastSeen.IsZero() {
		ns = lastSeen.UnixNano()
	}
	binary.BigEndian.PutUint64(b[deviceLenV1:], uint64(ns))
	return dst
}

// decodeDevice reads a sealed device; lastSeen is zero when it was sealed
// by version 1, which did not seal it.
func decodeDevice(b []byte) (d Device, lastSeen time.Time, err error) {
	if len(b) != deviceLen && len(b) != deviceLenV1 {
		return d, lastSeen, fmt.Errorf("session: sealed device has %d bytes, want %d", len(b), deviceLen)
	}
	if b[0]&devMAC != 0 {
		copy(d.MAC[:], b[1:7])
		d.HasMAC = true
	}
	if b[0]&devIP != 0 {
		d.IP = netip.AddrFrom16([16]byte(b[7:23]))
		if b[0]&devIP4 != 0 {
			d.IP = d.IP.Unmap()
		}
	}
	if b[0]&devPrefix != 0 {
		a := netip.AddrFrom16([16]byte(b[23:39]))
		if b[0]&devPrefix4 != 0 {
			a = a.Unmap()
		}
		p, err := a.Prefix(int(b[39]))
		if err != nil {
			return Device{}, lastSeen, fmt.Errorf("session: sealed device: %w", err)
		}
		d.IPv6Prefix = p
	}
	d.AddrByNAS = b[0]&devAddrByNAS != 0
	d.AddrCurrent = b[0]&devAddrCurrent != 0
	if len(b) == deviceLen {
		if ns := int64(binary.BigEndian.Uint64(b[deviceLenV1:])); ns != 0 {
			lastSeen = time.Unix(0, ns).UTC()
		}
	}
	return d, lastSeen, nil
}

// sealDevice seals the device with the session's LastSeen: the two are
// written together (Create, and every activity the store gets), and LastSeen
// decides whether the session has gone idle, so a database edit that moves
// it later must not revive the session (see openDevice).
func (m *Manager) sealDevice(id string, d Device, lastSeen time.Time) ([]byte, error) {
	return m.sealer.seal(deviceAAD(id), encodeDevice(d, lastSeen))
}

// deviceScratch is sealDeviceWith's buffers, for a caller that seals many
// devices one after another (the background writer: every move of every
// session), where the additional data and the plaintext were two of the
// three allocations of each seal.
type deviceScratch struct{ aad, plain []byte }

// sealDeviceWith is sealDevice with the buffers of scratch.
func (m *Manager) sealDeviceWith(scratch *deviceScratch, id string, d Device, lastSeen time.Time) ([]byte, error) {
	scratch.aad = append(append(scratch.aad[:0], deviceAADPrefix...), id...)
	scratch.plain = appendDevice(scratch.plain[:0], d, lastSeen)
	return m.sealer.sealBytes(scratch.aad, scratch.plain)
}

// openDevice opens a record's sealed device and returns it with the
// LastSeen the record may be trusted with: the stored column, but never
// later than the sealed one (a sealed device of version 1 carries none,
// and then the column stands). A sealed device that does not open is an
// edited record: its device is lost, and it is not trusted to have been
// seen since it was created.
func (m *Manager) openDevice(r Record) (Device, time.Time, error) {
	if len(r.SealedDevice) == 0 {
		return Device{}, r.LastSeen, nil
	}
	raw, err := m.sealer.open(deviceAAD(r.ID), r.SealedDevice)
	if err != nil {
		return Device{}, r.Created, err
	}
	d, seen, err := decodeDevice(raw)
	if err != nil {
		return Device{}, r.Created, err
	}
	if !seen.IsZero() && seen.Before(r.LastSeen) {
		return d, seen, nil
	}
	return d, r.LastSeen, nil
}
