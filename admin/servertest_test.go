package admin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roamgate/internal/servertest"
)

// TestServerContract runs the lifecycle every server shares (DESIGN §2a).
func TestServerContract(t *testing.T) {
	sc := newScenario(t)
	users := testUsers(t)
	servertest.Run(t, servertest.Harness{
		Listeners: []servertest.Listener{{Key: "admin.listen", Networks: []string{"tcp"}}},
		New: func(t *testing.T, listen []string) servertest.Server {
			s, err := New(Config{Listen: listen[0], Users: users}, sc.deps())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Addrs: func(s servertest.Server) []netip.AddrPort {
			return []netip.AddrPort{servertest.AddrPort(s.(*Server).Addr())}
		},
		Probe: func(ctx context.Context, s servertest.Server) error {
			return servertest.HTTPGet(ctx, servertest.AddrPort(s.(*Server).Addr()), "/healthz")
		},
		ErrServerClosed: ErrServerClosed,
	})
}

// TestTLSListener: with admin.tls_cert and admin.tls_key the socket Listen
// binds speaks TLS; a key pair that cannot be read is a Listen error
// naming both keys, and nothing is bound.
func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	sc := newScenario(t)

	bad, err := New(Config{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: filepath.Join(dir, "missing.pem")}, sc.deps())
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Listen(); err == nil || !strings.Contains(err.Error(), "admin.tls_cert, admin.tls_key") {
		t.Errorf("Listen with a missing key file = %v, want an error naming admin.tls_cert and admin.tls_key", err)
	}
	if bad.Addr() != nil {
		t.Errorf("bound %v after a failed Listen", bad.Addr())
	}

	s, err := New(Config{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}, sc.deps())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	defer func() {
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	}()
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	resp, err := hc.Get("https://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET https /healthz: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
}
