#!/usr/bin/env bash
# bench-radius.sh — MAC-authentication throughput and latency of roamgate's
# RADIUS against two anchors measured in the same run, on loopback only:
#
#   null        ../shared/bench/nullserver: verifies the Message-Authenticator
#               and signs a fixed Access-Reject with batched socket I/O — the
#               least work any hardened server must do, the limit of the
#               machine;
#   freeradius  FreeRADIUS 3.2 (Debian) with a users file of the same devices.
#
# All three run side by side, each pinned to the same core (SERVER_CPU; the
# idle ones cost nothing) and the load generator (cmd/roamgate-load) to
# another (LOAD_CPU). The load alternates between the servers for ROUNDS
# rounds, so that noise from other work on the machine hits all alike; the
# medians are compared. roamgate runs as a town runs it (roamgate-load serve:
# gateway.New with the production locator, session manager on SQLite,
# history, metrics) with SESSIONS live sessions signed in at the access
# points of LOCATIONS locations × APS access points; FreeRADIUS holds the same
# devices (Cleartext-Password := MAC). Every server checks the PAP password,
# verifies and sends Message-Authenticator and logs nothing per request.
#
# The load asks for UNKNOWN of unknown devices; of the known devices' requests
# ROAM come from an access point at another location than the device's
# previous one (the session moves: index update, roam event, store write),
# the rest from where the device is. Before the rounds, one sweep asks for
# every device from where it signed in (an access point's first
# Access-Request for a session records its NAS; that is not a move). After
# each roamgate run the script waits until roamgate's store writes have
# caught up (their CPU time is counted to roamgate), so that they do not
# slow the next server down.
#
# Environment: SESSIONS (100000), UNKNOWN (0.1), ROAM (0.3), LOCATIONS (50),
# APS (8), DURATION (10s), WARMUP (3s), ROUNDS (3), SOCKETS (8), WINDOW (8:
# 64 requests in flight), RATE (a fixed-rate pass per server at this many
# requests/s after the rounds, 50000; 0 = skip), FR_THREADS (FreeRADIUS
# worker threads, 4), SERVERS ("roamgate null freeradius"), SERVER_CPU (0),
# LOAD_CPU (1), DATA_DIR (roamgate's data directory, kept and reused: its
# sessions need not be created again; default a temporary one),
# NULLSERVER_SRC (../shared/bench/nullserver, a separate Go module, built in
# a temporary copy), PROFILE (a directory: roamgate's CPU and allocation
# profiles of the serving time go there; the CPU profile in segments,
# cpu.pprof.N, one per load run and one per wait for the store, listed in
# PROFILE/segments), TRACE (with PROFILE: a segment's number, 4 for the first
# closed-loop run, 7 for the fixed-rate run with ROUNDS=1 (PROFILE/segments
# lists them);
# roamgate's execution trace of it goes to PROFILE/trace.out, for what its
# goroutines wait on: go tool trace -pprof=sync|syscall|sched; and the report
# ends with scripts/tracegaps' summary of it: what ran while RADIUS did not),
# CHECKPOINT (1: after each roamgate run the drain has roamgate checkpoint
# its move journal into SQLite and counts that CPU to the run — as if every
# 10-s run were a checkpoint window, where production checkpoints every 5
# minutes and writes each moved session once; 0: no checkpoint asked for,
# the journal's writes alone — the drain still waits for a checkpoint
# that the journal's 64-MiB bound started or asked for, as at 1 000 000
# sessions),
# RG_GOMAXPROCS (roamgate's GOMAXPROCS once its
# sessions exist, 1: one core's
# worth; 2 lets a goroutine run while another is stuck in a system call such
# as SQLite's fsync, still on the one CPU), RG_GOGC and RG_GOMEMLIMIT
# (roamgate's GOGC and GOMEMLIMIT; the load generator keeps the defaults).
set -euo pipefail

SESSIONS=${SESSIONS:-100000}
UNKNOWN=${UNKNOWN:-0.1}
ROAM=${ROAM:-0.3}
LOCATIONS=${LOCATIONS:-50}
APS=${APS:-8}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
SOCKETS=${SOCKETS:-8}
WINDOW=${WINDOW:-8}
FR_THREADS=${FR_THREADS:-4}
RATE=${RATE:-50000}
ROUNDS=${ROUNDS:-3}
SERVERS=${SERVERS:-roamgate null freeradius}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
DATA_DIR=${DATA_DIR:-}
PROFILE=${PROFILE:-}
TRACE=${TRACE:-}
CHECKPOINT=${CHECKPOINT:-1}
SECRET=bench-secret-0123456789

