package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
)

// sealer encrypts tokens at rest (AES-256-GCM, the session ID as additional
// data so a sealed token cannot be moved to another session).
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

func (s *sealer) seal(id, token string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(token)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(token), []byte(id)), nil
}

var errSealed = errors.New("session: sealed token does not open")

func (s *sealer) open(id string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return "", fmt.Errorf("%w: too short", errSealed)
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return "", errSealed
	}
	return string(plain), nil
}

// sealedDevice is the on-disk form of a Device before sealing.
type sealedDevice struct {
	MAC        string `json:"m,omitempty"`
	IP         string `json:"ip,omitempty"`
	IPv6Prefix string `json:"p6,omitempty"`
}

// deviceAAD binds a sealed device to its session and keeps it from being
// swapped with the session's sealed token.
func deviceAAD(id string) string { return id + "/device" }

func (m *Manager) sealDevice(id string, d Device) ([]byte, error) {
	var sd sealedDevice
	if d.HasMAC {
		sd.MAC = d.MAC.String()
	}
	if d.IP.IsValid() {
		sd.IP = d.IP.String()
	}
	if d.IPv6Prefix.IsValid() {
		sd.IPv6Prefix = d.IPv6Prefix.String()
	}
	raw, err := json.Marshal(sd)
	if err != nil {
		return nil, err
	}
	return m.sealer.seal(deviceAAD(id), string(raw))
}

func (m *Manager) openDevice(id string, sealed []byte) (Device, error) {
	var d Device
	if len(sealed) == 0 {
		return d, nil
	}
	raw, err := m.sealer.open(deviceAAD(id), sealed)
	if err != nil {
		return d, err
	}
	var sd sealedDevice
	if err := json.Unmarshal([]byte(raw), &sd); err != nil {
		return d, fmt.Errorf("session: sealed device: %w", err)
	}
	if sd.MAC != "" {
		if d.MAC, err = ParseMAC(sd.MAC); err != nil {
			return Device{}, err
		}
		d.HasMAC = true
	}
	if sd.IP != "" {
		if d.IP, err = netip.ParseAddr(sd.IP); err != nil {
			return Device{}, fmt.Errorf("session: sealed device: %w", err)
		}
	}
	if sd.IPv6Prefix != "" {
		if d.IPv6Prefix, err = netip.ParsePrefix(sd.IPv6Prefix); err != nil {
			return Device{}, fmt.Errorf("session: sealed device: %w", err)
		}
	}
	return d, nil
}
