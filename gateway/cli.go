package gateway

import (
	"roamgate/admin"
	"roamgate/session"
)

// What the subcommands of cmd/roamgate need from the packages gateway wires,
// so that the command imports gateway only (DESIGN §2): flags and output
// there, everything else here.

// Crisis is the crisis switch `roamgate crisis on|off` hands to
// SwitchCrisis. An alias, not a copy: the store keeps exactly this.
type Crisis = session.Crisis

// CrisisLink is one link of the crisis banner (`-link TITLE|URL`).
type CrisisLink = session.CrisisLink

// HashPassword returns the argon2id hash `roamgate hash-password` prints
// for admin.users[].password_hash — the one the admin checks logins against.
func HashPassword(password string) (string, error) {
	return admin.HashPassword(password)
}