cd "$(dirname "$0")/.."
NULLSERVER_SRC=${NULLSERVER_SRC:-../shared/bench/nullserver}
scripts/ensure-tools.sh taskset:util-linux pgrep:procps radclient:freeradius-utils
case " $SERVERS " in *" freeradius "*) scripts/ensure-tools.sh freeradius:freeradius ;; esac

work=$(mktemp -d)
declare -A pid port
cleanup() {
	for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pid[@]}"; do wait "$p" 2>/dev/null || true; done
	chmod -R u+w "$work" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

has() { case " $SERVERS " in *" $1 "*) return 0 ;; esac; return 1; }

free_port() {
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS CMD... — retries CMD until it succeeds, for at most SECONDS.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $*" >&2; return 1; }
		sleep 0.2
	done
}

status_ok() { # port: Status-Server answered (radclient is in freeradius-utils)
	echo "Message-Authenticator = 0x00" | radclient -q -r 1 -t 1 "127.0.0.1:$1" status "$SECRET"
}

# answers PORT — an Access-Request gets an answer (the null server does not
# answer Status-Server; it rejects everything).
answers() {
	local out
	out=$(printf 'User-Name = "probe"\nMessage-Authenticator = 0x00\n' | radclient -x -r 1 -t 1 "127.0.0.1:$1" auth "$SECRET" 2>&1 || true)
	[[ $out == *"Received Access-"* ]]
}

