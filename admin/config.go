package admin

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

// Config configures the admin listener.
type Config struct {
	// Listen is the TCP address; default 127.0.0.1:9080 (loopback only).
	Listen string `yaml:"listen"`
	// Users may sign in; with none, the gateway creates the demo user
	// "admin" with a generated password that it prints at start.
	Users []User `yaml:"users"`
}

// User is an admin account.
type User struct {
	// Name is the login name.
	Name string `yaml:"name"`
	// PasswordHash is an argon2id ("$argon2id$…", from roamgate
	// hash-password) or bcrypt ("$2a$…", "$2b$…") hash.
	PasswordHash string `yaml:"password_hash"`
}

// DefaultConfig is the demo admin listener.
func DefaultConfig() Config { return Config{Listen: "127.0.0.1:9080"} }

// Validate names the key path of every problem.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("admin.listen: %q is not host:port", c.Listen))
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
	}
	return errors.Join(errs...)
}

func knownHash(h string) bool {
	for _, p := range []string{"$argon2id$", "$2a$", "$2b$", "$2y$"} {
		if strings.HasPrefix(h, p) {
			return true
		}
	}
	return false
}
