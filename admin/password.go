package admin

import (
	"strings"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/bcrypt"
)

// HashPassword returns an argon2id hash of password with the library's
// recommended parameters (RFC 9106 second recommended option).
func HashPassword(password string) (string, error) {
	return argon2id.CreateHash(password, argon2id.DefaultParams)
}

// checkPassword compares in constant time; an unknown hash format never
// matches.
func checkPassword(hash, password string) bool {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		ok, err := argon2id.ComparePasswordAndHash(password, hash)
		return err == nil && ok
	case strings.HasPrefix(hash, "$2"):
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
	}
	return false
}
