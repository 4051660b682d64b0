# shellcheck shell=bash
# lib.sh: helpers for the integration tests; source it from bash.
#
#   world_up             start a world in a fresh state dir, source its env,
#                        and arrange for world_down to run on exit
#   world_down           stop it and remove the state dir
#   in_world CMD...      run CMD inside the world's namespace
#   pass NAME / fail NAME WHY / check NAME CMD...
#                        print one "ok"/"FAIL" line and count it
#   summary              print "N passed, M failed"; false if any failed
#   require_root_and_tools TOOL...
#                        exit 77 (skip) unless root and every TOOL exists
#   tscale N             N times MTS_TEST_TIME_SCALE, for time budgets

MTSW_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MTSW_STATE=
PASSED=0
FAILED=0

require_root_and_tools() {
	local t
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: needs root (network namespaces)" >&2
		exit 77
	fi
	for t in ip unbound nginx openssl dig curl ss "$@"; do
		if ! command -v "$t" >/dev/null 2>&1; then
			echo "SKIP: $t not installed (run scripts/install-deps)" >&2
			exit 77
		fi
	done
}

world_down() {
	[ -n "$MTSW_STATE" ] || return 0
	"$MTSW_HERE/world.sh" down "$MTSW_STATE" || true
	rm -rf "$MTSW_STATE"
	MTSW_STATE=
}

world_up() {
	MTSW_STATE=$(mktemp -d "${TMPDIR:-/tmp}/mtsw.XXXXXX")
	# Tear down on any exit. bash does not run the EXIT trap when killed by
	# a signal, so turn the usual ones into an exit first.
	# shellcheck disable=SC2154 # rc is set in the trap itself
	trap 'rc=$?; world_down; exit $rc' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	"$MTSW_HERE/world.sh" up "$MTSW_STATE"
	# shellcheck disable=SC1091
	. "$MTSW_STATE/env"
}

in_world() {
	ip netns exec "$MTSW_NS" "$@"
}

pass() {
	PASSED=$((PASSED + 1))
	printf 'ok   %s\n' "$1"
}

fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL %s: %s\n' "$1" "$2"
}

# check NAME CMD...: pass if CMD succeeds, else fail.
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		pass "$name"
	else
		fail "$name" "command failed: $*"
	fi
}

# now_ms: milliseconds since the epoch.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# clear_of_midnight SECS: if UTC midnight is less than SECS seconds away,
# wait until it has passed (for tests that take "today" and "yesterday"
# once, then expect the daemon to agree until they end).
clear_of_midnight() {
	local left=$((86400 - $(date +%s) % 86400))
	if [ "$left" -lt "$1" ]; then
		echo "# $left s to midnight UTC: waiting for the new day"
		sleep $((left + 1))
	fi
}

# tscale N: N times MTS_TEST_TIME_SCALE (a whole number 1..100; unset or
# anything else: 1), for every timeout a test gives a program and every
# bounded wait for one. Under valgrind the programs run 10-50 times slower
# than the budgets were measured for; scripts/valgrind-suite sets it. The
# C unit tests read the same variable (mts_test_ms in tests/unit/testutil.h).
tscale() {
	local k=${MTS_TEST_TIME_SCALE:-1}
	case $k in
	[0-9] | [0-9][0-9] | [0-9][0-9][0-9]) k=$((10#$k)) ;;
	*) k=1 ;;
	esac
	[ "$k" -ge 1 ] && [ "$k" -le 100 ] || k=1
	echo $(($1 * k))
}

# sm_burst PORT DOMAIN N SECONDS: N socketmap lookups (zone postfix) of
# DOMAIN at 127.0.0.1:PORT in the world, spread over about SECONDS, one
# connection each; prints "<answers OK secure> <slowest ms>". A lookup
# that fails (refused, reset, timed out) counts as not OK and ends the
# burst: thousands of connects to a dead port can connect a socket to
# itself and hold the port a restarted daemon needs. The function never
# fails, so `out=$(sm_burst ...)` cannot end a set -e test.
sm_burst() {
	timeout -k 2 120 ip netns exec "$MTSW_NS" python3 - "$@" <<'EOF' || echo "0 999999"
import socket, sys, time
port, dom, n, secs = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
key = b"postfix " + dom.encode()
req = str(len(key)).encode() + b":" + key + b","
ok = 0
worst = 0.0
for i in range(n):
    t0 = time.monotonic()
    buf = b""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(req)
        while not buf.endswith(b","):
            c = s.recv(65536)
            if not c:
                break
            buf += c
        s.close()
    except OSError:
        worst = max(worst, time.monotonic() - t0)
        break
    worst = max(worst, time.monotonic() - t0)
    if b":OK secure match=" in buf:
        ok += 1
    time.sleep(secs / n)
print(ok, int(worst * 1000))
EOF
}

summary() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
