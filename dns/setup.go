package dns

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	mdns "github.com/miekg/dns"
)

func init() { plugin.Register("captive", setup) }

// binding is what an embedding program hands the plugin that a Corefile
// cannot carry: the session index and the counters.
type binding struct {
	sessions Sessions
	metrics  *Metrics
	// setUp, if not nil, is told the config of the server block the
	// plugin is set up in (Server.Shutdown stops forward's connections
	// through it).
	setUp func(*dnsserver.Config)
}

// bindings maps the Corefile's "sessions NAME" to its binding.
var bindings sync.Map // string → binding

// captiveConfig is a parsed captive directive.
type captiveConfig struct {
	sessions string
	v4, v6   netip.Addr
	ttl      uint32
	garden   []string
	limits   Limits
}

func setup(c *caddy.Controller) error {
	cfg, err := parse(c)
	if err != nil {
		return plugin.Error("captive", err)
	}
	b, ok := bindings.Load(cfg.sessions)
	if !ok {
		return plugin.Error("captive", fmt.Errorf("no session index registered as %q: the captive plugin runs embedded in roamgate only", cfg.sessions))
	}
	bd := b.(binding)
	h := NewCaptive(bd.sessions, cfg.v4, cfg.v6, cfg.ttl, cfg.garden, bd.metrics)
	h.SetLimits(cfg.limits)
	if bd.setUp != nil {
		bd.setUp(dnsserver.GetConfig(c))
	}
	dnsserver.GetConfig(c).AddPlugin(func(next plugin.Handler) plugin.Handler {
		h.Next = next
		return h
	})
	return nil
}

// parse reads
//
//	captive {
//	    sessions NAME
//	    portal_ip IPV4
//	    [portal_ipv6 IPV6]
//	    [ttl SECONDS]
//	    [walled_garden NAME...]
//	    [rate_limit QPS [BURST]]
//	    [garden_max_response BYTES]
//	}
//
// Without rate_limit and garden_max_response the defaults apply
// (DefaultRateLimit, DefaultRateBurst, DefaultGardenMaxResponse);
// "rate_limit 0" turns the limit off.
func parse(c *caddy.Controller) (captiveConfig, error) {
	cfg := captiveConfig{limits: Limits{Rate: DefaultRateLimit, Burst: DefaultRateBurst, GardenMaxResponse: DefaultGardenMaxResponse}}
	seen := false
	for c.Next() { // "captive"
		if seen {
			return cfg, c.Err("captive may appear once per server block")
		}
		seen = true
		if len(c.RemainingArgs()) > 0 {
			return cfg, c.ArgErr()
		}
		for c.NextBlock() {
			key := c.Val()
			args := c.RemainingArgs()
			one := func() (string, error) {
				if len(args) != 1 {
					return "", c.Errf("%s takes exactly one argument", key)
				}
				return args[0], nil
			}
			switch key {
			case "sessions":
				v, err := one()
				if err != nil {
					return cfg, err
				}
				cfg.sessions = v
			case "portal_ip":
				v, err := one()
				if err != nil {
					return cfg, err
				}
				a, perr := netip.ParseAddr(v)
				if perr != nil || !a.Is4() {
					return cfg, c.Errf("portal_ip %q is not an IPv4 address", v)
				}
				cfg.v4 = a
			case "portal_ipv6":
				v, err := one()
				if err != nil {
					return cfg, err
				}
				a, perr := netip.ParseAddr(v)
				if perr != nil || !a.Is6() || a.Is4In6() || a.Zone() != "" {
					return cfg, c.Errf("portal_ipv6 %q is not an IPv6 address", v)
				}
				cfg.v6 = a
			case "ttl":
				v, err := one()
				if err != nil {
					return cfg, err
				}
				n, perr := strconv.ParseUint(v, 10, 32)
				if perr != nil || n > MaxTTL {
					return cfg, c.Errf("ttl %q is not between 0 and %d", v, MaxTTL)
				}
				cfg.ttl = uint32(n)
			case "walled_garden":
				if len(args) == 0 {
					return cfg, c.ArgErr()
				}
				for _, n := range args {
					if _, ok := canonicalName(n); !ok {
						return cfg, c.Errf("walled_garden %q is not a domain name", n)
					}
				}
				cfg.garden = append(cfg.garden, args...)
			case "rate_limit":
				if len(args) < 1 || len(args) > 2 {
					return cfg, c.Errf("rate_limit takes QPS and an optional BURST")
				}
				rate, perr := strconv.Atoi(args[0])
				if perr != nil || rate < 0 || rate > maxRate {
					return cfg, c.Errf("rate_limit %q is not between 0 and %d queries a second", args[0], maxRate)
				}
				burst := max(rate, 1)
				if len(args) == 2 {
					b, perr := strconv.Atoi(args[1])
					if perr != nil || b < 1 || b > maxRate {
						return cfg, c.Errf("rate_limit burst %q is not between 1 and %d queries", args[1], maxRate)
					}
					burst = b
				}
				cfg.limits.Rate, cfg.limits.Burst = rate, burst
			case "garden_max_response":
				v, err := one()
				if err != nil {
					return cfg, err
				}
				n, perr := strconv.Atoi(v)
				if perr != nil || n < MinGardenMaxResponse || n > mdns.MaxMsgSize {
					return cfg, c.Errf("garden_max_response %q is not between %d and %d bytes", v, MinGardenMaxResponse, mdns.MaxMsgSize)
				}
				cfg.limits.GardenMaxResponse = n
			default:
				return cfg, c.Errf("unknown property %q", key)
			}
		}
	}
	if cfg.sessions == "" {
		return cfg, c.Err("sessions NAME is required")
	}
	if !cfg.v4.IsValid() {
		return cfg, c.Err("portal_ip is required")
	}
	return cfg, nil
}
