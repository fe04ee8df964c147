package session

import "context"

// AdminStore is implemented by stores that keep the admin listener's
// sign-out state: a generation per admin user name, raised when that admin
// signs out. Admin tokens carry the generation they were issued under, and
// one issued under an older generation is refused — after a restart too,
// and on every gateway that shares the store. Sessions of citizens are not
// involved; the store is merely the one durable, shared place there is.
type AdminStore interface {
	// AdminGeneration returns the current generation of the admin called
	// name: 0 if it was never raised.
	AdminGeneration(ctx context.Context, name string) (uint64, error)
	// RaiseAdminGeneration raises it by one, atomically (two gateways
	// raising at once raise it by two), and returns the new value.
	RaiseAdminGeneration(ctx context.Context, name string) (uint64, error)
}
