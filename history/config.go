package history

import (
	"errors"
	"fmt"
	"time"
)

// Config is the retention of the history (the config's "retention" key).
type Config struct {
	// Raw is how long raw session events (and the per-period device hashes
	// used to count distinct devices) are kept; default 7 days. At least
	// one day, so that a day's distinct devices are counted once.
	Raw time.Duration `yaml:"raw"`
	// Aggregates is how long the hourly and daily counts are kept; default
	// 400 days (a year and a month, for the year-on-year report).
	Aggregates time.Duration `yaml:"aggregates"`
}

// DefaultConfig keeps raw events a week and aggregates 400 days.
func DefaultConfig() Config {
	return Config{Raw: 7 * 24 * time.Hour, Aggregates: 400 * 24 * time.Hour}
}

// Validate names the key path of every problem.
func (c Config) Validate() error {
	var errs []error
	if c.Raw < 24*time.Hour {
		errs = append(errs, fmt.Errorf("retention.raw: %s is shorter than one day", c.Raw))
	}
	if c.Aggregates < c.Raw {
		errs = append(errs, fmt.Errorf("retention.aggregates: %s is shorter than retention.raw", c.Aggregates))
	}
	return errors.Join(errs...)
}
