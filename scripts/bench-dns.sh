#!/usr/bin/env bash
# bench-dns.sh — make bench-dns: dnsperf against the embedded CoreDNS with
# the captive plugin (half the load from a signed-in client address, half
# from a captive one; forwarded queries go to a local upstream the benchmark
# starts) and, in the same run, against the same CoreDNS with the template
# plugin answering every query. Prints both QPS and their ratio (goal ≥ 0.9).
# SECONDS_PER_RUN (default 8) and ROUNDS (default 3) tune the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-tools.sh dnsperf:dnsperf
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(date -u +%Y-%m-%dT%H:%MZ)"
ROAMGATE_DNSPERF=1 \
ROAMGATE_DNSPERF_SECONDS="${SECONDS_PER_RUN:-8}" \
ROAMGATE_DNSPERF_ROUNDS="${ROUNDS:-3}" \
	${GO:-go} test -run '^$' -bench '^BenchmarkDNSPerf$' -benchtime 1x -count 1 -v ./dns
