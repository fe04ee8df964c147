# make test: install what the tests need if it is missing, then run every
# check and test. .ci/run calls exactly this.
SHELL := /bin/bash
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test tools lint vet fmt-check build run bench fuzz

test: tools fmt-check vet lint
	$(GO) test -race -count=1 ./...

# Debian packages the tests use: radclient (freeradius-utils), dig
# (dnsutils), chromium (headless page tests; npm installs axe-core for
# them), redis-server (the shared store's tests start private instances),
# promtool (prometheus: checks /metrics), systemd-analyze (systemd: checks
# the unit).
tools:
	@scripts/ensure-tools.sh radclient:freeradius-utils dig:dnsutils chromium:chromium npm:npm \
		redis-server:redis-server promtool:prometheus systemd-analyze:systemd

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint:
	$(GO) run $(STATICCHECK) ./...

build:
	$(GO) build -o roamgate ./cmd/roamgate

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

# axe-core for the portal's Chromium accessibility test (the test also runs
# this itself when axe-core is missing).
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
