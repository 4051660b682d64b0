#!/bin/bash
# test_mtastsd.sh MTASTS: run the daemon (the mtastsd next to MTASTS) inside
# the test world and query it with Postfix's own socketmap client (postmap)
# over TCP and a UNIX socket, and with smclient.py for what postmap cannot
# do: pipelining, malformed netstrings, odd keys, TLSRPT attributes, TEMP,
# SIGHUP reload on an open connection, SIGTERM with a request in flight.
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
require_root_and_tools postmap python3 timeout

world_up
T=$MTSW_DIR/d
mkdir -p "$T/pf" "$T/state"
# The daemon runs as nobody in one test: let it reach its state dir.
chmod 711 "$MTSW_DIR" "$T"
# A Postfix "instance" for postmap: only main.cf is read.
printf 'compatibility_level = 3.6\n' >"$T/pf/main.cf"
# A free port: the namespace is ours, but take a random one anyway.
PORT=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)
# The policies say "mx: mail.D" and "mx: *.mx.D"; D's only MX is mail.D,
# so with wildcard_match: expand (default) the wildcard contributes no
# name (docs/decisions.md AN-2).
GOOD='secure match=mail.good.test servername=hostname'

# config FILE [EXTRA-YAML]: a config for the world (its resolver and CA).
# The zone timeout is 2 s (ZT), times MTS_TEST_TIME_SCALE (valgrind).
ZT=$(tscale 2)
config() {
	{
		printf 'host: 127.0.0.1\nport: %s\nshutdown_timeout: %s\n' "$PORT" "$(tscale 5)"
		printf 'resolver: "%s"\nca_file: "%s"\n' "$MTSW_RESOLVER" "$MTSW_CA"
		printf 'default_zone:\n  timeout: %s\n' "$ZT"
		printf 'zones:\n'
		printf '  strict:\n    timeout: %s\n    strict_testing: true\n' "$ZT"
		printf '  nosni:\n    timeout: %s\n    require_sni: false\n' "$ZT"
		printf '  rpt:\n    timeout: %s\n    tlsrpt: true\n' "$ZT"
		printf '%s' "${2:-}"
	} >"$1"
}

DPID=
DLOG=
# start NAME ARGS...: start mtastsd in the world, wait (bounded) until it
# logs that it is ready. Sets DPID and DLOG.
start() {
	local name=$1 i
	shift
	DLOG=$T/$name.log
	: >"$DLOG"
	# Not in_world: a function runs in a subshell, and $! must be the
	# daemon itself (ip netns exec execs it).
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

# stop [WANT-RC]: SIGTERM the daemon, wait at most 15 s, check its status.
stop() {
	local want=${1:-0} rc=0 i
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
	[ "$rc" -eq "$want" ] || fail "stop $DPID" "exit $rc, want $want"
	DPID=
}

# pm NAME KEY WANT-RC [WANT-OUT] [MAP]: postmap -q KEY, check exit and output.
pm() {
	local name=$1 key=$2 want_rc=$3 want=${4:-} map=${5:-socketmap:inet:127.0.0.1:$PORT:postfix}
	local got rc=0
	got=$(timeout -k 2 30 ip netns exec "$MTSW_NS" postmap -c "$T/pf" -q "$key" "$map" 2>"$T/pm.err") || rc=$?
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "postmap exit $rc, want $want_rc; out '$got'; err $(head -c 300 "$T/pm.err")"
	elif [ "$got" != "$want" ]; then
		fail "$name" "got '$got', want '$want'"
	else
		pass "$name"
	fi
}

# sm NAME WANT ARGS...: smclient ARGS inside the world; stdout must be WANT.
sm() {
	local name=$1 want=$2 got
	shift 2
	got=$(timeout -k 2 60 ip netns exec "$MTSW_NS" python3 "$SMC" "$@" 2>&1) || true
	if [ "$got" = "$want" ]; then
		pass "$name"
	else
		fail "$name" "got '$(printf '%s' "$got" | head -c 800)', want '$want'"
	fi
}

# ---- mtastsd -n ----
config "$T/good.yml"
out=$("$MTASTSD" -n -c "$T/good.yml" 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "configuration OK" ] && pass "-n good config" ||
	fail "-n good config" "exit $rc, output '$out'"
printf 'port: eighty\ncache:\n  type: sqlite\n' >"$T/bad.yml"
out=$("$MTASTSD" -n -c "$T/bad.yml" 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 1 ] && [ -n "$out" ] && pass "-n bad config" ||
	fail "-n bad config" "exit $rc, output '$out'"
printf 'cache:\n  type: postgres\n  options:\n    dsn: "postgres://x"\n' >"$T/pg.yml"
out=$("$MTASTSD" -n -c "$T/pg.yml" 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 1 ] && pass "-n refuses postgres" || fail "-n refuses postgres" "exit $rc, output '$out'"
out=$("$MTASTSD" -n -c "$T/missing.yml" 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 1 ] && pass "-n missing file" || fail "-n missing file" "exit $rc, output '$out'"
out=$("$MTASTSD" --disable-uvloop --version 2>&1) && rc=0 || rc=$?
case $out in "mtastsd "*) pass "--version" ;; *) fail "--version" "exit $rc, '$out'" ;; esac

