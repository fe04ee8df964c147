package radius

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if cfg.AuthListen != "127.0.0.1:1812" || cfg.AcctListen != "127.0.0.1:1813" ||
		!cfg.RequireMessageAuthenticator || cfg.InterimInterval != 5*time.Minute {
		t.Errorf("defaults %+v", cfg)
	}
	if len(cfg.Clients) != 1 || cfg.Clients[0].Name != "demo" || cfg.Clients[0].CIDR != "127.0.0.0/8" || cfg.Clients[0].Secret != "testing123" {
		t.Errorf("demo client %+v", cfg.Clients)
	}
	// Each call returns its own slice: the gateway may change it.
	a, b := DefaultConfig(), DefaultConfig()
	a.Clients[0].Secret = "changed"
	if b.Clients[0].Secret != "testing123" {
		t.Error("DefaultConfig shares its Clients slice")
	}
}

func TestValidate(t *testing.T) {
	three := func(c *Config) {
		c.Clients = []Client{
			{Name: "a", CIDR: "10.1.0.0/16", Secret: longSecret},
			{Name: "b", CIDR: "10.2.0.0/16", Secret: longSecret},
			{Name: "c", CIDR: "10.3.0.0/16", Secret: longSecret},
		}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want []string // each must appear in the error; none = valid
	}{
		{"default", func(*Config) {}, nil},
		{"ipv6 and host entries", func(c *Config) {
			c.Clients = append(c.Clients,
				Client{CIDR: "2001:db8::/32", Secret: longSecret},
				Client{CIDR: "192.0.2.7", Secret: longSecret},
				Client{CIDR: "10.0.0.0/8", Secret: longSecret, Vendor: "coova", CoAPort: 3799, RequireMessageAuthenticator: new(false)},
			)
		}, nil},
		{"interim zero leaves it out", func(c *Config) { c.InterimInterval = 0 }, nil},
		{"both listeners on port 0", func(c *Config) { c.AuthListen, c.AcctListen = "127.0.0.1:0", "127.0.0.1:0" }, nil},
		{"no clients", func(c *Config) { c.Clients = nil }, nil},
		{"short secret on loopback", func(c *Config) {
			c.Clients = []Client{{CIDR: "127.0.0.1", Secret: "x"}, {CIDR: "::1", Secret: "y"}}
		}, nil},
		{"short secret outside loopback", func(c *Config) {
			three(c)
			c.Clients[1].Secret = "testing123"
			c.Clients = append(c.Clients, Client{CIDR: "::/0", Secret: "123456789012345"}, Client{CIDR: "0.0.0.0/0", Secret: "y"})
		}, []string{
			"radius.clients[1].secret: 10 characters is too short for a client outside loopback; use at least 16",
			"radius.clients[3].secret: 15 characters is too short",
			"radius.clients[4].secret: 1 characters is too short",
		}},

		{"cidr not a network", func(c *Config) { three(c); c.Clients[2].CIDR = "10.0.0.0/33" },
			[]string{`radius.clients[2].cidr: "10.0.0.0/33" is not a network`}},
		{"cidr host bits", func(c *Config) { c.Clients[0].CIDR = "10.0.0.1/8" },
			[]string{`radius.clients[0].cidr: "10.0.0.1/8" has host bits set; did you mean "10.0.0.0/8"?`}},
		{"cidr missing", func(c *Config) { c.Clients[0].CIDR = "" }, []string{"radius.clients[0].cidr: missing"}},
		{"cidr mapped", func(c *Config) { c.Clients[0].CIDR = "::ffff:10.0.0.0/104" }, []string{"radius.clients[0].cidr: "}},
		{"cidr duplicate", func(c *Config) { three(c); c.Clients[1].CIDR = "10.1.0.0/16" },
			[]string{`radius.clients[1].cidr: "10.1.0.0/16" is also clients[0].cidr`}},
		{"secret missing", func(c *Config) { c.Clients[0].Secret = "" }, []string{"radius.clients[0].secret: missing"}},
		{"name duplicate", func(c *Config) { three(c); c.Clients[2].Name = "a" },
			[]string{`radius.clients[2].name: "a" is also clients[0].name`}},
		{"vendor", func(c *Config) { c.Clients[0].Vendor = "coova chilli" }, []string{`radius.clients[0].vendor: "coova chilli"`}},
		{"vendor unknown", func(c *Config) { c.Clients[0].Vendor = "ruckus" }, []string{`radius.clients[0].vendor: "ruckus" is not one of `}},
		{"vendor aliases", func(c *Config) {
			for _, v := range []string{"chilli", "CoovaChilli", "uspot", "openwrt", "cisco-wlc", "wispr", "generic"} {
				c.Clients = append(c.Clients, Client{CIDR: "10." + strconv.Itoa(len(c.Clients)) + ".0.0/16", Secret: longSecret, Vendor: v})
			}
		}, nil},
		{"dynamic authorization overrides", func(c *Config) {
			c.Clients[0].Vendor = "meraki"
			c.Clients[0].DASAddress = "n143.meraki.com"
			c.Clients = append(c.Clients, Client{CIDR: "10.9.0.0/16", Secret: longSecret, Vendor: "uspot", DASAddress: "10.9.0.1",
				MACFormat: "aa-bb-cc-dd-ee-ff", DASAttributes: []string{"calling-station-id", "User-Name"}})
		}, nil},
		{"meraki without das_address", func(c *Config) { c.Clients[0].Vendor = "meraki" },
			[]string{"radius.clients[0].das_address: missing: Meraki takes Disconnect-Requests only at the organisation's dashboard host name"}},
		{"das_address not a host", func(c *Config) { c.Clients[0].DASAddress = "10.0.0.1:3799" },
			[]string{`radius.clients[0].das_address: "10.0.0.1:3799" is not an IP address or host name`}},
		{"mac_format", func(c *Config) { c.Clients[0].MACFormat = "aa.bb.cc" },
			[]string{`radius.clients[0].mac_format: "aa.bb.cc" is not one of AA-BB-CC-DD-EE-FF`}},
		{"das_attributes", func(c *Config) { c.Clients[0].DASAttributes = []string{"user-name", "nas-port"} },
			[]string{`radius.clients[0].das_attributes: "nas-port" is not one of user-name, calling-station-id`}},
		{"coa port", func(c *Config) { c.Clients[0].CoAPort = 70000 }, []string{"radius.clients[0].coa_port: 70000 is not a port"}},
		{"auth listen missing", func(c *Config) { c.AuthListen = "" }, []string{"radius.auth_listen: missing"}},
		{"acct listen no port", func(c *Config) { c.AcctListen = "127.0.0.1" }, []string{`radius.acct_listen: "127.0.0.1" is not host:port`}},
		{"auth listen bad port", func(c *Config) { c.AuthListen = ":radius" }, []string{`radius.auth_listen: ":radius" has no valid port number`}},
		{"same listen", func(c *Config) { c.AcctListen = c.AuthListen }, []string{`radius.acct_listen: "127.0.0.1:1812" is also auth_listen`}},
		{"interim short", func(c *Config) { c.InterimInterval = 30 * time.Second }, []string{"radius.interim_interval: 30s is shorter than 1m0s"}},
		{"interim negative", func(c *Config) { c.InterimInterval = -time.Minute }, []string{"radius.interim_interval: -1m0s is shorter"}},
		{"every problem reported", func(c *Config) {
			three(c)
			c.Clients[0].Secret = ""
			c.Clients[2].CIDR = "nonsense"
			c.InterimInterval = time.Second
		}, []string{"radius.clients[0].secret: missing", `radius.clients[2].cidr: "nonsense" is not a network`, "radius.interim_interval: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			if got, want := strings.Count(err.Error(), "\n")+1, len(tt.want); got != want {
				t.Errorf("Validate() reported %d problems, want %d:\n%v", got, want, err)
			}
		})
	}
}

const longSecret = "0123456789abcdef"
