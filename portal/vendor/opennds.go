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
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// openNDS forwarding authentication (FAS) redirects with fas=… (level 1
// and 4: the parameters base64-encoded; level 2 and 3: AES-256-CBC
// encrypted with the faskey, with iv=…). The parameters are "name=value"
// pairs separated by ", ": hid, clientip, clientmac, client_type,
// cpi_query, gatewayname, gatewayurl, version, gatewayaddress, gatewaymac,
// [authdir,] originurl, clientif … (openNDS src/http_microhttpd.c:1476 and
// :1600, version 11.0.0beta). The device is let in by sending it to
// http://<gatewayaddress>/<authdir>/?tok=<sha256(hid ‖ faskey)>&redir=<url>
// (try_to_authenticate, :535-575).
//
// openNDS signs nothing the portal could check: at level 1 the parameters
// are plain base64 that anyone can write, and hid is a hash of a random
// token the portal never sees. At level 2/3 they are encrypted with the
// faskey; a fas that decrypts with it to strictly valid parameters (a
// flipped ciphertext block garbles the block before it) is the best
// evidence there is that the gateway wrote it, and counts as signed. It
// does not stop a replay of a redirect sniffed on the open network.
type opennds struct{}

func (opennds) Name() string        { return OpenNDS }
func (opennds) Detect(q Query) bool { return q("fas") != "" }

// errFAS is an arrival whose fas parameter does not decode or decrypt.
var errFAS = errors.New("vendor: openNDS fas does not decode with the faskey")

func (opennds) Parse(q Query, cfg *Config) (Arrival, int) {
	p := newParser(q)
	a := Arrival{Vendor: OpenNDS}
	// Level 1 writes the base64 into the query unescaped ("?fas=%s",
	// http_microhttpd.c:1500), so its '+' arrive as spaces.
	fasRaw := strings.ReplaceAll(q("fas"), " ", "+")
	fas := p.token("fas", maxOpaque, isBase64, fasRaw)
	iv := p.token("iv", 32, isAlnum)
	if fas == "" {
		a.Params = p.keep
		return a, p.invalid
	}
	plain, key, err := cfg.openNDSDecode(fas, iv)
	var inner map[string]string
	if err == nil {
		inner, err = parseFASParams(plain, iv != "")
	}
	if err != nil {
		p.invalid++
		p.keep.Del("fas")
		p.keep.Del("iv")
		a.Params = p.keep
		if iv != "" {
			// Encrypted, but not with any faskey the portal knows, or
			// altered: nobody's word.
			a.Signature, a.SignatureRequired = SignatureInvalid, true
		} else {
			a.SignatureRequired = cfg.OpenNDSKey != "" || len(cfg.AccessPoints) > 0
		}
		return a, p.invalid
	}
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
	a.Secret = inner["hid"]
	authdir := inner["authdir"]
	if authdir == "" {
		authdir = "opennds_auth" // level 1 sends none; openNDS's default
	}
	gw := inner["gatewayaddress"]
	gwAddr, _ := gatewayAddr(gw)
	if validPathSegment(authdir) && gw != "" && !strings.ContainsAny(gw, "/?#@") {
		if u, err := cfg.loginURL("http://" + gw + "/" + authdir + "/"); err == nil {
			a.LoginURL = u.String()
		}
	}
	cfg.placeOpenNDS(&a, gwAddr, key, iv != "")
	a.Params = p.keep
	return a, p.invalid + ip.invalid
}

