package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
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