# ---- mtasts-tlsrptd's log_level next to mtastsd's -v: its own names and
# mtastsd's spellings (warn, error) are accepted, anything else is refused
# by -t with the allowed values (it used to mean err, silently). ----
TLSRPTD=$(dirname "$MTASTS")/mtasts-tlsrptd
if [ -x "$TLSRPTD" ]; then
	for lv in err warning info debug error warn WARN fatal; do
		printf 'state_db: %s
log_level: %s
report:
  organization_name: o
  contact_info: a@sender.test
' \
			"$T/tlsrptd-state.db" "$lv" >"$T/tlsrptd-$lv.yml"
		out=$("$TLSRPTD" -c "$T/tlsrptd-$lv.yml" -t 2>&1) && rc=0 || rc=$?
		case $lv in
		WARN | fatal)
			[ "$rc" -eq 78 ] && case $out in *"log_level: '$lv' is not one of err, warning, info, debug"*) true ;; *) false ;; esac &&
				pass "tlsrptd -t: log_level $lv refused" ||
				fail "tlsrptd -t: log_level $lv" "exit $rc, output '$out'"
			;;
		*)
			[ "$rc" -eq 0 ] && pass "tlsrptd -t: log_level $lv accepted" ||
				fail "tlsrptd -t: log_level $lv" "exit $rc, output '$out'"
			;;
		esac
	done
fi

# ---- TCP, sqlite cache, pidfile, -u/-g ----
config "$T/tcp.yml" "$(printf 'cache:\n  type: sqlite\n  options:\n    filename: "%s"\n' "$T/state/cache.db")"
chown nobody "$T/state"
start tcp -c "$T/tcp.yml" -p "$T/pid" -u nobody -g nogroup
[ "$(cat "$T/pid" 2>/dev/null)" = "$DPID" ] && pass "pidfile" || fail "pidfile" "'$(cat "$T/pid" 2>/dev/null)' != $DPID"
uid=$(awk '/^Uid:/ {print $2 ":" $3}' "/proc/$DPID/status")
[ "$uid" = "$(id -u nobody):$(id -u nobody)" ] && pass "runs as nobody" || fail "runs as nobody" "Uid $uid"
# ids_of PID: "UIDS / GIDS / GROUPS" from /proc/PID/status (real,
# effective, saved, fs IDs; the supplementary groups).
ids_of() {
	awk '/^(Uid|Gid|Groups):/ { s = ""; for (i = 2; i <= NF; i++) s = s (i > 2 ? " " : "") $i; o = o (o != "" ? " / " : "") s }
		END { print o }' "/proc/$1/status"
}
# Landlock (sandbox.h): writes only beneath the cache's directory and the
# log's and pidfile's (both $T here), resolved; or said unavailable.
ll=$(grep -o 'landlock.*' "$DLOG" | head -n 1)
case $ll in
"landlock (ABI "*"): files are written only beneath $(realpath "$T/state") $(realpath "$T") /dev/null")
	pass "landlock: writes only beneath the cache's, log's and pidfile's directories" ;;
"landlock not available"*) pass "landlock: not available on this kernel, said so ($ll)" ;;
*) fail "landlock" "log: '$ll'" ;;
esac
NU=$(id -u nobody)
NG=$(getent group nogroup | cut -d: -f3)
got=$(ids_of "$DPID")
[ "$got" = "$NU $NU $NU $NU / $NG $NG $NG $NG / $NG" ] && pass "-u nobody -g nogroup: group and supplementary groups" ||
	fail "-u nobody -g nogroup: groups" "got '$got', want '$NU $NU $NU $NU / $NG $NG $NG $NG / $NG'"

