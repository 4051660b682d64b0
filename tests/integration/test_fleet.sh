#!/bin/bash
# test_fleet.sh MTASTS: mtastsd's shared and persistent stores, inside the
# test world (docs/internals/cache.md):
#  - two daemons sharing one real redis-server: a policy fetched by A is
#    answered by B from Redis, without an HTTPS fetch of its own;
#  - redis-server killed (SIGKILL) during a lookup loop: both daemons keep
#    answering from memory, each reply quickly, and log the loss; a memory
#    miss during the outage is still answered; redis-server restarted
#    (empty: no persistence): both reconnect by themselves, see that it
#    lost its keys, write back what they hold (the policies committed
#    before the kill and the one fetched during it), and share policies
#    again;
#  - the SQLite store across a restart: the first lookup after a restart is
#    answered at once, with no fetch.
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
if [ ! -x "$MTASTSD" ]; then
	echo "$0: $MTASTSD: not an executable" >&2
	exit 2
fi
require_root_and_tools python3 timeout curl redis-server redis-cli

world_up
T=$MTSW_DIR/f
mkdir -p "$T"
chmod 711 "$MTSW_DIR" "$T"
PA=$((20000 + RANDOM % 20000))
PB=$((PA + 2))
RSOCK=$T/redis.sock
GOOD='secure match=mail.good.test servername=hostname'

# lk.py: timed socketmap lookups, the clock inside the client.
#   lk.py one HOST:PORT NAME KEY          print "MS REPLY"
#   lk.py loop SECS HOST:PORT,... NAME KEY
#       a fresh connection per lookup, round robin over the addresses,
#       for SECS seconds; print "N MAXMS BAD" and then every bad reply
#       (anything but "OK ...", or slower than 1000 ms)
# The socket timeouts (3 s) and the 1000 ms bound are multiplied by LK_SCALE
# (tscale in lib.sh).
export LK_SCALE
LK_SCALE=$(tscale 1)
cat >"$T/lk.py" <<'EOF'
import os, socket, sys, time

SCALE = int(os.environ.get("LK_SCALE", "1"))

def lookup(addr, name, key):
    host, port = addr.rsplit(":", 1)
    t0 = time.monotonic()
    try:
        s = socket.create_connection((host, int(port)), 3 * SCALE)
        s.settimeout(3 * SCALE)
        p = (name + " " + key).encode()
        s.sendall(b"%d:%s," % (len(p), p))
        buf = b""
        while True:
            c = buf.find(b":")
            if c > 0 and buf[:c].isdigit():
                n = int(buf[:c])
                if len(buf) >= c + n + 2:
                    rep = buf[c + 1:c + 1 + n].decode("latin-1")
                    break
            d = s.recv(65536)
            if not d:
                rep = "CLOSED"
                break
            buf += d
        s.close()
    except OSError as e:
        rep = "ERROR %s" % e
    return (time.monotonic() - t0) * 1000.0, rep

if sys.argv[1] == "one":
    ms, rep = lookup(sys.argv[2], sys.argv[3], sys.argv[4])
    print("%d %s" % (ms, rep))
else:
    end = time.monotonic() + float(sys.argv[2])
    addrs = sys.argv[3].split(",")
    n, worst, bad = 0, 0.0, []
    while time.monotonic() < end:
        addr = addrs[n % len(addrs)]
        ms, rep = lookup(addr, sys.argv[4], sys.argv[5])
        n += 1
        worst = max(worst, ms)
        if not rep.startswith("OK ") or ms >= 1000 * SCALE:
            bad.append("%s %d ms: %s" % (addr, ms, rep))
        time.sleep(0.01)
    print("%d %d %d" % (n, worst, len(bad)))
    for b in bad[:5]:
        print(b)
EOF

# Processes we started, by PID: the daemons A and B, redis-server.
APID=''
BPID=''
RPID=''
cleanup() {
	local p
	for p in $APID $BPID $RPID; do
		kill -KILL "$p" 2>/dev/null || true
	done
}
trap 'rc=$?; cleanup; world_down; exit $rc' EXIT

