#!/bin/bash
# test_tlsrpt_fleet.sh MTASTS: TLS reports of a fleet sharing Redis
# (issue 6: "one report per day comes out, not one per host";
# mtasts-tlsrptd(8) `shared`, docs/decisions.md "TLS reports: a fleet
# sharing Redis").
#
# A real redis-server (UNIX socket in the state dir, no persistence,
# stopped by PID) and two mtasts-tlsrptd hosts (host_name mta-a / mta-b,
# each its own state_db and report.dry_run_dir, both `shared: redis`).
# The world's unbound serves `_smtp._tls` records (the rua lookup). Each
# host counts different datagrams for fleet.test on the same day
# (--events-from pushes its report to Redis), then both run --once:
#  - exactly one report file for (day, fleet.test) across both dry-run
#    dirs, its counts the sums of both hosts' sessions, failure details
#    merged (python3 json);
#  - two rua: the winner sends the one merged report (stored in Redis at
#    its first attempt) to both; the other host records both deliveries
#    as sent by the winner and writes nothing;
#  - a third run sends nothing again;
#  - redis-server killed: a host with events for fleet2.test logs that
#    the shared store is unreachable and writes no report (no per-host
#    report).
#
# Prints one ok/FAIL line per check, then "N passed, M failed".
# Exit: 0 all passed, 1 some failed, 2 bad arguments, 77 skipped.
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
TLSRPTD=${TLSRPTD:-$(dirname "$MTASTS")/mtasts-tlsrptd}
HARD=${MTSW_HARD_TIMEOUT:-60}

require_root_and_tools python3 timeout redis-server redis-cli
if [ ! -x "$TLSRPTD" ]; then
	echo "SKIP: $TLSRPTD not built" >&2
	exit 77
fi

world_up
T=$MTSW_DIR/t-fleet
mkdir -p "$T/dryA" "$T/dryB"
RSOCK=$T/redis.sock
RPID=
cleanup() {
	if [ -n "$RPID" ]; then
		kill "$RPID" 2>/dev/null || true
		wait "$RPID" 2>/dev/null || true
	fi
}
# shellcheck disable=SC2154 # rc is set in the trap itself
trap 'rc=$?; cleanup; world_down; exit $rc' EXIT

rcli() {
	timeout -k 1 5 redis-cli -s "$RSOCK" "$@"
}
redis_start() {
	ip netns exec "$MTSW_NS" redis-server --port 0 --unixsocket "$RSOCK" \
		--unixsocketperm 700 --save "" --appendonly no --daemonize no \
		--logfile "$T/redis.log" &
	RPID=$!
	for _ in $(seq 1 100); do
		[ "$(rcli PING 2>/dev/null)" = PONG ] && return 0
		kill -0 "$RPID" 2>/dev/null || break
		sleep 0.1
	done
	fail "redis-server start" "no PONG in 10 s: $(tail -c 400 "$T/redis.log")"
	return 1
}
redis_stop() {
	kill "$RPID" 2>/dev/null || true
	wait "$RPID" 2>/dev/null || true
	RPID=
}

# ---- the world's additions: the rua records ----
ZONE=$MTSW_DIR/unbound/test.zone
{
	echo '_smtp._tls.fleet.test.  TXT "v=TLSRPTv1; rua=https://reports.fleet.test/tlsrpt,mailto:tlsrpt@fleet.test"'
	echo '_smtp._tls.fleet2.test. TXT "v=TLSRPTv1; rua=https://reports.fleet.test/tlsrpt"'
} >>"$ZONE"
pid=$(tr -dc 0-9 <"$MTSW_DIR/unbound/unbound.pid")
kill -HUP "$pid"
i=0
until in_world dig @127.0.0.1 +time=1 +tries=1 +short TXT _smtp._tls.fleet2.test 2>/dev/null | grep -q TLSRPTv1; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { fail "world: _smtp._tls records" "unbound did not serve them"; summary; exit 1; }
	sleep 0.1
done
pass "world: _smtp._tls records served"

redis_start || { summary; exit 1; }
pass "redis-server on $RSOCK"

clear_of_midnight 180
NOW=$(date +%s)
TODAY=$((NOW / 86400 * 86400))
Y=$((TODAY - 86400))
YD=$(date -u -d "@$Y" +%F)
for h in a b; do
	cat >"$T/$h.yml" <<EOF
state_db: $T/$h.db
host_name: mta-$h.sender.test
log_level: debug
report:
  organization_name: mtasts fleet
  contact_info: tlsrpt@sender.test
  resolver: 127.0.0.1
  dry_run_dir: $T/dry${h^^}
  timeout: 10
