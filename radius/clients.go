package radius

import (
	"cmp"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"hash"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"roamgate/apfamily"
)

// client is one resolved entry of the client table.
type client struct {
	name      string
	prefix    netip.Prefix
	secret    []byte
	location  string
	requireMA bool

	// kind is the vendor's family and implementation (apfamily).
	kind apfamily.Kind
	// dialect is how Disconnect- and CoA-Requests reach it: the
	// implementation's, with the entry's overrides applied.
	dialect dialect
	// dasHost is das_address ("" for the NAS's own address), coaPort the
	// DAS port.
	dasHost string
	coaPort int

	// requests counts the requests from this client by codeIndex.
	requests [numCodeIdx]atomic.Uint64

	// hmacs holds *hmacState keyed with secret, so verifying and signing a
	// Message-Authenticator allocates nothing per packet.
	hmacs sync.Pool
}

// hmacState is an HMAC-MD5 keyed with a client's secret, an MD5 for
// Response Authenticators, and room for a sum.
type hmacState struct {
	h   hash.Hash
	md  hash.Hash
	sum [authLen]byte
}

func (c *client) getHMAC() *hmacState {
	st := c.hmacs.Get().(*hmacState)
	st.h.Reset()
	return st
}

func (c *client) putHMAC(st *hmacState) { c.hmacs.Put(st) }

// clientTable finds the client of a source address by longest-prefix match.
// It is built once and never changes, so lookups take no lock.
type clientTable struct {
	clients []*client // longest prefix first
}

// newClientTable resolves a validated configuration.
func newClientTable(cfg Config) (clientTable, error) {
	t := clientTable{clients: make([]*client, 0, len(cfg.Clients))}
	for _, cc := range cfg.Clients {
		p, err := parseClientPrefix(cc.CIDR)
		if err != nil {
			return clientTable{}, err
		}
		kind, ok := apfamily.Lookup(cc.Vendor)
		if !ok {
			return clientTable{}, fmt.Errorf("radius: vendor %q is unknown", cc.Vendor)
		}
		d := dialectFor(kind.Impl)
		if cc.MACFormat != "" {
			d.mac, _ = parseMACFormat(cc.MACFormat) // validated
		}
		if len(cc.DASAttributes) > 0 {
			if d.attrs, err = parseDASAttrs(cc.DASAttributes); err != nil {
				return clientTable{}, err
			}
		}
		c := &client{
			name:      cc.Name,
			prefix:    p,
			secret:    []byte(cc.Secret),
			location:  cc.Location,
			kind:      kind,
			dialect:   d,
			dasHost:   cc.DASAddress,
			coaPort:   cc.CoAPort,
			requireMA: cfg.RequireMessageAuthenticator,
		}
		if c.name == "" {
			c.name = cc.CIDR
		}
		if c.coaPort == 0 {
			c.coaPort = DefaultCoAPort
		}
		if cc.RequireMessageAuthenticator != nil {
			c.requireMA = *cc.RequireMessageAuthenticator
		}
		secret := c.secret
		c.hmacs.New = func() any { return &hmacState{h: hmac.New(md5.New, secret), md: md5.New()} }
		t.clients = append(t.clients, c)
	}
	slices.SortStableFunc(t.clients, func(a, b *client) int {
		return cmp.Compare(b.prefix.Bits(), a.prefix.Bits())
	})
	return t, nil
}

// lookup returns the client whose network holds a, or nil. IPv4 addresses
// seen on a dual-stack socket (::ffff:a.b.c.d) match IPv4 networks.
func (t *clientTable) lookup(a netip.Addr) *client {
	a = a.Unmap().WithZone("")
	for _, c := range t.clients {
		if c.prefix.Contains(a) {
			return c
		}
	}
	return nil
}

// byName is the client of a configuration entry (named, or named by its
// CIDR), or nil.
func (t *clientTable) byName(name, cidr string) *client {
	if name == "" {
		name = cidr
	}
	for _, c := range t.clients {
		if c.name == name {
			return c
		}
	}
	return nil
}
