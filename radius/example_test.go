package radius_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"net/netip"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/radius"
	"roamgate/session"
)

// oneDevice stands in for *session.Manager: one device has a live session.
type oneDevice struct{ mac session.MAC }

func (d oneDevice) ByMAC(m session.MAC) (session.Session, error) {
	if m != d.mac {
		return session.Session{}, session.ErrNotFound
	}
	return session.Session{ID: "0123456789abcdef0123456789abcdef"}, nil
}

func (d oneDevice) Seen(id string, _ session.Activity) (session.Session, error) {
	return session.Session{ID: id}, nil
}

func (d oneDevice) SeenDurable(_ context.Context, id string, a session.Activity) (session.Session, error) {
	return d.Seen(id, a)
}

func (d oneDevice) ByID(string) (session.Session, error) {
	return session.Session{}, session.ErrNotFound
}
func (d oneDevice) UAMSecret(string) string                { return "" }
func (d oneDevice) NASRestarted(netip.Addr, string) int    { return 0 }
func (d oneDevice) TimeLeft(session.Session) time.Duration { return time.Hour }

// The gateway creates the server from its configuration and the session
// manager, serves until shutdown, and an access point asks about a device.
func Example() {
	cfg := radius.DefaultConfig() // demo client 127.0.0.0/8, secret testing123
	cfg.AuthListen, cfg.AcctListen = "127.0.0.1:0", "127.0.0.1:0"
	mac, _ := session.ParseMAC("02-1A-2B-3C-4D-5E")
	srv, err := radius.New(cfg, radius.Deps{Sessions: oneDevice{mac}})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Listen(); err != nil { // optional: learn the addresses first
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	// The access point: MAC authentication with a Message-Authenticator.
	req := layeh.New(layeh.CodeAccessRequest, []byte("testing123"))
	rfc2865.CallingStationID_SetString(req, "02-1A-2B-3C-4D-5E")
	req.Add(80, make(layeh.Attribute, 16))
	wire, _ := req.MarshalBinary()
	h := hmac.New(md5.New, req.Secret)
	h.Write(wire)
	copy(req.Get(80), h.Sum(nil))

	resp, err := layeh.Exchange(ctx, req, srv.AuthAddr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Code, "Session-Timeout", uint32(rfc2865.SessionTimeout_Get(resp)))

	stop()
	fmt.Println("Serve:", <-served)
	// Output:
	// Access-Accept Session-Timeout 3600
	// Serve: radius: server closed
}