# config FILE PORT CACHE-YAML
config() {
	{
		printf 'host: 127.0.0.1\nport: %s\nshutdown_timeout: %s\n' "$2" "$(tscale 3)"
		printf 'resolver: "%s"\nca_file: "%s"\n' "$MTSW_RESOLVER" "$MTSW_CA"
		printf 'default_zone:\n  timeout: %s\n' "$(tscale 2)"
		printf 'metrics_listen: 127.0.0.1:%s\n' "$(($2 + 1))"
		printf '%s\n' "$3"
	} >"$1"
}

# start VAR NAME ARGS...: start mtastsd in the world, set VAR to its PID,
# wait (bounded) until it is ready.
start() {
	local var=$1 name=$2 log pid
	shift 2
	log=$T/$name.log
	: >"$log"
	ip netns exec "$MTSW_NS" "$MTASTSD" -v debug -l "$log" "$@" &
	pid=$!
	eval "$var=$pid"
	for _ in $(seq 1 "$(tscale 100)"); do
		grep -q 'mtastsd ready' "$log" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "$name: start" "not ready in $(tscale 10) s; log: $(tail -c 600 "$log")"
	return 1
}

# stop VAR: SIGTERM, at most 10 s (scaled), exit 0.
stop() {
	local var=$1 pid rc=0
	pid=${!var}
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 1 "$(tscale 100)"); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		fail "stop $var" "still running $(tscale 10) s after SIGTERM"
	fi
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || fail "stop $var" "exit $rc, want 0"
	eval "$var="
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
rcli() {
	timeout -k 1 5 redis-cli -s "$RSOCK" "$@"
}
# key_wait DOMAIN: wait (at most 5 s, scaled) until Redis holds DOMAIN's
# record.
key_wait() {
	for _ in $(seq 1 "$(tscale 50)"); do
		[ "$(rcli EXISTS "mtasts:policy:$1" 2>/dev/null)" = 1 ] && return 0
		sleep 0.1
	done
	return 1
}

