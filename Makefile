# make test: install what the tests need if it is missing, then run every
# check and test. .ci/run calls exactly this.
SHELL := /bin/bash
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOIMPORTS := golang.org/x/tools/cmd/goimports@v0.53.0

.PHONY: test tools lint vet fmt-check build run bench fuzz

test: tools fmt-check vet lint
	$(GO) test -race -count=1 ./...

# Debian packages the tests use: radclient (freeradius-utils), dig
# (dnsutils), chromium (headless page tests; npm installs axe-core for
# them, tools/browser/install-axe.sh — no test installs anything),
# redis-server (the shared store's tests start private instances),
# redis-sentinel and redis-cli (redis-tools: the Sentinel and Cluster drills),
# promtool (prometheus: checks /metrics), systemd-analyze (systemd: checks
# the unit), freeradius (FreeRADIUS 3.2 as a proxy in front of roamgate,
# radius/freeradius_proxy_test.go), podman and buildah (the container image
# is built and inspected), runc (podman's runtime that can start containers
# on a machine whose crun refuses its rlimits; see deploy/image_test.go).
# CoovaChilli, the real access point of the network-namespace tests
# (cmd/roamgate TestCoova…), is built once into ~/.cache/roamgate/<snapshot>/
# with its build dependencies and dhclient, iptables, ethtool
# (scripts/build-coova-chilli.sh).
tools:
	@scripts/ensure-tools.sh radclient:freeradius-utils dig:dnsutils chromium:chromium npm:npm \
		redis-server:redis-server redis-sentinel:redis-sentinel redis-cli:redis-tools \
		promtool:prometheus systemd-analyze:systemd freeradius:freeradius \
		podman:podman buildah:buildah runc:runc update-ca-certificates:ca-certificates
	@tools/browser/install-axe.sh
	@scripts/build-coova-chilli.sh >/dev/null

# gofmt, and goimports -local roamgate: its grouping (standard library,
# third party, roamgate), which goimports -l alone does not check.
fmt-check:
	@files=$$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'); \
	out=$$(gofmt -l $$files); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi; \
	out=$$($(GO) run $(GOIMPORTS) -local roamgate -l $$files); \
	if [ -n "$$out" ]; then echo "goimports -local roamgate needed:"; echo "$$out"; exit 1; fi; \
	scripts/import-groups.sh $$files || { echo "imports out of their groups (std, third party, roamgate)"; exit 1; }

vet:
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

build:
	$(GO) build -o roamgate ./cmd/roamgate

# The container image, offline: Go builds the static binary here, podman
# puts it FROM scratch (deploy/Containerfile). IMAGE names the tag.
IMAGE ?= localhost/roamgate:local
.PHONY: image
image:
	@scripts/build-image.sh $(IMAGE)

run:
	$(GO) run ./cmd/roamgate

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Every fuzz target for FUZZTIME (default 60s) each.
fuzz:
	@scripts/fuzz.sh

# Admin dashboard screenshots (1280×800, headless Chromium) into
# docs/screenshots/admin-*.png.
.PHONY: screenshots-admin
screenshots-admin:
	ROAMGATE_SCREENSHOTS=1 $(GO) test -count=1 -run TestChromiumDashboard ./admin/

# axe-core alone, for the portal's Chromium accessibility test (make tools
# installs it too).
.PHONY: browser-tools
browser-tools:
	@tools/browser/install-axe.sh

# Portal screenshots (390×844, headless Chromium, German and Arabic) into
# docs/screenshots/{splash,status}-{de,ar}.png.
.PHONY: screenshots-portal
screenshots-portal: browser-tools
	ROAMGATE_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestBrowserJourney|TestBrowserCrisisSplash' ./portal/

# dnsperf: captive plugin vs. the template plugin on the same embedded
# CoreDNS (issue 5); results go to docs/BENCHMARKS.md.
.PHONY: bench-dns
bench-dns:
	@scripts/bench-dns.sh

# A second client's success rate while one client floods the captive DNS,
# with the per-client limit off and on (docs/BENCHMARKS.md). RATES sets the
# floods (default dnsperf,50000,100000,150000: real dnsperf, then open-loop
# floods at that many queries a second).
RATES ?= dnsperf,50000,100000,150000
.PHONY: bench-dns-flood
bench-dns-flood:
	@scripts/ensure-tools.sh dnsperf:dnsperf
	ROAMGATE_DNSFLOOD=1 ROAMGATE_DNSFLOOD_RATES="$(RATES)" \
		$(GO) test -run '^$$' -bench '^BenchmarkDNSFlood$$' -benchtime 1x -count 1 -v ./dns

# MAC-authentication throughput and latency of roamgate's RADIUS against two
# anchors in the same run: the null server (../shared/bench/nullserver, the
# limit of the machine) and FreeRADIUS 3.2 from Debian (installed if
# missing), under the same load from cmd/roamgate-load with a share of
# roaming devices, servers pinned to CPU 0 and the load to CPU 1 (taskset),
# loopback only; prints all and the ratios. Tunable with the environment
# variables listed in scripts/bench-radius.sh (SESSIONS=1000000, ROAM …).
.PHONY: bench-radius
bench-radius:
	@scripts/bench-radius.sh

# Soak: RADIUS auth + accounting + portal sign-ins against one roamgate for
# SOAK_DURATION (default 10m); reports RSS, goroutines and p99 per window and
# fails if RSS grows by 5 % or more or goroutines climb.
SOAK_DURATION ?= 10m
.PHONY: soak
soak:
	$(GO) run ./cmd/roamgate-soak -duration $(SOAK_DURATION) $(SOAK_FLAGS)
