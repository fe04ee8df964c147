package portal

import (
	"strings"
	"testing"
)

func TestCSRFGuard(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	g, err := newCSRFGuard(key)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := newCSRFGuard([]byte(strings.Repeat("o", 32)))
	nonce, err := g.nonce()
	if err != nil {
		t.Fatal(err)
	}
	nonce2, _ := g.nonce()
	if nonce == nonce2 {
		t.Fatal("two nonces are equal")
	}
	tok := g.token(nonce)
	flipped := []byte(tok)
	flipped[len(flipped)-1] ^= 1
	cases := []struct {
		name         string
		nonce, token string
		want         bool
	}{
		{"valid", nonce, tok, true},
		{"other nonce", nonce2, tok, false},
		{"flipped token", nonce, string(flipped), false},
		{"other key", nonce, other.token(nonce), false},
		{"empty", "", "", false},
		{"empty token", nonce, "", false},
		{"token as nonce", tok, g.token(tok), true}, // any well-formed nonce signs
		{"short nonce", "abc", g.token("abc"), false},
		{"non-base64 nonce", strings.Repeat("!", 43), g.token(strings.Repeat("!", 43)), false},
		{"long token", nonce, tok + "A", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := g.valid(tc.nonce, tc.token); got != tc.want {
				t.Errorf("valid = %v, want %v", got, tc.want)
			}
		})
	}
	random, err := newCSRFGuard(nil)
	if err != nil {
		t.Fatal(err)
	}
	if random.valid(nonce, tok) {
		t.Error("a random-key guard accepted another key's token")
	}
}