// placeOpenNDS finds the gateway of an arrival by its gatewayaddress and
// decides its signature: an encrypted arrival is signed when the faskey
// that decrypted it is that gateway's.
func (cfg *Config) placeOpenNDS(a *Arrival, gw netip.Addr, key string, encrypted bool) {
	aps := cfg.accessPointsFor(gw)
	keyOf := func(ap *AccessPoint) string {
		if ap.FASKey != "" {
			return ap.FASKey
		}
		return cfg.OpenNDSKey
	}
	var chosen *AccessPoint
	if len(aps) > 0 {
		chosen = aps[0]
	}
	if encrypted {
		a.Signature = SignatureInvalid
		if len(aps) == 0 && key == cfg.OpenNDSKey {
			a.Signature = SignatureValid
		}
		for _, ap := range aps {
			if keyOf(ap) == key {
				chosen, a.Signature = ap, SignatureValid
				break
			}
		}
	}
	a.key = cfg.OpenNDSKey
	if chosen != nil {
		a.key = keyOf(chosen)
	}
	if encrypted && a.Signature == SignatureValid {
		a.key = key
	}
	a.SignatureRequired = chosen.requires(a.key)
	a.place(chosen)
}

func gatewayAddr(hostport string) (netip.Addr, bool) {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return ipAddr(host)
}

func (opennds) Authorize(_ context.Context, a Arrival, _ *Config, _ Credentials) (Step, error) {
	if a.LoginURL == "" || a.Secret == "" || a.key == "" {
		return Step{}, ErrNoLogin
	}
	// openNDS answers 403 to an auth request without redir
	// (http_microhttpd.c:1263-1267): with no continue URL the device goes
	// to the gateway itself, which shows it is online.
	redir := a.ContinueURL
	if redir == "" {
		u, _ := url.Parse(a.LoginURL) // checked by Parse
		redir = "http://" + u.Host + "/"
	}
	v := url.Values{"tok": {OpenNDSToken(a.Secret, a.key)}, "redir": {redir}}
	return Step{Kind: StepRedirect, URL: a.LoginURL + "?" + v.Encode()}, nil
}

// openNDSDecode decodes a fas: level 1 (no iv) as base64, level 2/3 with
// the first known faskey that decrypts it; it returns that key.
func (cfg *Config) openNDSDecode(fas, iv string) (plain, key string, err error) {
	if iv == "" {
		plain, err = OpenNDSDecode(fas, "", "")
		return plain, "", err
	}
	keys := []string{}
	for _, ap := range cfg.AccessPoints {
		if ap.FASKey != "" && !slices.Contains(keys, ap.FASKey) {
			keys = append(keys, ap.FASKey)
		}
	}
	if cfg.OpenNDSKey != "" && !slices.Contains(keys, cfg.OpenNDSKey) {
		keys = append(keys, cfg.OpenNDSKey)
	}
	for _, k := range keys {
		if plain, err := OpenNDSDecode(fas, iv, k); err == nil {
			return plain, k, nil
		}
	}
	return "", "", errFAS
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
// wins. hid must be openNDS's sha256sum output (main.c fixes the provider).
// Decrypted parameters (strict) must moreover be printable ASCII with
// names made of letters, digits and '_', and carry a valid client IP and
// MAC and a gateway address: a ciphertext altered without the key decrypts
// to 16 random octets in the block before the change, which fail this.
func parseFASParams(s string, strict bool) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ", ") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if strict && (!ok || k == "" || strings.ContainsAny(k, " ,") || strings.ContainsFunc(kv, func(r rune) bool { return r < 0x20 || r > 0x7e })) {
			if kv == "" {
				continue // the custom parameters end with a separator
			}
			return nil, errFAS
		}
		if !ok || k == "" {
			continue
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	if hid := m["hid"]; len(hid) != 2*sha256.Size || strings.IndexFunc(hid, func(r rune) bool { return r > 0x7f || !isHex(byte(r)) }) >= 0 {
		return nil, errFAS
	}
	if strict {
		_, ipOK := ipAddr(m["clientip"])
		_, macOK := DeviceMAC(m["clientmac"])
		_, gwOK := gatewayAddr(m["gatewayaddress"])
		if !ipOK || !macOK || !gwOK {
			return nil, errFAS
		}
	}
	return m, nil
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
