package vendor

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
)

// openNDS forwarding authentication (FAS) redirects with fas=… (level 1: the
// parameters base64-encoded; level 3: AES-256-CBC encrypted with the faskey,
// with iv=…). The parameters are "name=value" pairs separated by ", ":
// clientip, clientmac, gatewayname, hid, gatewayaddress, gatewaymac, authdir,
// originurl, clientif … The device is let in by sending it to
// http://<gatewayaddress>/<authdir>/?tok=<sha256(hid ‖ faskey)>&redir=<originurl>.
type opennds struct{}

func (opennds) Name() string        { return OpenNDS }
func (opennds) Detect(q Query) bool { return q("fas") != "" }

// errFAS is an arrival whose fas parameter does not decode or decrypt.
var errFAS = errors.New("vendor: openNDS fas does not decode with the faskey")

func (opennds) Parse(q Query, cfg *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: OpenNDS}
	fas := p.token("fas", maxOpaque, isBase64)
	iv := p.token("iv", 32, isAlnum)
	if fas == "" {
		a.Params = p.keep
		return a, p.invalid
	}
	plain, err := OpenNDSDecode(fas, iv, cfg.OpenNDSKey)
	if err != nil {
		p.invalid++
		p.keep.Del("fas")
		p.keep.Del("iv")
		a.Params = p.keep
		return a, p.invalid
	}
	inner := parseFASParams(plain)
	ip := newParser(func(name string) string { return inner[name] })
	a.ClientMAC, a.HasMAC = ip.mac("clientmac")
	a.APMAC, a.HasAP = ip.mac("gatewaymac")
	a.ClientIP = ip.ip("clientip")
	a.NASID = ip.text("gatewayname", maxText)
	origin := inner["originurl"]
	if strings.Contains(origin, "%3A") || strings.Contains(origin, "%3a") {
		if u, err := url.QueryUnescape(origin); err == nil {
			origin = u
		}
	}
	a.ContinueURL, _ = ContinueURL(origin)
	if hid := inner["hid"]; len(hid) >= 16 && len(hid) <= 128 && strings.IndexFunc(hid, func(r rune) bool { return r > 0x7f || !isAlnum(byte(r)) }) < 0 {
		a.Secret = hid
	}
	authdir := inner["authdir"]
	if authdir == "" {
		authdir = "opennds_auth"
	}
	gw := inner["gatewayaddress"]
	if validPathSegment(authdir) && gw != "" && !strings.ContainsAny(gw, "/?#@") {
		if u, err := cfg.loginURL("http://" + gw + "/" + authdir + "/"); err == nil {
			a.LoginURL = u.String()
		}
	}
	a.Params = p.keep
	return a, p.invalid + ip.invalid
}

func (opennds) Authorize(_ context.Context, a Arrival, cfg *Config, _ Credentials) (Step, error) {
	if a.LoginURL == "" || a.Secret == "" || cfg.OpenNDSKey == "" {
		return Step{}, ErrNoLogin
	}
	v := url.Values{"tok": {OpenNDSToken(a.Secret, cfg.OpenNDSKey)}}
	if a.ContinueURL != "" {
		v.Set("redir", a.ContinueURL)
	}
	return Step{Kind: StepRedirect, URL: a.LoginURL + "?" + v.Encode()}, nil
}

// OpenNDSToken is the tok openNDS expects for a hid: hex(sha256(hid ‖ faskey)).
func OpenNDSToken(hid, faskey string) string {
	sum := sha256.Sum256([]byte(strings.TrimSpace(hid) + strings.TrimSpace(faskey)))
	return hex.EncodeToString(sum[:])
}

// OpenNDSDecode returns the parameter string of a fas value: base64 (level
// 1) when iv is empty, else AES-256-CBC with the faskey (level 3) as
// openNDS's PHP FAS scripts decrypt it (base64 of openssl's base64 output;
// the key is the faskey's bytes, zero-padded to 32; the iv its 16 characters).
func OpenNDSDecode(fas, iv, faskey string) (string, error) {
	outer, err := decodeBase64(fas)
	if err != nil {
		return "", errFAS
	}
	if iv == "" {
		if !bytes.Contains(outer, []byte("hid=")) {
			return "", errFAS
		}
		return string(outer), nil
	}
	if faskey == "" || len(iv) != aes.BlockSize {
		return "", errFAS
	}
	ct, err := decodeBase64(string(outer))
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return "", errFAS
	}
	block, err := aes.NewCipher(openNDSKey(faskey))
	if err != nil {
		return "", errFAS
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, []byte(iv)).CryptBlocks(plain, ct)
	n := int(plain[len(plain)-1])
	if n == 0 || n > aes.BlockSize || n > len(plain) {
		return "", errFAS
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			return "", errFAS
		}
	}
	plain = plain[:len(plain)-n]
	if !bytes.Contains(plain, []byte("hid=")) {
		return "", errFAS
	}
	return string(plain), nil
}

// OpenNDSEncrypt is the inverse of OpenNDSDecode for level 3, as openNDS
// encrypts: for tests and tools.
func OpenNDSEncrypt(plain, iv, faskey string) string {
	block, err := aes.NewCipher(openNDSKey(faskey))
	if err != nil || len(iv) != aes.BlockSize {
		return ""
	}
	n := aes.BlockSize - len(plain)%aes.BlockSize
	buf := append([]byte(plain), bytes.Repeat([]byte{byte(n)}, n)...)
	cipher.NewCBCEncrypter(block, []byte(iv)).CryptBlocks(buf, buf)
	inner := base64.StdEncoding.EncodeToString(buf)
	return base64.StdEncoding.EncodeToString([]byte(inner))
}

func openNDSKey(faskey string) []byte {
	k := make([]byte, 32)
	copy(k, faskey)
	return k
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.NewReplacer("-", "+", "_", "/").Replace(s)
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}

// parseFASParams splits "a=1, b=2" into a map; the first of a repeated name
// wins.
func parseFASParams(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ", ") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			continue
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return m
}

func validPathSegment(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '_' && s[i] != '-' {
			return false
		}
	}
	return true
}
