package session_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"roamgate/session"
)

// TestManagerSignInNeedsTheToken is issue 11's critical flaw at the
// session's level: knowing a MAC must not hand out the session of that MAC.
func TestManagerSignInNeedsTheToken(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	const victimMAC = "da:a1:19:00:0b:01"
	mac := mustMAC(t, victimMAC)
	victim, victimTok := h.create(t, victimMAC, "wifi4eu", "bahnhof")

	// Anyone nearby can see the MAC and sign in with it, without the cookie.
	h.clock.Add(time.Minute)
	attacker, attackerTok := h.create(t, victimMAC, "wifi4eu", "stadtpark")
	if attacker.ID == victim.ID {
		t.Fatal("a sign-in without the token got the victim's session")
	}
	if c, err := h.tokens.Verify(attackerTok); err != nil || c.Subject != attacker.ID {
		t.Fatalf("the attacker's token names %v (%v), want its own session", c, err)
	}
	// The new session takes the MAC over; the victim's lives on, without it.
	if got, err := h.m.ByMAC(mac); err != nil || got.ID != attacker.ID {
		t.Errorf("ByMAC after the second sign-in = %s, %v; want the new session", got.ID, err)
	}
	got, err := h.m.FromToken(victimTok)
	if err != nil || got.ID != victim.ID {
		t.Fatalf("the victim's token after the takeover: %s, %v", got.ID, err)
	}
	if got.MACKey != "" || got.Device.HasMAC {
		t.Errorf("the displaced session still names the MAC: key %q, device %+v", got.MACKey, got.Device)
	}
	if c := h.m.Counters(); c.Displaced != 1 {
		t.Errorf("Displaced = %d, want 1", c.Displaced)
	}

	t.Run("the holder signs in again and gets its own session", func(t *testing.T) {
		again, tok := h.createWith(t, attackerTok, victimMAC, "wifi4eu", "stadtpark")
		if again.ID != attacker.ID || tok == attackerTok {
			t.Errorf("second sign-in with the token: %s (token renewed: %v), want %s", again.ID, tok != attackerTok, attacker.ID)
		}
	})

	t.Run("the takeover survives a restart", func(t *testing.T) {
		if rep := h.restart(t); rep.Loaded != 2 || rep.Rejected != 0 {
			t.Fatalf("LoadReport = %+v, want both sessions loaded", rep)
		}
		if got, err := h.m.ByMAC(mac); err != nil || got.ID != attacker.ID {
			t.Errorf("ByMAC after restart = %s, %v; want the new session", got.ID, err)
		}
		if got, err := h.m.FromToken(victimTok); err != nil || got.MACKey != "" {
			t.Errorf("the victim's session after restart: %+v, %v", got, err)
		}
	})

	t.Run("the attacker's sign-out does not end the victim's session", func(t *testing.T) {
		if err := h.m.Revoke(ctx, attacker.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.m.FromToken(victimTok); err != nil {
			t.Errorf("the victim's session after the attacker signed out: %v", err)
		}
	})

	t.Run("the victim re-binds with one tap", func(t *testing.T) {
		back, tok, err := h.m.Rebind(ctx, victimTok, mac)
		if err != nil || back.ID != victim.ID {
			t.Fatalf("Rebind = %s, %v", back.ID, err)
		}
		if got, err := h.m.ByMAC(mac); err != nil || got.ID != victim.ID {
			t.Errorf("ByMAC after the re-bind = %s, %v", got.ID, err)
		}
		victimTok = tok
	})

	t.Run("a re-bind onto a MAC displaces its session too", func(t *testing.T) {
		_, otherTok := h.create(t, "da:a1:19:00:0b:02", "wifi4eu", "rathaus")
		moved, _, err := h.m.Rebind(ctx, otherTok, mac)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := h.m.ByMAC(mac); err != nil || got.ID != moved.ID {
			t.Errorf("ByMAC = %s, %v; want the re-bound session", got.ID, err)
		}
		if got, err := h.m.FromToken(victimTok); err != nil || got.MACKey != "" {
			t.Errorf("the victim's session after a re-bind onto its MAC: %+v, %v", got, err)
		}
		// Its holder signs in again with its cookie: the session comes back
		// to the MAC (sign-in by the holder is a re-bind).
		back, _ := h.createWith(t, victimTok, victimMAC, "wifi4eu", "bahnhof")
		if back.ID != victim.ID {
			t.Fatalf("the holder's sign-in made %s, want its session %s", back.ID, victim.ID)
		}
		if got, err := h.m.ByMAC(mac); err != nil || got.ID != victim.ID {
			t.Errorf("ByMAC after the holder's sign-in = %s, %v", got.ID, err)
		}
	})

	t.Run("crisis admission keeps the device's session", func(t *testing.T) {
		if _, err := h.m.SetCrisis(ctx, session.Crisis{Active: true, Until: h.clock.Now().Add(time.Hour), Message: map[string]string{"de": "Sturm"}, By: "test"}); err != nil {
			t.Fatal(err)
		}
		got, err := h.m.CrisisAdmit(ctx, session.CreateRequest{MAC: mac, HasMAC: true})
		if err != nil || got.ID != victim.ID {
			t.Errorf("CrisisAdmit of a device with a session = %s, %v; want its session", got.ID, err)
		}
	})
}

// TestManagerAddressClaims: only the request's own address and a NAS's
// report claim an address; a NAS's report is not replaced by a sign-in; an
// ended session lets go at once; the device's own sign-in repairs.
func TestManagerAddressClaims(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	phoneIP, elsewhere := netip.MustParseAddr("10.1.0.20"), netip.MustParseAddr("10.1.0.99")
	signIn := func(token, mac string, ip netip.Addr) (session.Session, string) {
		t.Helper()
		s, tok, err := h.m.Create(ctx, session.CreateRequest{MAC: mustMAC(t, mac), HasMAC: true, Network: "wifi4eu",
			Location: "bahnhof", ClientIP: ip, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return s, tok
	}
	byIP := func(ip netip.Addr) string {
		s, err := h.m.ByIP(ip)
		if err != nil {
			return err.Error()
		}
		return s.ID
	}
	phone, phoneTok := signIn("", "da:a1:19:00:0c:01", phoneIP)
	if got := byIP(phoneIP); got != phone.ID {
		t.Fatalf("ByIP after sign-in = %s", got)
	}
	if !phone.FromDevice(phoneIP) || phone.FromDevice(elsewhere) {
		t.Errorf("FromDevice right after sign-in: %v from the device, %v from elsewhere; want true, false",
			phone.FromDevice(phoneIP), phone.FromDevice(elsewhere))
	}

	// The access point authenticates the phone: a new association, whose
	// NAS has not said the phone's address yet.
	nas := session.NAS{Addr: netip.MustParseAddr("10.20.1.7"), ID: "bahnhof-ap-1"}
	s, err := h.m.Seen(phone.ID, session.Activity{Kind: session.ActivityAccess, Location: "bahnhof", NAS: nas})
	if err != nil {
		t.Fatal(err)
	}
	if s.FromDevice(phoneIP) {
		t.Error("FromDevice after a new association, before its NAS said the address")
	}
	// The holder signing in again from elsewhere does not vouch for where
	// the device is.
	s, _ = signIn(phoneTok, "da:a1:19:00:0c:01", elsewhere)
	if s.ID != phone.ID || s.FromDevice(elsewhere) {
		t.Errorf("sign-in again from elsewhere: %s, FromDevice %v", s.ID, s.FromDevice(elsewhere))
	}
	if got := byIP(elsewhere); got != phone.ID {
		t.Errorf("a sign-in from an address claims it while no NAS said another: ByIP = %s", got)
	}
	// The NAS reports the address for this association.
	nas.AcctSessionID = "A1"
	s, err = h.m.SeenDurable(ctx, phone.ID, session.Activity{Kind: session.ActivityStart, Location: "bahnhof", NAS: nas, IP: phoneIP})
	if err != nil {
		t.Fatal(err)
	}
	if !s.FromDevice(phoneIP) || !s.Device.AddrByNAS || byIP(phoneIP) != phone.ID {
		t.Errorf("after the NAS's report: FromDevice %v, device %+v, ByIP %s", s.FromDevice(phoneIP), s.Device, byIP(phoneIP))
	}
	// Now a sign-in from elsewhere (anyone holding the token) changes nothing.
	s, _ = signIn(phoneTok, "da:a1:19:00:0c:01", elsewhere)
	if s.Device.IP != phoneIP || !s.FromDevice(phoneIP) || s.FromDevice(elsewhere) {
		t.Errorf("a sign-in from elsewhere replaced the NAS's address: %+v", s.Device)
	}

	t.Run("an ended session lets go at once; the device's sign-in repairs", func(t *testing.T) {
		// A lease moves: another device's NAS reports the phone's address,
		// then that session is signed out.
		other, _ := signIn("", "da:a1:19:00:0c:02", netip.Addr{})
		if _, err := h.m.Seen(other.ID, session.Activity{Kind: session.ActivityStart, NAS: nas, AP: "x", IP: phoneIP}); err != nil {
			t.Fatal(err)
		}
		if got := byIP(phoneIP); got != other.ID {
			t.Fatalf("ByIP after the other NAS report = %s", got)
		}
		if err := h.m.Revoke(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.m.ByIP(phoneIP); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("ByIP right after the revocation: %v, want ErrNotFound (released, not answering revoked)", err)
		}
		// The phone signs in again from its address: it is online again.
		signIn(phoneTok, "da:a1:19:00:0c:01", phoneIP)
		if got := byIP(phoneIP); got != phone.ID {
			t.Errorf("ByIP after the phone's own sign-in = %s, want the phone's session", got)
		}
	})

	t.Run("a restart keeps who vouches for the address", func(t *testing.T) {
		h.restart(t)
		s, err := h.m.ByID(phone.ID)
		if err != nil || !s.Device.AddrByNAS || !s.FromDevice(phoneIP) {
			t.Errorf("after restart: %+v, %v", s.Device, err)
		}
	})
}