pm "good.test (postmap, TCP)" good.test 0 "$GOOD"
pm "good.test again (cached)" good.test 0 "$GOOD"
pm "[GOOD.test]:25" '[GOOD.test]:25' 0 "$GOOD"
pm "crlf.test" crlf.test 0 'secure match=mail.crlf.test servername=hostname'
pm "cname.test" cname.test 0 'secure match=mail.cname.test servername=hostname'
pm "blankline.test (usable)" blankline.test 0 'secure match=mail.blankline.test servername=hostname'
for d in testing.test none.test nxdomain.test nodata.test spfonly.test multiple.test \
	badtxt.test notfound.test html.test redirect.test untrusted.test wrongname.test \
	expired.test badpolicy.test refused.test; do
	pm "$d: not found" "$d" 1
done
pm ".good.test: parent probe" .good.test 1
pm "[1.2.3.4]: IP literal" '[1.2.3.4]' 1
pm "testing.test, strict zone" testing.test 0 \
	'secure match=mail.testing.test servername=hostname' \
	"socketmap:inet:127.0.0.1:$PORT:strict"
pm "good.test, require_sni false" good.test 0 'secure match=mail.good.test' \
	"socketmap:inet:127.0.0.1:$PORT:nosni"

RPT="$GOOD policy_type=sts policy_domain=good.test mx_host_pattern=mail.good.test"
RPT="$RPT mx_host_pattern=*.mx.good.test { policy_string = version: STSv1 }"
RPT="$RPT { policy_string = mode: enforce } { policy_string = mx: mail.good.test }"
RPT="$RPT { policy_string = mx: *.mx.good.test } { policy_string = max_age: 86400 }"
sm "tlsrpt zone attributes" "OK $RPT" 127.0.0.1:$PORT pipe rpt good.test
sm "tlsrpt zone: not found stays bare" "NOTFOUND " 127.0.0.1:$PORT pipe rpt testing.test

sm "IDN key -> A-label lookup" \
	"OK secure match=mail.xn--bcher-kva.test servername=hostname" \
	127.0.0.1:$PORT pipe postfix 'bücher.test'
sm "odd keys" "$(printf 'OK %s\nNOTFOUND \nNOTFOUND \nNOTFOUND \nOK %s' "$GOOD" "$GOOD")" \
	127.0.0.1:$PORT pipe postfix '[GOOD.test]:25' '.good.test' '[1.2.3.4]' 'user@good.test' 'good.test.'

# Pipelining: timeout.test is answered last (deadline 2*2+1 s) but first in
# order; good.test (cached) and nxdomain.test finish before it.
t0=$(now_ms)
sm "pipelined replies in request order" \
	"$(printf 'NOTFOUND \nOK %s\nNOTFOUND \nOK %s' "$GOOD" "$GOOD")" \
	127.0.0.1:$PORT pipe postfix timeout.test good.test nxdomain.test good.test
ms=$(($(now_ms) - t0))
[ "$ms" -lt $((ZT * 2000 + $(tscale 5000))) ] && pass "never-answering domain within its deadline ($ms ms)" ||
	fail "deadline" "$ms ms for timeout.test (zone timeout $ZT s)"

# Malformed netstrings close that connection only.
sm "huge length" CLOSED 127.0.0.1:$PORT -t 5 raw '99999999999999999999999:x'
sm "negative length" CLOSED 127.0.0.1:$PORT -t 5 raw '-1:x,'
sm "missing comma" CLOSED 127.0.0.1:$PORT -t 5 raw '13:postfix x.test!'
sm "binary garbage" CLOSED 127.0.0.1:$PORT -t 5 raw '\x00\xff\xfe\x80garbage'
sm "request over the limit" CLOSED 127.0.0.1:$PORT -t 5 raw "10257:$(head -c 300 /dev/zero | tr '\0' a)"
sm "no space: PERM, connection kept" "$(printf 'PERM malformed socketmap request\nOK %s\nOPEN' "$GOOD")" \
	127.0.0.1:$PORT -t 3 raw "7:postfix,17:postfix good.test,"
sm "still answering after abuse" "OK $GOOD" 127.0.0.1:$PORT pipe postfix good.test
sm "slow client, a byte at a time" "OK $GOOD" 127.0.0.1:$PORT trickle 0.02 postfix good.test
sm "half-close: answered, then closed" "$(printf 'OK %s\nNOTFOUND \nCLOSED' "$GOOD")" \
	127.0.0.1:$PORT -t 10 rawshut "17:postfix good.test,18:postfix .good.test,"
