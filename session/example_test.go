package session_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"roamgate/session"
	"roamgate/session/sqlite"
)

func ExampleParseMAC() {
	// Access points write the same address in different notations.
	for _, s := range []string{"AA-BB-CC-DD-EE-FF", "aabb.ccdd.eeff", "aabbccddeeff", "Aa:bB:cc:DD:ee:FF"} {
		mac, err := session.ParseMAC(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(mac)
	}
	_, err := session.ParseMAC("aa:bb-cc:dd:ee:ff")
	fmt.Println(errors.Is(err, session.ErrInvalidMAC))
	// Output:
	// aa:bb:cc:dd:ee:ff
	// aa:bb:cc:dd:ee:ff
	// aa:bb:cc:dd:ee:ff
	// aa:bb:cc:dd:ee:ff
	// true
}

func ExampleMAC_LocallyAdministered() {
	phone, _ := session.ParseMAC("da:a1:19:5e:00:01") // a per-network private address
	laptop, _ := session.ParseMAC("00:1a:2b:3c:4d:5e")
	fmt.Println(phone.LocallyAdministered(), laptop.LocallyAdministered())
	// Output: true false
}

// A gateway's start-up and one sign-in: the portal creates the session, and
// RADIUS finds it by MAC when the device roams to another access point.
func ExampleManager() {
	dir, err := os.MkdirTemp("", "roamgate-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()
	policy := session.Policy{Lifetime: 4 * time.Hour, IdleTimeout: 30 * time.Minute}

	siteKey, err := session.LoadOrCreateSiteKey(dir)
	if err != nil {
		log.Fatal(err)
	}
	ring, err := session.OpenKeyRing(dir, policy.MaxLifetime(), time.Now())
	if err != nil {
		log.Fatal(err)
	}
	store, err := sqlite.Open(ctx, filepath.Join(dir, "sessions.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	m, _, err := session.NewManager(ctx, session.Options{
		Store:   store,
		Tokens:  session.NewTokens(ring, "Stadt-WLAN", "https://wifi.example.org", nil),
		SiteKey: siteKey,
		Policy:  policy,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	// The portal: the citizen accepts the terms.
	mac, _ := session.ParseMAC("DA-A1-19-5E-00-01")
	s, token, err := m.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
	if err != nil {
		log.Fatal(err)
	}
	_ = token // goes into the session cookie

	// RADIUS: the phone associates with an access point in the Stadtpark.
	roamed, _ := session.ParseMAC("daa1.195e.0001")
	found, err := m.ByMAC(roamed)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same session:", found.ID == s.ID)
	fmt.Println("started at:", found.Location)
	fmt.Println("private MAC:", found.RandomMAC)
	fmt.Println("time left:", m.TimeLeft(found).Round(time.Hour))

	_, err = m.ByMAC(session.MAC{0x02, 0, 0, 0, 0, 1})
	fmt.Println("unknown device:", errors.Is(err, session.ErrNotFound))
	// Output:
	// same session: true
	// started at: bahnhof
	// private MAC: true
	// time left: 4h0m0s
	// unknown device: true
}