# cpu_ticks PID — user + system time of the process and its children so
# far, in clock ticks: roamgate's store runs a child, its syncer (the
# fsyncs and WAL checkpoints, session/sqlite/syncer.go), whose CPU is the
# server's too.
cpu_ticks() {
	local p sum=0
	for p in "$1" $(pgrep -P "$1"); do
		sum=$((sum + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$sum"
}
# core_ticks — SERVER_CPU's busy and total ticks from /proc/stat: busy is
# user, nice, system, irq, softirq and steal, so the kernel's work for the
# server's packets (softirq, not counted to the process) shows as well.
core_ticks() { awk -v c="cpu$SERVER_CPU" '$1 == c {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
HZ=$(getconf CLK_TCK)

go build -o "$work/roamgate-load" ./cmd/roamgate-load
load="$work/roamgate-load"
town=(-sessions "$SESSIONS" -locations "$LOCATIONS" -aps "$APS")

# --- roamgate ------------------------------------------------------------
# Created on every core (signing a million tokens on one takes long), then
# pinned: all its threads move to SERVER_CPU and it runs one P, as if it had
# been started there.
if has roamgate; then
	rg_auth=$(free_port)
	rg_acct=$(free_port)
	dir=${DATA_DIR:-$work/roamgate-data}
	prof=()
	if [ -n "$PROFILE" ]; then
		mkdir -p "$PROFILE"
		echo "cpu.pprof: start-up and sweep set-up" >"$PROFILE/segments"
		prof=(-cpuprofile "$PROFILE/cpu.pprof" -memprofile "$PROFILE/mem.pprof")
		[ -z "$TRACE" ] || prof+=(-trace "$PROFILE/trace.out" -trace-segment "$TRACE")
	fi
	env ${RG_GOGC:+GOGC="$RG_GOGC"} ${RG_GOMEMLIMIT:+GOMEMLIMIT="$RG_GOMEMLIMIT"} "$load" serve "${town[@]}" -dir "$dir" -auth "127.0.0.1:$rg_auth" -acct "127.0.0.1:$rg_acct" -secret "$SECRET" \
		-gomaxprocs "${RG_GOMAXPROCS:-1}" -status "$work/roamgate.status" "${prof[@]}" >"$work/roamgate.out" 2>"$work/roamgate.err" &
	pid[roamgate]=$!
	port[roamgate]=$rg_auth
fi

# --- null server ---------------------------------------------------------
if has null; then
	[ -f "$NULLSERVER_SRC/go.mod" ] || { echo "no null server at NULLSERVER_SRC=$NULLSERVER_SRC" >&2; exit 1; }
	cp -r "$NULLSERVER_SRC" "$work/nullserver-src"
	chmod -R u+w "$work/nullserver-src"
	(cd "$work/nullserver-src" && GOWORK=off GOFLAGS= go build -o "$work/nullserver" .)
	port[null]=$(free_port)
	taskset -c "$SERVER_CPU" "$work/nullserver" -addr "127.0.0.1:${port[null]}" -secret "$SECRET" >"$work/null.out" 2>&1 &
	pid[null]=$!
fi

# --- FreeRADIUS ----------------------------------------------------------
if has freeradius; then
	FREERADIUS=$(command -v freeradius)
	port[freeradius]=$(free_port)
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
	port = ${port[freeradius]}
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
	taskset -c "$SERVER_CPU" "$FREERADIUS" -f -d "$conf" -n radiusd >"$work/freeradius.out" 2>&1 &
	pid[freeradius]=$!
fi

for s in $SERVERS; do
	[ -n "${pid[$s]:-}" ] || { echo "unknown server $s (SERVERS: roamgate null freeradius)" >&2; exit 1; }
	deadline=120
	[ "$s" = roamgate ] && deadline=$((300 + SESSIONS / 200)) # creating sessions
	[ "$s" = freeradius ] && deadline=$((120 + SESSIONS / 2000)) # reading the users file
	if [ "$s" = roamgate ]; then
		wait_for "$deadline" grep -q ready "$work/roamgate.out" || { cat "$work/roamgate.err" >&2; exit 1; }
		for p in "${pid[roamgate]}" $(pgrep -P "${pid[roamgate]}"); do # its syncer too
			taskset -a -p -c "$SERVER_CPU" "$p" >/dev/null
		done
		grep created "$work/roamgate.err" >&2 || true
	fi
	check=status_ok
	[ "$s" = null ] && check=answers
	if ! wait_for "$deadline" "$check" "${port[$s]}"; then
		cat "$work/$s.out" "$work/$s.err" "$work/log/radius.log" >&2 2>/dev/null || true
		exit 1
	fi
done

# roamgate_flushed — true once no move waits for roamgate's background
# writer (they are in the move journal, or the store).
roamgate_flushed() { [[ $(cat "$work/roamgate.status") == "pending 0 "* ]]; }

# roamgate_drained — true once roamgate's store writes are done: nothing
# pending, nothing in the SQLite store's activity log left to fold (it
# folds at the latest 30 s after a touch: without this its fold of a
# run's last moves fell into the next server's run, uncounted), no move
# journal file left to write to the store (with CHECKPOINT=0: at most
# one, the file being written), no checkpoint running or due (one the
# journal's size started is counted to the run that filled it), and the
# status unchanged for 0.4 s.
roamgate_drained() {
	local a b
	a=$(cat "$work/roamgate.status")
	sleep 0.4
	b=$(cat "$work/roamgate.status")
	[ "$a" = "$b" ] && [[ $b == "pending 0 unfolded 0 "* ]] && [[ $b == *" due 0" ]] || return 1
	[[ $b == *" journal 0 due 0" ]] || { [ "$CHECKPOINT" = 0 ] && [[ $b == *" journal 1 due 0" ]]; }
}

# profile_segment LABEL — roamgate starts its next CPU profile segment.
segment=0
profile_segment() {
	kill -USR1 "${pid[roamgate]}"
	segment=$((segment + 1))
	echo "cpu.pprof.$segment: $1" >>"$PROFILE/segments"
}

results="$work/results.jsonl"
# run_load NAME [flags] — one load run against NAME, pinned to LOAD_CPU; adds
# the server's CPU time (for roamgate until its writes have caught up) and
# the drain time to the JSON line.
run_load() {
	local name=$1
	shift
	local t0 tr t1 c0 c1 start drain line
	if [ -n "$PROFILE" ] && [ "$name" = roamgate ]; then
		profile_segment "load $*"
	fi
	t0=$(cpu_ticks "${pid[$name]}")
	c0=$(core_ticks)
	line=$(taskset -c "$LOAD_CPU" "$load" -addr "127.0.0.1:${port[$name]}" -secret "$SECRET" "${town[@]}" \
		-unknown "$UNKNOWN" -roam "$ROAM" -sockets "$SOCKETS" -window "$WINDOW" -duration "$DURATION" -warmup "$WARMUP" \
		-name "$name" -json "$@")
	start=$SECONDS
	tr=$(cpu_ticks "${pid[$name]}")
	c1=$(core_ticks)
	if [ "$name" = roamgate ]; then
		[ -z "$PROFILE" ] || profile_segment "store catching up after: load $*"
		if [ "$CHECKPOINT" != 0 ]; then
			wait_for 60 roamgate_flushed
			kill -USR2 "${pid[roamgate]}"
		fi
		wait_for 1800 roamgate_drained
		[ -z "$PROFILE" ] || profile_segment "idle (other servers' runs)"
	fi
	drain=$((SECONDS - start))
	t1=$(cpu_ticks "${pid[$name]}")
	python3 -c 'import json,sys; r=json.loads(sys.argv[1]); r["server_cpu_s"]=float(sys.argv[2]); r["run_cpu_s"]=float(sys.argv[3]); r["drain_s"]=int(sys.argv[4]); r["core_busy"]=float(sys.argv[5]); print(json.dumps(r))' \
		"$line" "$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" 'BEGIN{print (b - a) / hz}')" \
		"$(awk -v a="$t0" -v b="$tr" -v hz="$HZ" 'BEGIN{print (b - a) / hz}')" "$drain" \
		"$(echo "$c0 $c1" | awk '{print ($4 > $2 ? ($3 - $1) / ($4 - $2) : 0)}')" >>"$results"
	tail -1 "$results" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("  %-10s %-20s %8.0f/s p99 %.0f µs, server CPU %.1f s (%.1f s in the run), drain %d s" % (
    r["name"], r["mode"], r["answers_per_second"], r["p99_us"], r["server_cpu_s"], r["run_cpu_s"], r["drain_s"]), file=sys.stderr)'
}

# --- load ------------------------------------------------------------------
if has roamgate; then
	echo "sweep: every device once from where it signed in" >&2
	run_load roamgate -sweep
fi
for round in $(seq 1 "$ROUNDS"); do
	echo "round $round of $ROUNDS" >&2
	for s in $SERVERS; do run_load "$s"; done
done
if [ "$RATE" != 0 ]; then
	echo "fixed rate $RATE/s" >&2
	for s in $SERVERS; do run_load "$s" -rate "$RATE"; done
fi
if has roamgate; then
	kill -TERM "${pid[roamgate]}"
	wait "${pid[roamgate]}" || true
	unset 'pid[roamgate]'
fi

# --- report ----------------------------------------------------------------
echo
echo "$(date -u +%Y-%m-%dT%H:%MZ) — $SESSIONS devices at $LOCATIONS×$APS access points, $UNKNOWN unknown, roam $ROAM;" \
	"$SOCKETS sockets × $WINDOW in flight, ${DURATION} per run (+${WARMUP} warm-up), servers on CPU $SERVER_CPU, load on CPU $LOAD_CPU;" \
	"$(nproc --all) cores, load average $(cut -d" " -f1-3 /proc/loadavg)"
if has roamgate; then
	sed 's/^/roamgate: /' "$work/roamgate.err"
fi
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| server | load | answers/s | accept | reject | timeout | p50 µs | p99 µs | p99.9 µs | server busy % (run) | core busy % (run) | answers per CPU-s | drain s |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    cpu = r['server_cpu_s']
    # Busy while the load ran: the drain after it waits for the store's
    # timed fold (up to 30 s) and mostly idles, so it is left out here; its
    # CPU time still counts in answers per CPU-second.
    busy = r['run_cpu_s'] / r['all_seconds']
    per_cpu = r['all_answers'] / cpu if cpu > 0 else float('nan')
    print(f"| {r['name']} | {r['mode']} | {r['answers_per_second']:.0f} | {r['accepts']} | {r['rejects']} | {r['timeouts']} | "
          f"{r['p50_us']:.0f} | {r['p99_us']:.0f} | {r['p999_us']:.0f} | {100 * busy:.0f} | {100 * r['core_busy']:.0f} | {per_cpu:.0f} | {r['drain_s']} |")
def closed(name, key):
    v = [r for r in rows if r['name'] == name and r['mode'] == 'closed loop']
    if not v:
        return None
    if key == 'per_cpu':
        return statistics.median(r['all_answers'] / r['server_cpu_s'] for r in v if r['server_cpu_s'] > 0)
    return statistics.median(r[key] for r in v)
print()
names = [n for n in ('roamgate', 'null', 'freeradius') if closed(n, 'answers_per_second')]
for n in names:
    print(f"closed-loop median {n}: {closed(n, 'answers_per_second'):.0f} answers/s, {closed(n, 'per_cpu'):.0f} answers per CPU-second")
rg = closed('roamgate', 'answers_per_second')
for anchor in ('null', 'freeradius'):
    a = closed(anchor, 'answers_per_second')
    if rg and a:
        print(f"roamgate / {anchor}: {rg / a:.2f} (answers/s), {closed('roamgate', 'per_cpu') / closed(anchor, 'per_cpu'):.2f} (answers per CPU-second)")
for r in rows:
    if r['mode'].startswith('fixed rate'):
        print(f"{r['mode']}: {r['name']} p50 {r['p50_us']:.0f} µs, p99 {r['p99_us']:.0f} µs, p99.9 {r['p999_us']:.0f} µs, timeouts {r['timeouts']}, backlog {r['backlog']}")
PY
if [ -n "$PROFILE" ] && [ -n "$TRACE" ] && [ -s "$PROFILE/trace.out" ]; then
	echo
	echo "trace of segment $TRACE (scripts/tracegaps):"
	tr=$(realpath "$PROFILE/trace.out")
	# A trace of a segment without load (a drain, an idle one) has no gaps
	# to show; that is not a failed run.
	(cd scripts/tracegaps && GOWORK=off GOFLAGS= go run . -longest 3 "$tr") || true
fi