# one PORT KEY: "MS REPLY" of one lookup (zone postfix).
one() {
	timeout -k 2 "$(tscale 30)" ip netns exec "$MTSW_NS" python3 "$T/lk.py" one "127.0.0.1:$1" postfix "$2" 2>&1 || true
}
# metric PORT SERIES: one series of the daemon on PORT (metrics on PORT+1).
metric() {
	timeout -k 2 "$(tscale 15)" ip netns exec "$MTSW_NS" curl -s --max-time "$(tscale 5)" "http://127.0.0.1:$(($1 + 1))/metrics" |
		awk -v k="$2" '$1 == k { print $2 }'
}
FS=mtastsd_fetches_started_total
# want_reply NAME "MS REPLY" WANT [MAX-MS]: MAX-MS is scaled (tscale).
want_reply() {
	local name=$1 got=$2 want=$3 max=${4:-}
	local ms=${got%% *} rep=${got#* }
	[ -z "$max" ] || max=$(tscale "$max")
	if [ "$rep" != "$want" ]; then
		fail "$name" "got '$got', want '$want'"
	elif [ -n "$max" ] && [ "$ms" -ge "$max" ]; then
		fail "$name" "answered in $ms ms, want < $max"
	else
		pass "$name ($ms ms)"
	fi
}
# count_in FILE PATTERN: lines of FILE matching PATTERN (0 when none).
count_in() {
	grep -c "$2" "$1" 2>/dev/null || true
}

# ================= Redis: a fleet of two =================
redis_start || { summary; exit 1; }
REDIS_YAML=$(printf 'cache:\n  type: redis\n  options:\n    url: "unix://%s"' "$RSOCK")
config "$T/a.yml" "$PA" "$REDIS_YAML"
config "$T/b.yml" "$PB" "$REDIS_YAML"
start APID a -c "$T/a.yml" || { summary; exit 1; }
start BPID b -c "$T/b.yml" || { summary; exit 1; }
for n in a b; do
	for _ in $(seq 1 "$(tscale 50)"); do
		[ "$(count_in "$T/$n.log" 'cache redis: connected')" -ge 1 ] && break
		sleep 0.1
	done
	[ "$(count_in "$T/$n.log" 'cache redis: connected')" -ge 1 ] && pass "$n: connected to redis" ||
		fail "$n: connected to redis" "$(tail -c 400 "$T/$n.log")"
done

want_reply "A: good.test (fetched)" "$(one "$PA" good.test)" "OK $GOOD"
[ "$(metric "$PA" "$FS")" = 1 ] && pass "A: one HTTPS fetch" || fail "A: one HTTPS fetch" "$FS = '$(metric "$PA" "$FS")'"
key_wait good.test && pass "A wrote good.test to Redis" ||
	fail "A wrote good.test to Redis" "keys: $(rcli KEYS '*' | tr '\n' ' ')"
mode=$(rcli HGET mtasts:policy:good.test mode 2>/dev/null || true)
[ "$mode" = enforce ] && pass "Redis record: mode enforce" || fail "Redis record" "mode '$mode'"
ttl=$(rcli TTL mtasts:policy:good.test 2>/dev/null || echo -3)
[ "$ttl" -gt 86000 ] && [ "$ttl" -le 86400 ] && pass "Redis record: TTL ~ max_age ($ttl s)" ||
	fail "Redis record TTL" "$ttl"

want_reply "B: good.test from Redis" "$(one "$PB" good.test)" "OK $GOOD" 1000
[ "$(metric "$PB" "$FS")" = 0 ] && pass "B: no HTTPS fetch of its own" ||
	fail "B: no HTTPS fetch of its own" "$FS = '$(metric "$PB" "$FS")'"
[ "$(metric "$PB" mtastsd_records)" = 1 ] && pass "B: good.test now in memory" ||
	fail "B: records" "$(metric "$PB" mtastsd_records)"

# ---- redis-server killed during a lookup loop ----
na=$(count_in "$T/a.log" 'cache redis: connected')
nb=$(count_in "$T/b.log" 'cache redis: connected')
ip netns exec "$MTSW_NS" python3 "$T/lk.py" loop "$(tscale 4)" "127.0.0.1:$PA,127.0.0.1:$PB" postfix good.test >"$T/loop1" 2>&1 &
lpid=$!
sleep "$(tscale 1)"
kill -KILL "$RPID"
wait "$RPID" 2>/dev/null || true
RPID=
timeout "$(tscale 20)" tail --pid="$lpid" -f /dev/null || kill "$lpid" 2>/dev/null || true
wait "$lpid" 2>/dev/null || true
read -r n worst bad <"$T/loop1" || true
[ "${n:-0}" -ge 20 ] && [ "${bad:-1}" = 0 ] && [ "${worst:-999999}" -lt "$(tscale 1000)" ] &&
	pass "redis killed: $n lookups on A and B, every one OK, slowest $worst ms" ||
	fail "redis killed: lookup loop" "$(head -c 800 "$T/loop1")"
for n in a b; do
	for _ in $(seq 1 "$(tscale 30)"); do
		grep -q 'cache redis: .*serving from memory' "$T/$n.log" && break
		sleep 0.1
	done
	grep -q 'cache redis: .*serving from memory' "$T/$n.log" && pass "$n: logged the lost store" ||
		fail "$n: logged the lost store" "$(tail -c 400 "$T/$n.log")"
done
for p in APID BPID; do
	kill -0 "${!p}" 2>/dev/null && pass "$p alive after the store died" || fail "$p alive" "gone"
done
# A memory miss while the store is down: fetched, answered within the
# zone deadline; the store's failure is fast (EUNAVAIL), not a wait.
want_reply "B: memory miss with Redis down (charset.test)" "$(one "$PB" charset.test)" \
	'OK secure match=mail.charset.test servername=hostname' 3000
se=$(metric "$PB" mtastsd_store_errors_total)
[ "${se:-0}" -ge 1 ] && pass "B: store errors counted ($se)" || fail "B: store errors" "'$se'"

# ---- redis-server back: both reconnect by themselves ----
t0=$(now_ms)
redis_start || { summary; exit 1; }
ok=0
for _ in $(seq 1 "$(tscale 200)"); do
	if [ "$(count_in "$T/a.log" 'cache redis: connected')" -gt "$na" ] &&
		[ "$(count_in "$T/b.log" 'cache redis: connected')" -gt "$nb" ]; then
		ok=1
		break
	fi
	sleep 0.1
done
ms=$(($(now_ms) - t0))
[ "$ok" = 1 ] && pass "redis back: A and B reconnected by themselves ($ms ms)" ||
	fail "redis back: reconnect" "not within $(tscale 20) s; A: $(tail -c 300 "$T/a.log"); B: $(tail -c 300 "$T/b.log")"
# The restarted server is empty (no persistence): each daemon sees the
# new epoch token and writes back what it holds, so the policies
# committed before the kill, and charset.test fetched during the outage,
# are in Redis again without a lookup.
for n in a b; do
	for _ in $(seq 1 "$(tscale 50)"); do
		grep -q 'cache redis: the server lost its keys' "$T/$n.log" && break
		sleep 0.1
	done
	grep -q 'cache redis: the server lost its keys' "$T/$n.log" && pass "$n: saw that the new server lost its keys" ||
		fail "$n: lost keys" "$(grep -i 'redis\|store' "$T/$n.log" | tail -n 3)"
done
for d in good.test charset.test; do
	key_wait "$d" && pass "redis back: $d written back without a lookup" ||
		fail "redis back: $d written back" "keys: $(rcli KEYS '*' | tr '\n' ' ')"
done
fa=$(metric "$PA" "$FS")
fb=$(metric "$PB" "$FS")
want_reply "A: crlf.test (fetched)" "$(one "$PA" crlf.test)" 'OK secure match=mail.crlf.test servername=hostname'
[ "$(metric "$PA" "$FS")" = $((fa + 1)) ] && pass "A: fetched crlf.test" || fail "A: fetched crlf.test" "$FS = '$(metric "$PA" "$FS")', was $fa"
key_wait crlf.test && pass "A wrote crlf.test to the new Redis" ||
	fail "A wrote crlf.test to the new Redis" "keys: $(rcli KEYS '*' | tr '\n' ' ')"
want_reply "B: crlf.test from Redis again" "$(one "$PB" crlf.test)" \
	'OK secure match=mail.crlf.test servername=hostname' 1000
[ "$(metric "$PB" "$FS")" = "$fb" ] && pass "B: no fetch for crlf.test" ||
	fail "B: no fetch for crlf.test" "$FS = '$(metric "$PB" "$FS")', was $fb"
want_reply "A: good.test still answered" "$(one "$PA" good.test)" "OK $GOOD" 1000
stop APID
stop BPID
kill -TERM "$RPID" 2>/dev/null || true
wait "$RPID" 2>/dev/null || true
RPID=

# ================= SQLite: across a restart =================
DB=$T/cache.db
config "$T/s.yml" "$PA" "$(printf 'cache:\n  type: sqlite\n  options:\n    filename: "%s"' "$DB")"
start APID s1 -c "$T/s.yml" || { summary; exit 1; }
want_reply "sqlite: good.test (fetched)" "$(one "$PA" good.test)" "OK $GOOD"
[ "$(metric "$PA" "$FS")" = 1 ] && pass "sqlite: one fetch" || fail "sqlite: one fetch" "$FS = '$(metric "$PA" "$FS")'"
stop APID
start APID s2 -c "$T/s.yml" || { summary; exit 1; }
want_reply "sqlite restart: first lookup at once" "$(one "$PA" good.test)" "OK $GOOD" 1000
[ "$(metric "$PA" "$FS")" = 0 ] && pass "sqlite restart: no fetch" || fail "sqlite restart: no fetch" "$FS = '$(metric "$PA" "$FS")'"
grep -q 'store sqlite: loaded 1 record' "$T/s2.log" && pass "sqlite restart: record loaded" ||
	fail "sqlite restart: loaded" "$(grep -i 'store\|cache' "$T/s2.log" | tail -c 400)"
stop APID

summary