shared:
  type: redis
  url: "unix:$RSOCK"
  prefix: "t:"
  timeout: 2
EOF
done
check "daemon -t accepts the shared configuration" "$TLSRPTD" -c "$T/a.yml" -t
printf 'report:\n  organization_name: o\n  contact_info: a@sender.test\nshared:\n  type: redis\n  url: "http://x"\n' >"$T/bad1.yml"
printf 'report:\n  organization_name: o\n  contact_info: a@sender.test\nshared:\n  type: postgres\n  url: "unix:/x"\n' >"$T/bad2.yml"
rc=0
"$TLSRPTD" -c "$T/bad1.yml" -t >/dev/null 2>"$T/bad1.err" || rc=$?
check "daemon -t refuses a bad shared.url" sh -c "[ $rc -eq 78 ] && grep -q 'shared.url' '$T/bad1.err'"
rc=0
"$TLSRPTD" -c "$T/bad2.yml" -t >/dev/null 2>"$T/bad2.err" || rc=$?
check "daemon -t refuses a shared.type other than redis" sh -c "[ $rc -eq 78 ] && grep -q 'only redis' '$T/bad2.err'"

POL='"policy-type":2,"policy-domain":"fleet.test","policy-string":["version: STSv1","mode: enforce","mx: mail.fleet.test","max_age: 86400"],"mx-host":["mail.fleet.test"]'
OK='"t":0,"f":0'
F205='"failure-details":[{"c":205,"s":"127.0.0.2","n":"mail.fleet.test","r":"127.0.0.254","f":"self-signed_certificate"}],"t":1,"f":1'
F202='"failure-details":[{"c":202,"s":"127.0.0.3","n":"mail.fleet.test","r":"127.0.0.254"}],"t":1,"f":1'
dg() { # dg TIME DOMAIN POLICY-JSON TAIL
	printf '%s {"dpv":"1","d":"%s","pr":"v=TLSRPTv1; rua=mailto:x@%s","policies":[{%s,%s}]}\n' "$1" "$2" "$2" "$3" "$4"
}
{ # host A: 3 successes, 1 failure (205)
	dg $((Y + 100)) fleet.test "$POL" "$OK"
	dg $((Y + 200)) fleet.test "$POL" "$OK"
	dg $((Y + 300)) fleet.test "$POL" "$OK"
	dg $((Y + 400)) fleet.test "$POL" "$F205"
} >"$T/a.events"
{ # host B: 2 successes, 2 failures (205 as on A, 202)
	dg $((Y + 1100)) fleet.test "$POL" "$OK"
	dg $((Y + 1200)) fleet.test "$POL" "$OK"
	dg $((Y + 1300)) fleet.test "$POL" "$F205"
	dg $((Y + 1400)) fleet.test "$POL" "$F202"
} >"$T/b.events"

run() { # run HOST ARGS...: the daemon in the world, bounded
	local h=$1
	shift
	timeout -k 2 "$HARD" ip netns exec "$MTSW_NS" "$TLSRPTD" -c "$T/$h.yml" "$@"
}
for h in a b; do
	out=$(run "$h" --events-from "$T/$h.events" 2>"$T/$h.ingest.log") || true
	case $out in
	*"4 session(s) counted, 0 duplicate(s), 0 rejected"*) pass "$h: 4 datagrams counted" ;;
	*) fail "$h: 4 datagrams counted" "$out $(tail -c 300 "$T/$h.ingest.log")" ;;
	esac
	check "$h: pushed to the shared store (logged)" grep -q "shared: pushed 1 report(s) of host mta-$h.sender.test" "$T/$h.ingest.log"
done
n=$(rcli HLEN "t:day:$YD:fleet.test" 2>/dev/null || echo x)
check "redis holds both hosts' reports of $YD fleet.test" test "$n" = 2

# ---- both hosts --once: one report ----
for h in a b; do
	rc=0
	run "$h" --once >"$T/$h.once1.out" 2>"$T/$h.once1.log" || rc=$?
	check "$h --once: exit 0" test "$rc" -eq 0
