package vendor

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"time"
)

// ErrController is a controller (UniFi, Omada) that could not be reached,
// refused the portal's account, or refused to let the device through. The
// device is then not online, whatever its session says.
var ErrController = errors.New("vendor: controller")

// ControllerOptions are what the portal needs to reach a controller's API.
type ControllerOptions struct {
	// URL is the controller's base URL (https://unifi.example:8443).
	URL string
	// Username and Password are the controller account the portal signs in
	// with (UniFi: a hotspot operator; Omada: a hotspot operator).
	Username, Password string
	// TLS checks the controller's certificate; nil means the system's roots.
	TLS *tls.Config
	// Timeout bounds each request; 0 means 5 seconds.
	Timeout time.Duration
}

// ControllerTLS is how the portal checks a controller's certificate.
// Controllers commonly run with a self-signed certificate: CAFile names the
// certificate (or the CA that signed it) to trust; InsecureSkipVerify turns
// verification off altogether, which lets anyone on the path between portal
// and controller read the controller account's password.
type ControllerTLS struct {
	CAFile             string
	InsecureSkipVerify bool
}

// Config returns the tls.Config for t: nil (the system roots) when neither
// field is set. The CA file must hold at least one PEM certificate.
func (t ControllerTLS) Config() (*tls.Config, error) {
	switch {
	case t.CAFile != "" && t.InsecureSkipVerify:
		return nil, errors.New("a CA file and insecure_skip_verify exclude each other")
	case t.InsecureSkipVerify:
		// The operator asked for it explicitly; the portal logs a warning at
		// start.
		return &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}, nil
	case t.CAFile == "":
		return nil, nil
	}
	pem, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", t.CAFile)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// newControllerHTTP checks o and returns the controller's base URL (without
// a trailing slash) and an HTTP client with a cookie jar that never follows
// redirects: a controller answering with one is misconfigured or logged out,
// and the account's password must not be carried elsewhere.
func newControllerHTTP(o ControllerOptions) (*url.URL, *http.Client, error) {
	u, err := url.Parse(strings.TrimSuffix(o.URL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return nil, nil, fmt.Errorf("vendor: controller URL %q is not an absolute http(s) URL", o.URL)
	}
	jar, _ := cookiejar.New(nil)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = o.TLS
	transport.Proxy = nil // the controller is on the town's network
	return u, &http.Client{
		Jar: jar, Timeout: timeout, Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// clip shortens a controller's message for an error (and so a log line).
func clip(s string) string {
	const n = 160
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
