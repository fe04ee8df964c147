//go:build !linux

package sqlite

import "errors"

// idlePolicy: only Linux has SCHED_IDLE; elsewhere checkpoints run at
// the syncer's own priority.
func idlePolicy() error { return errors.ErrUnsupported }