# 300 pipelined requests: more than the 128 a connection may have
# outstanding, so reading pauses and resumes; all answered, in order.
keys=() want=
for i in $(seq 1 100); do
	keys+=(good.test '[1.2.3.4]' crlf.test)
	want="$want$(printf 'OK %s\nNOTFOUND \nOK %s' "$GOOD" \
		'secure match=mail.crlf.test servername=hostname')"
	[ "$i" -lt 100 ] && want="$want"$'\n'
done
sm "300 pipelined requests (back-pressure)" "$want" 127.0.0.1:$PORT pipe postfix "${keys[@]}"
pm "postmap still fine" good.test 0 "$GOOD"
[ -s "$T/state/cache.db" ] && pass "sqlite cache file written" || fail "sqlite cache" "$T/state/cache.db empty or missing"
grep -q 'bad netstring' "$DLOG" && pass "bad netstring logged" || fail "bad netstring logged" "no log line"

# SIGHUP: change a zone setting, the answer changes on the same connection.
config "$T/tcp.yml" "$(printf 'cache:\n  type: sqlite\n  options:\n    filename: "%s"\n' "$T/state/cache.db")"
sed -i "s/^  timeout: $ZT\$/  timeout: $ZT\n  require_sni: false/" "$T/tcp.yml"
cp "$T/tcp.yml" "$T/tcp2.yml"
config "$T/tcp.yml" "$(printf 'cache:\n  type: sqlite\n  options:\n    filename: "%s"\n' "$T/state/cache.db")"
sm "SIGHUP reload on an open connection" \
	"$(printf 'OK %s\nOK secure match=mail.good.test' "$GOOD")" \
	127.0.0.1:$PORT script <<EOF
q postfix good.test
run cp "$T/tcp2.yml" "$T/tcp.yml" && kill -HUP $DPID
run i=0; until grep -q 'configuration reloaded' "$DLOG" || [ \$i -ge 100 ]; do i=\$((i + 1)); sleep 0.1; done
q postfix good.test
EOF
grep -q 'configuration reloaded' "$DLOG" && pass "reload logged" || fail "reload logged" "$(tail -c 400 "$DLOG")"
# The log file, made by root, was given to nobody before the drop: the
# reload reopened it.
! grep -q 'reopening the log file' "$DLOG" && [ "$(stat -c %U "$DLOG")" = nobody ] &&
	pass "SIGHUP as nobody reopened the log file (owned by nobody)" ||
	fail "log reopen as nobody" "owner $(stat -c %U "$DLOG"): $(grep 'log file' "$DLOG" | tail -n 2)"

# SIGHUP with a larger zone timeout: only the lookup deadline follows it;
# the DNS and HTTPS timeouts (the largest zone timeout at start) need a
# restart, and the reload says so. The reload above kept the timeouts:
# no such warning then.
! grep -q 'largest zone timeout changed' "$DLOG" &&
	pass "SIGHUP, same zone timeouts: no timeout warning" ||
	fail "SIGHUP, same zone timeouts" "$(grep 'zone timeout' "$DLOG" | tail -n 2)"
sed "s/^    timeout: $ZT\$/    timeout: $((ZT + 1))/" "$T/tcp2.yml" >"$T/tcp.yml"
kill -HUP "$DPID"
for i in $(seq 1 100); do
	[ "$(grep -c 'configuration reloaded' "$DLOG")" -ge 2 ] && break
	sleep 0.1
done
grep -q "WARNING.*largest zone timeout changed ($((ZT + 1)) s, running with $ZT s): the DNS and HTTPS timeouts need a restart" "$DLOG" &&
	pass "SIGHUP, larger zone timeout: restart warning logged" ||
	fail "SIGHUP, larger zone timeout" "$(grep -E 'zone timeout|reload' "$DLOG" | tail -n 3)"

# SIGTERM with a request in flight (slow.test takes the 2 s HTTPS timeout):
# it is answered, then a clean exit.
ip netns exec "$MTSW_NS" python3 "$SMC" 127.0.0.1:$PORT pipe postfix slow.test >"$T/inflight" 2>&1 &
cpid=$!
# Bounded wait for the daemon to have read the request and started its
# lookup: a SIGTERM before that would find nothing in flight.
for i in $(seq 1 200); do
	grep -q 'domain=slow.test: waiting for the lookup' "$DLOG" && break
	sleep 0.05
