// Package vendor turns the redirect an access point sends a new device to
// into one Arrival, whatever the access point's make, and produces the step
// that authorises the device at that access point once it has signed in: a
// form posting one-time UAM credentials to the access point's login URL, a
// redirect to the gateway's auth URL, a call to the controller's API, or a
// RADIUS change of authorisation for MAC authentication.
//
// Every parameter is untrusted input: adapters validate and length-limit it,
// verify signatures where the vendor offers them (CoovaChilli/uspot md=
// with the access point's uamsecret, openNDS level-2/3 encryption with its
// faskey; see signature.go) and say whether the access point requires one,
// and accept login URLs only on configured access-point networks or host
// names. The
// package renders nothing and knows no sessions beyond the credentials it is
// handed; package portal owns the pages.
package vendor
