package admin

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"roamgate/clientaddr"
)

// Config configures the admin listener.
type Config struct {
	// Listen is the TCP address; default 127.0.0.1:9080 (loopback only).
	// Any other address needs TLSCert and TLSKey, or InsecureListen.
	Listen string `yaml:"listen"`
	// TLSCert and TLSKey are PEM files; with both set the listener speaks
	// HTTPS and the session cookie is marked Secure.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// InsecureListen allows plain HTTP on a non-loopback address, for a
	// reverse proxy with TLS on the same trusted network.
	InsecureListen bool `yaml:"insecure_listen"`
	// TrustedProxies are the networks (CIDRs, or single addresses) of
	// reverse proxies in front of the admin listener, as
	// portal.trusted_proxies is for the portal. Only requests from them
	// have their X-Forwarded-For believed, so that the sign-in limits slow
	// down the client behind the proxy, not the proxy. Default none.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Users may sign in; with none, the gateway creates the demo user
	// "admin" with a generated password that it prints at start.
	Users []User `yaml:"users"`
}

// Role says what an admin may do.
type Role string

// Roles. A viewer sees counts and sessions; an operator may also revoke.
const (
	Viewer   Role = "viewer"
	Operator Role = "operator"
)

// User is an admin account.
type User struct {
	// Name is the login name.
	Name string `yaml:"name"`
	// PasswordHash is an argon2id ("$argon2id$…", from roamgate
	// hash-password) or bcrypt ("$2a$…", "$2b$…") hash.
	PasswordHash string `yaml:"password_hash"`
	// Role is viewer (the default: least privilege) or operator.
	Role Role `yaml:"role"`
}

func (u User) role() Role {
	if u.Role == "" {
		return Viewer
	}
	return u.Role
}

// DefaultConfig is the demo admin listener.
func DefaultConfig() Config { return Config{Listen: "127.0.0.1:9080"} }

// Validate names the key path of every problem.
func (c Config) Validate() error {
	var errs []error
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		errs = append(errs, fmt.Errorf("admin.listen: %q is not host:port", c.Listen))
	} else if !loopback(host) && !c.tls() && !c.InsecureListen {
		errs = append(errs, fmt.Errorf("admin.listen: %q is not a loopback address; set admin.tls_cert and admin.tls_key, or admin.insecure_listen: true behind a TLS reverse proxy", c.Listen))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("admin.tls_cert, admin.tls_key: set both or neither"))
	}
	if _, err := clientaddr.ParseProxies("admin.trusted_proxies", c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	for i, u := range c.Users {
		key := fmt.Sprintf("admin.users[%d]", i)
		switch {
		case u.Name == "":
			errs = append(errs, fmt.Errorf("%s.name: missing", key))
		case seen[u.Name]:
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", key, u.Name))
		}
		seen[u.Name] = true
		if !knownHash(u.PasswordHash) {
			errs = append(errs, fmt.Errorf("%s.password_hash: missing or not an argon2id or bcrypt hash (make one with roamgate hash-password)", key))
		}
		if u.Role != "" && u.Role != Viewer && u.Role != Operator {
			errs = append(errs, fmt.Errorf("%s.role: %q is not viewer or operator", key, u.Role))
		}
	}
	return errors.Join(errs...)
}

func (c Config) tls() bool { return c.TLSCert != "" && c.TLSKey != "" }

// loopback reports whether host names only loopback: "localhost" or an
// address in 127.0.0.0/8 or ::1. An empty host means every interface.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func knownHash(h string) bool {
	for _, p := range []string{"$argon2id$", "$2a$", "$2b$", "$2y$"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}