done
stop 0
wait "$cpid" || true
[ "$(cat "$T/inflight")" = "NOTFOUND " ] &&
	pass "SIGTERM: in-flight request answered" || fail "SIGTERM in flight" "got '$(cat "$T/inflight")'"
grep -q 'SIGTERM: stopping' "$DLOG" && pass "SIGTERM: clean exit" || fail "SIGTERM" "$(tail -c 400 "$DLOG")"

# ---- -u with a number and no -g: the user's primary group from its passwd
# entry (getpwuid), never root's group 0 and supplementary groups; a
# number without a passwd entry is refused. ----
start numeric -c "$T/good.yml" -u "$NU"
NPG=$(id -g nobody)
got=$(ids_of "$DPID")
[ "$got" = "$NU $NU $NU $NU / $NPG $NPG $NPG $NPG / $NPG" ] && pass "-u NUMBER: the user's primary group, no other group" ||
	fail "-u NUMBER: groups" "got '$got', want '$NU $NU $NU $NU / $NPG $NPG $NPG $NPG / $NPG'"
pm "-u NUMBER: answering" good.test 0 "$GOOD"
stop 0
nid=4242424
while getent passwd "$nid" >/dev/null; do nid=$((nid + 1)); done
out=$(timeout -k 2 10 ip netns exec "$MTSW_NS" "$MTASTSD" -c "$T/good.yml" -u "$nid" 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 1 ] && case $out in *"-u $nid has no passwd entry: give -g"*) true ;; *) false ;; esac &&
	pass "-u NUMBER without a passwd entry and no -g: refused" ||
	fail "-u NUMBER without a passwd entry" "exit $rc, output '$(printf '%s' "$out" | tail -c 300)'"

# ---- UNIX socket, on_tempfail: temp, an sqlite file that cannot be opened,
# wildcard_match: postfix (the peer's ".suffix", AN-2) ----
GOOD_PF='secure match=mail.good.test:.mx.good.test servername=hostname'
config "$T/unix.yml" "$(printf 'path: "%s"\nmode: 0666\non_tempfail: temp\nwildcard_match: postfix\ncache:\n  type: sqlite\n  options:\n    filename: /nonexistent/dir/cache.db\noverrides:\n  testing.test: "encrypt"\n  crlf.test: none\n' "$T/mtastsd.sock")"
start unix -c "$T/unix.yml"
m=$(stat -c %a "$T/mtastsd.sock" 2>/dev/null || echo none)
[ "$m" = 666 ] && pass "socket mode 0666" || fail "socket mode" "$m"
grep -q 'no usable file.*answering from memory, trying again in 10 s' "$DLOG" && pass "unopenable sqlite: logged, still serving" ||
	fail "unopenable sqlite" "$(tail -c 400 "$DLOG")"
pm "good.test (postmap, UNIX socket), wildcard_match postfix" good.test 0 "$GOOD_PF" "socketmap:unix:$T/mtastsd.sock:postfix"
pm "nxdomain.test (UNIX socket)" nxdomain.test 1 "" "socketmap:unix:$T/mtastsd.sock:postfix"
pm "override: answer" testing.test 0 encrypt "socketmap:unix:$T/mtastsd.sock:postfix"
pm "override: none" crlf.test 1 "" "socketmap:unix:$T/mtastsd.sock:postfix"
got=$(timeout -k 2 30 ip netns exec "$MTSW_NS" python3 "$SMC" "unix:$T/mtastsd.sock" pipe postfix timeout.test 2>&1 || true)
case $got in
"TEMP "?*) pass "on_tempfail temp: TEMP for the never-answering domain" ;;
*) fail "on_tempfail temp" "got '$got'" ;;
esac
stop 0
# A restart over the stale socket file works.
start unix2 -c "$T/unix.yml"
pm "restart over a stale socket" good.test 0 "$GOOD_PF" "socketmap:unix:$T/mtastsd.sock:postfix"
stop 0

# ---- built-in defaults: no -c and no /etc/mta-sts-daemon.yml ----
if [ ! -e /etc/mta-sts-daemon.yml ]; then
	start defaults
	grep -q 'built-in defaults' "$DLOG" && pass "runs on built-in defaults" || fail "defaults" "$(tail -c 400 "$DLOG")"
	sm "defaults listen on 127.0.0.1:8461" "NOTFOUND " 127.0.0.1:8461 pipe postfix '[1.2.3.4]'
	stop 0
fi

summary
