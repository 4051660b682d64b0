#!/bin/bash
# test_control.sh MTASTS: mtastsd's operator side channels, inside the test
# world: the Prometheus endpoint (metrics_listen) and the control socket
# (control_socket) through `mtasts cache list|show|purge|refresh`, and the
# offline listing of the SQLite store (`mtasts cache list --sqlite`).
# Prints one ok/FAIL line per check, then "N passed, M failed".
# Exit: 0 all passed, 1 some failed, 2 bad arguments, 77 skipped.
# "A && pass || fail": pass never fails.
# shellcheck disable=SC2015
set -eu

. "$(dirname "$0")/lib.sh"

if [ $# -ne 1 ]; then
	echo "usage: $0 PATH/TO/mtasts" >&2
	exit 2
fi
case $1 in
/*) MTASTS=$1 ;;
*) MTASTS=$PWD/$1 ;;
esac
MTASTSD=$(dirname "$MTASTS")/mtastsd
SMC=$MTSW_HERE/smclient.py
if [ ! -x "$MTASTSD" ]; then
	echo "$0: $MTASTSD: not an executable" >&2
	exit 2
fi
require_root_and_tools python3 timeout curl jq

world_up
T=$MTSW_DIR/c
mkdir -p "$T/state"
chmod 711 "$MTSW_DIR" "$T"
PORT=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
MPORT=$((PORT + 1))
SOCK=$T/state/control.sock
DB=$T/state/cache.db

{
	printf 'host: 127.0.0.1\nport: %s\nshutdown_timeout: %s\n' "$PORT" "$(tscale 5)"
	printf 'resolver: "%s"\nca_file: "%s"\n' "$MTSW_RESOLVER" "$MTSW_CA"
	printf 'default_zone:\n  timeout: %s\n' "$(tscale 2)"
	printf 'metrics_listen: 127.0.0.1:%s\n' "$MPORT"
	printf 'control_socket: "%s"\n' "$SOCK"
	printf 'cache:\n  type: sqlite\n  options:\n    filename: "%s"\n' "$DB"
} >"$T/c.yml"

DPID=
DLOG=
start() {
	local name=$1 i
	shift
	DLOG=$T/$name.log
	: >"$DLOG"
	ip netns exec "$MTSW_NS" "$MTASTSD" -v debug -l "$DLOG" "$@" &
	DPID=$!
	for i in $(seq 1 "$(tscale 100)"); do
		grep -q 'mtastsd ready' "$DLOG" 2>/dev/null && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	fail "$name: start" "not ready in $(tscale 10) s; log: $(tail -c 600 "$DLOG")"
	return 1
}

stop() {
	local rc=0 i
	kill -TERM "$DPID" 2>/dev/null || true
	for i in $(seq 1 "$(tscale 150)"); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DPID" 2>/dev/null; then
		kill -KILL "$DPID" 2>/dev/null || true
		wait "$DPID" 2>/dev/null || true
		fail "stop $DPID" "still running $(tscale 15) s after SIGTERM"
		return
	fi
	wait "$DPID" || rc=$?
	[ "$rc" -eq 0 ] || fail "stop $DPID" "exit $rc, want 0"
	DPID=
}
cleanup_daemon() {
	[ -n "$DPID" ] && kill -KILL "$DPID" 2>/dev/null || true
}
trap 'rc=$?; cleanup_daemon; world_down; exit $rc' EXIT

# q DOMAIN: one socketmap lookup (zone postfix; smclient's read timeout, 20 s
# by default, scaled); prints the reply.
q() {
	timeout -k 2 "$(tscale 30)" ip netns exec "$MTSW_NS" python3 "$SMC" "127.0.0.1:$PORT" -t "$(tscale 20)" pipe postfix "$1" 2>&1 || true
}

# metrics: the exposition text (inside the namespace).
metrics() {
	timeout -k 2 "$(tscale 15)" ip netns exec "$MTSW_NS" curl -s --max-time "$(tscale 5)" "http://127.0.0.1:$MPORT/metrics"
}
# metric NAME{LABELS}: the value of one series (empty when absent).
metric() {
	metrics | awk -v k="$1" '$1 == k { print $2 }'
}

# cache ARGS...: mtasts cache ARGS --socket SOCK (the daemon's socket is
# reachable from outside the namespace: it is a file).
cache() {
	timeout -k 2 "$(tscale 30)" "$MTASTS" cache "$@" --socket "$SOCK"
}

start ctl -c "$T/c.yml"

# ---- metrics endpoint ----
hdr=$(timeout -k 2 "$(tscale 15)" ip netns exec "$MTSW_NS" curl -s -D - -o /dev/null --max-time "$(tscale 5)" "http://127.0.0.1:$MPORT/metrics" | tr -d '\r')
case $hdr in
"HTTP/1.0 200 OK"*"Content-Type: text/plain; version=0.0.4"*) pass "metrics: 200, exposition content type" ;;
*) fail "metrics: status" "headers '$hdr'" ;;
esac
code=$(timeout -k 2 "$(tscale 15)" ip netns exec "$MTSW_NS" curl -s -o /dev/null -w '%{http_code}' --max-time "$(tscale 5)" "http://127.0.0.1:$MPORT/other")
[ "$code" = 404 ] && pass "metrics: 404 elsewhere" || fail "metrics: 404" "got $code"
m=$(metrics)
missing=
for name in 'mtastsd_lookups_total{answer="policy"}' 'mtastsd_lookups_total{answer="none"}' \
	'mtastsd_lookups_total{answer="temp"}' mtastsd_cache_hits_total mtastsd_txt_queries_total \
	'mtastsd_fetches_total{result="policy"}' 'mtastsd_fetches_total{result="sts-webpki-invalid"}' \
	mtastsd_refresh_failures_total mtastsd_store_errors_total 'mtastsd_policies{mode="enforce"}' \
	mtastsd_records mtastsd_connections 'mtastsd_requests_total{reply="ok"}' \
	'mtastsd_lookup_duration_seconds_bucket{le="+Inf"}' mtastsd_lookup_duration_seconds_count; do
	printf '%s\n' "$m" | awk -v k="$name" '$1 == k { f = 1 } END { exit !f }' || missing="$missing $name"
done
[ -z "$missing" ] && pass "metrics: every series present" || fail "metrics: series" "missing:$missing"
[ "$(metric 'mtastsd_fetches_total{result="policy"}')" = 0 ] && pass "metrics: no fetch yet" ||
	fail "metrics: no fetch yet" "$(metric 'mtastsd_fetches_total{result="policy"}')"
# A slow client that never finishes its request does not block others (it
# stalls for longer than the metrics query below may take).
ip netns exec "$MTSW_NS" python3 -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $MPORT)); s.sendall(b'GET /met'); time.sleep($(tscale 3))" &
slow=$!
sleep 0.2
[ "$(metric mtastsd_records)" = 0 ] && pass "metrics: answered beside a stalled client" ||
	fail "metrics: stalled client" "records '$(metric mtastsd_records)'"
kill "$slow" 2>/dev/null || true
wait "$slow" 2>/dev/null || true

# ---- lookups move the counters ----
# The exact answer is test_mtastsd.sh's business: here, any OK will do.
# ok_lookup NAME: good.test answers OK (one lookup, whatever happens).
ok_lookup() {
	local got
	got=$(q good.test)
	case $got in
	"OK secure match="*) pass "$1" ;;
	*) fail "$1" "got '$got'" ;;
	esac
}
ok_lookup "lookup good.test"
ok_lookup "lookup good.test (cached)"
got=$(q untrusted.test)
[ "$got" = "NOTFOUND " ] && pass "lookup untrusted.test" || fail "lookup untrusted.test" "$got"
check_metric() {
	local name=$1 series=$2 want=$3 got
	got=$(metric "$series")
	[ "$got" = "$want" ] && pass "$name" || fail "$name" "$series = '$got', want $want"
}
check_metric "metrics: policy fetched once" 'mtastsd_fetches_total{result="policy"}' 1
check_metric "metrics: webpki failure counted" 'mtastsd_fetches_total{result="sts-webpki-invalid"}' 1
check_metric "metrics: lookups answered policy" 'mtastsd_lookups_total{answer="policy"}' 2
check_metric "metrics: cache hit" mtastsd_cache_hits_total 1
check_metric "metrics: one enforce policy" 'mtastsd_policies{mode="enforce"}' 1
check_metric "metrics: two records" mtastsd_records 2
check_metric "metrics: requests ok" 'mtastsd_requests_total{reply="ok"}' 2
check_metric "metrics: requests notfound" 'mtastsd_requests_total{reply="notfound"}' 1
check_metric "metrics: latency count" mtastsd_lookup_duration_seconds_count 3
check_metric "metrics: latency +Inf bucket" 'mtastsd_lookup_duration_seconds_bucket{le="+Inf"}' 3

# ---- control socket ----
m=$(stat -c '%a %U' "$SOCK" 2>/dev/null || echo none)
[ "$m" = "600 root" ] && pass "control socket: mode 0600" || fail "control socket mode" "$m"
out=$(cache list --json) && rc=0 || rc=$?
n=$(printf '%s' "$out" | jq -r '.count' 2>/dev/null || echo "")
doms=$(printf '%s' "$out" | jq -r '[.records[].domain] | sort | join(",")' 2>/dev/null || echo "")
[ "$rc" -eq 0 ] && [ "$n" = 2 ] && [ "$doms" = "good.test,untrusted.test" ] &&
	pass "cache list --json" || fail "cache list --json" "exit $rc, count '$n', domains '$doms'; $out"
out=$(cache list) && rc=0 || rc=$?
case $out in
"DOMAIN"*"good.test"*"enforce"*"good1"*"2 record(s)") [ "$rc" -eq 0 ] && pass "cache list (table)" || fail "cache list" "exit $rc" ;;
*) fail "cache list (table)" "exit $rc; '$out'" ;;
esac
out=$(cache show GOOD.test. --json) && rc=0 || rc=$?
got=$(printf '%s' "$out" | jq -r '[.record.domain, .record.mode, .record.id, .record.last_verdict, (.record.mx | join(":")), (.record.expires - .record.fetched_at)] | join(" ")' 2>/dev/null || echo "")
[ "$rc" -eq 0 ] && [ "$got" = "good.test enforce good1 policy mail.good.test:*.mx.good.test 86400" ] &&
	pass "cache show (normalised domain)" || fail "cache show" "exit $rc; '$got'; $out"
got=$(cache show untrusted.test --json | jq -r '.record.last_verdict' 2>/dev/null || echo "")
[ "$got" = sts-webpki-invalid ] && pass "cache show: last verdict of a failure" || fail "cache show untrusted" "'$got'"
cache show nowhere.test >/dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 1 ] && pass "cache show unknown: exit 1" || fail "cache show unknown" "exit $rc"
"$MTASTS" cache list --socket "$T/nosuch.sock" >/dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 69 ] && pass "cache: no daemon: exit 69" || fail "cache: no daemon" "exit $rc"
"$MTASTS" cache purge >/dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 64 ] && pass "cache purge without a domain: exit 64" || fail "cache purge usage" "exit $rc"
# A raw protocol error is a JSON error, not a hang.
got=$(printf 'frobnicate x\n' | timeout "$(tscale 10)" python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect('$SOCK'); s.sendall(sys.stdin.buffer.read())
print(s.makefile().read().strip())" | jq -r '.ok' 2>/dev/null || echo "")
[ "$got" = false ] && pass "control: unknown command answered with ok=false" || fail "control: unknown command" "'$got'"

# purge: forgotten, and the next lookup fetches again.
out=$(cache purge good.test) && rc=0 || rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "purged good.test" ] && pass "cache purge" || fail "cache purge" "exit $rc; '$out'"
cache show good.test >/dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 1 ] && pass "purged domain is gone" || fail "purged domain" "show exit $rc"
ok_lookup "lookup after purge"
check_metric "metrics: purge caused a new fetch" 'mtastsd_fetches_total{result="policy"}' 2

# refresh: a re-fetch in the background, even with an unchanged id.
out=$(cache refresh good.test) && rc=0 || rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "refresh of good.test started" ] && pass "cache refresh" || fail "cache refresh" "exit $rc; '$out'"
for i in $(seq 1 "$(tscale 50)"); do
	[ "$(metric 'mtastsd_fetches_total{result="policy"}')" = 3 ] && break
	sleep 0.1
done
check_metric "metrics: refresh fetched again" 'mtastsd_fetches_total{result="policy"}' 3
ok_lookup "lookup after refresh"

stop

# ---- offline: the SQLite store without the daemon ----
[ ! -e "$SOCK" ] && pass "control socket removed at exit" || fail "control socket at exit" "still there"
out=$(timeout "$(tscale 30)" "$MTASTS" cache list --sqlite "$DB" --json) && rc=0 || rc=$?
got=$(printf '%s' "$out" | jq -r '[.source, (.records[] | select(.domain == "good.test") | .mode, .id)] | join(" ")' 2>/dev/null || echo "")
[ "$rc" -eq 0 ] && [ "$got" = "sqlite enforce good1" ] && pass "cache list --sqlite" || fail "cache list --sqlite" "exit $rc; '$got'; $out"
out=$(timeout "$(tscale 30)" "$MTASTS" cache show good.test --sqlite "$DB") && rc=0 || rc=$?
case $out in
*"mode:"*"enforce"*"mx:"*"mail.good.test"*) [ "$rc" -eq 0 ] && pass "cache show --sqlite" || fail "cache show --sqlite" "exit $rc" ;;
*) fail "cache show --sqlite" "exit $rc; '$out'" ;;
esac
timeout "$(tscale 30)" "$MTASTS" cache list --sqlite "$T/missing.db" >/dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" -eq 66 ] && [ ! -e "$T/missing.db" ] && pass "cache list --sqlite missing file: 66, not created" ||
	fail "cache list --sqlite missing" "exit $rc"

summary
