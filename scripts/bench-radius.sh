#!/usr/bin/env bash
# bench-radius.sh — MAC-authentication throughput of roamgate's RADIUS and of
# FreeRADIUS 3.2 (Debian) under the same load, on loopback only, and the
# ratio. Both servers run side by side (the idle one costs nothing) and the
# load alternates between them for ROUNDS rounds, so that noise from other
# work on the machine hits both alike; the medians are compared. Both servers hold the same SESSIONS devices
# (roamgate: live sessions in a session.Manager on SQLite; FreeRADIUS: a
# users file with Cleartext-Password := MAC), both check the PAP password,
# verify and send Message-Authenticator, log nothing per request, and the
# load (cmd/roamgate-load) asks for UNKNOWN of unknown devices.
#
# Environment: SESSIONS (100000), UNKNOWN (0.1), DURATION (10s), WARMUP (3s),
# ROUNDS (3),
# SOCKETS (8), WINDOW (32), FR_THREADS (FreeRADIUS worker threads, 4),
# RATE (also run a fixed-rate pass at this many requests/s, 10000; 0 = skip).
set -euo pipefail

SESSIONS=${SESSIONS:-100000}
UNKNOWN=${UNKNOWN:-0.1}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
SOCKETS=${SOCKETS:-8}
WINDOW=${WINDOW:-32}
FR_THREADS=${FR_THREADS:-4}
RATE=${RATE:-10000}
ROUNDS=${ROUNDS:-3}
SECRET=bench-secret-0123456789

cd "$(dirname "$0")/.."
scripts/ensure-tools.sh freeradius:freeradius
FREERADIUS=$(command -v freeradius)

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for CMD... — retries CMD until it succeeds, for at most 120 s.
wait_for() {
	local deadline=$((SECONDS + 120))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $*" >&2; return 1; }
		sleep 0.2
	done
}

go build -o "$work/roamgate-load" ./cmd/roamgate-load
load="$work/roamgate-load"

status_ok() { # port: Status-Server answered (radclient is in freeradius-utils)
	echo "Message-Authenticator = 0x00" | radclient -q -r 1 -t 1 "127.0.0.1:$1" status "$SECRET"
}

run_load() { # name port [extra flags]
	local name=$1 port=$2
	shift 2
	"$load" -addr "127.0.0.1:$port" -secret "$SECRET" -sessions "$SESSIONS" -unknown "$UNKNOWN" \
		-sockets "$SOCKETS" -window "$WINDOW" -duration "$DURATION" -warmup "$WARMUP" -name "$name" -json "$@"
}

# --- roamgate ------------------------------------------------------------
rg_auth=$(free_port)
rg_acct=$(free_port)
"$load" serve -sessions "$SESSIONS" -auth "127.0.0.1:$rg_auth" -acct "127.0.0.1:$rg_acct" -secret "$SECRET" \
	>"$work/roamgate.out" 2>"$work/roamgate.err" &
pids+=($!)
wait_for grep -q ready "$work/roamgate.out"
wait_for status_ok "$rg_auth"

# --- FreeRADIUS ----------------------------------------------------------
fr_auth=$(free_port)
fr_acct=$(free_port)
conf="$work/raddb"
mkdir -p "$conf" "$work/run" "$work/log"
"$load" users -sessions "$SESSIONS" >"$conf/users"
cat >"$conf/radiusd.conf" <<CONF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = $work/log
raddbdir = $conf
radacctdir = $work/log
name = freeradius
confdir = $conf
modconfdir = $conf
run_dir = $work/run
db_dir = $work/run
libdir = /usr/lib/freeradius
pidfile = $work/run/radiusd.pid
correct_escapes = true
max_request_time = 30
cleanup_delay = 5
max_requests = 1048576
hostname_lookups = no

log {
	destination = files
	file = $work/log/radius.log
	colourise = no
	stripped_names = no
	auth = no
	auth_badpass = no
	auth_goodpass = no
}

security {
	allow_core_dumps = no
	max_attributes = 200
	# roamgate answers unknown devices at once; FreeRADIUS would wait 1 s.
	reject_delay = 0
	status_server = yes
}

thread pool {
	start_servers = $FR_THREADS
	max_servers = $FR_THREADS
	min_spare_servers = 1
	max_spare_servers = $FR_THREADS
	max_requests_per_server = 0
	auto_limit_acct = no
	max_queue_size = 65536
}

client bench {
	ipaddr = 127.0.0.0/8
	secret = $SECRET
	require_message_authenticator = yes
	limit_proxy_state = yes
}

listen {
	type = auth
	ipaddr = 127.0.0.1
	port = $fr_auth
	virtual_server = default
}
listen {
	type = acct
	ipaddr = 127.0.0.1
	port = $fr_acct
	virtual_server = default
}

modules {
	files {
		filename = $conf/users
	}
	pap {
		normalise = yes
	}
}

server default {
	authorize {
		files
		pap
	}
	authenticate {
		Auth-Type PAP {
			pap
		}
	}
	post-auth {
		update reply {
			Message-Authenticator := 0x00
		}
		Post-Auth-Type REJECT {
			update reply {
				Message-Authenticator := 0x00
				Reply-Message := "no session: please sign in at the portal"
			}
		}
	}
}
CONF
"$FREERADIUS" -f -d "$conf" -n radiusd >"$work/freeradius.out" 2>&1 &
pids+=($!)
if ! wait_for status_ok "$fr_auth"; then
	cat "$work/freeradius.out" "$work/log/radius.log" >&2 || true
	exit 1
fi

# --- load, alternating ----------------------------------------------------
results="$work/results.jsonl"
for round in $(seq 1 "$ROUNDS"); do
	echo "round $round of $ROUNDS" >&2
	run_load roamgate "$rg_auth" >>"$results"
	run_load freeradius "$fr_auth" >>"$results"
done
if [ "$RATE" != 0 ]; then
	run_load roamgate "$rg_auth" -rate "$RATE" >>"$results"
	run_load freeradius "$fr_auth" -rate "$RATE" >>"$results"
fi

# --- report --------------------------------------------------------------
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ) — $SESSIONS devices, $UNKNOWN unknown, $SOCKETS sockets x $WINDOW outstanding, ${DURATION} per run, $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg)"
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| server | load | answers/s | accept | reject | timeout | p50 µs | p99 µs | p99.9 µs |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['name']} | {r['mode']} | {r['answers_per_second']:.0f} | {r['accepts']} | {r['rejects']} | {r['timeouts']} | {r['p50_us']:.0f} | {r['p99_us']:.0f} | {r['p999_us']:.0f} |")
def median(name):
    return statistics.median(r['answers_per_second'] for r in rows if r['name'] == name and r['mode'] == 'closed loop')
rg, fr = median('roamgate'), median('freeradius')
print(f"\nclosed-loop median: roamgate {rg:.0f}/s, FreeRADIUS {fr:.0f}/s, ratio {rg / fr:.2f}x")
PY
