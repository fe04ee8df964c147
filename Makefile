# make test: install what the tests need if it is missing, then run every
# check and test. .ci/run calls exactly this.
SHELL := /bin/bash
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: test tools lint vet fmt-check build run bench fuzz

test: tools fmt-check vet lint
	$(GO) test -race -count=1 ./...

# Debian packages the tests use: radclient (freeradius-utils), dig
# (dnsutils), chromium (headless page tests), redis-server (the shared
# store's tests start private instances of it).
tools:
	@scripts/ensure-tools.sh radclient:freeradius-utils dig:dnsutils chromium:chromium redis-server:redis-server

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