done
reports() { # the report files of DOMAIN in both dry-run dirs
	find "$T/dryA" "$T/dryB" -name "sender.test!$1!*.json.gz" | sort
}
files=$(reports fleet.test)
nfiles=$(printf '%s' "$files" | grep -c . || true)
check "exactly one report file for $YD fleet.test across both hosts" test "$nfiles" -eq 1
check "host A sent it (it took the lock first)" sh -c "printf '%s' '$files' | grep -q '/dryA/'"
check "A: merged report logged" grep -q "report $YD fleet.test: shared: merged now (2 host report(s) merged, 0 skipped)" "$T/a.once1.log"
check "A: written (dry run)" grep -q "report $YD fleet.test to https://reports.fleet.test/tlsrpt: written (dry run)" "$T/a.once1.log"
check "B: recorded as sent by host A" grep -q "report $YD fleet.test to https://reports.fleet.test/tlsrpt: sent by host mta-a.sender.test (shared)" "$T/b.once1.log"
check "B: the second rua recorded as sent by host A too" grep -q "report $YD fleet.test to mailto:tlsrpt@fleet.test: sent by host mta-a.sender.test (shared)" "$T/b.once1.log"
check "A: the second rua gets the merged report stored at the first attempt" grep -q "report $YD fleet.test: shared: the merged report stored at the first attempt" "$T/a.once1.log"
check "A: the mail for the second rua written (dry run)" sh -c "ls '$T/dryA/' | grep -q 'fleet.test!.*json.gz.tlsrpt@fleet.test.eml'"
check "B wrote nothing" sh -c "[ -z \"\$(ls -A '$T/dryB')\" ]"
check "redis holds the lock of host A" test "$(rcli GET "t:lock:$YD:fleet.test")" = mta-a.sender.test
if [ "$nfiles" -eq 1 ]; then
	if python3 - "$files" "$Y" >"$T/check.out" 2>&1 <<'EOF'; then
import gzip, json, sys
r = json.loads(gzip.open(sys.argv[1]).read())
y = int(sys.argv[2])
import datetime
day = datetime.datetime.fromtimestamp(y, datetime.timezone.utc).strftime("%Y-%m-%d")
assert r["organization-name"] == "mtasts fleet", r
assert r["contact-info"] == "tlsrpt@sender.test", r
assert r["date-range"]["start-datetime"] == day + "T00:00:00Z", r
assert r["report-id"].startswith(day + ".fleet.test."), r["report-id"]
assert r["report-id"].endswith("@sender.test"), r["report-id"]
assert len(r["policies"]) == 1, r["policies"]
p = r["policies"][0]
assert p["policy"]["policy-domain"] == "fleet.test"
assert p["summary"]["total-successful-session-count"] == 5, p["summary"]
assert p["summary"]["total-failure-session-count"] == 3, p["summary"]
fd = sorted(p["failure-details"], key=lambda f: f["sending-mta-ip"])
assert len(fd) == 2, fd
assert fd[0]["sending-mta-ip"] == "127.0.0.2" and fd[0]["failed-session-count"] == 2, fd
assert fd[1]["sending-mta-ip"] == "127.0.0.3" and fd[1]["failed-session-count"] == 1, fd
assert fd[0]["result-type"] != fd[1]["result-type"], fd
print("ok")
EOF
		pass "the report sums both hosts: 5 successes, 3 failures, details merged (2 + 1)"
	else
		fail "the report sums both hosts" "$(cat "$T/check.out")"
	fi
fi

# ---- a third run sends nothing again ----
for h in a b; do
	rc=0
	run "$h" --once >"$T/$h.once2.out" 2>"$T/$h.once2.log" || rc=$?
	check "$h --once again: exit 0" test "$rc" -eq 0
done
nfiles=$(reports fleet.test | grep -c . || true)
check "a third run writes no second report" test "$nfiles" -eq 1
check "a third run: A attempts no delivery" sh -c "! grep -q 'report $YD fleet.test to' '$T/a.once2.log'"

# ---- redis-server down: nothing is sent for the shared day ----
{
	dg $((Y + 100)) fleet2.test "${POL//fleet.test/fleet2.test}" "$OK"
	dg $((Y + 200)) fleet2.test "${POL//fleet.test/fleet2.test}" "$F202"
} >"$T/a2.events"
redis_stop
out=$(run a --events-from "$T/a2.events" 2>"$T/a.ingest2.log") || true
case $out in
*"2 session(s) counted"*) pass "redis down: A still counts its datagrams" ;;
*) fail "redis down: A still counts its datagrams" "$out" ;;
esac
check "redis down: the failed push is logged" grep -q "shared: cannot push this host's reports: redis: connect" "$T/a.ingest2.log"
rc=0
run a --once >"$T/a.once3.out" 2>"$T/a.once3.log" || rc=$?
check "redis down: A --once exits 0" test "$rc" -eq 0
check "redis down: the delivery attempt failed on redis (logged)" grep -q "report $YD fleet2.test to https://reports.fleet.test/tlsrpt: attempt 1 failed: redis: connect" "$T/a.once3.log"
nfiles=$(reports fleet2.test | grep -c . || true)
check "redis down: no per-host report written for fleet2.test" test "$nfiles" -eq 0

summary
