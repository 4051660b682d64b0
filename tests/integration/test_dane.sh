#!/bin/bash
# test_dane.sh MTASTS: RFC 8461 section 2 -- MTA-STS must never override a
# failing DANE validation. Runs the daemon (the mtastsd next to MTASTS) in
# a test world with the signed zone dane.test. (MTSW_DNSSEC=1, see
# dnssec.sh) behind a validating unbound, and checks with postmap and
# smclient.py that:
#   - dane-good.dane.test (MX with DNSSEC-validated TLSA) -> dane-only,
#     also on a tlsrpt zone (plain, no attributes), also as the first
#     answer after a restart from a persistent (sqlite) policy cache;
#   - sts-only.dane.test (signed, no TLSA) -> secure match=...;
#   - dane-partial.dane.test (one of two MX hosts has TLSA) -> secure;
#   - with `dane: false`: secure match=... for all of them;
#   - with an answer that is not validated (the signing server itself as
#     resolver: AA, no AD) -> secure match=..., though the TLSA exists.
# Prints one ok/FAIL line per check, then "N passed, M failed".
# Exit: 0 all passed, 1 some failed, 2 bad arguments, 77 skipped.
# "A && pass || fail": pass never fails.
# shellcheck disable=SC2015
set -eu

# shellcheck source=lib.sh
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
require_root_and_tools postmap python3 timeout ldns-keygen ldns-signzone

export MTSW_DNSSEC=1
world_up
T=$MTSW_DIR/d
mkdir -p "$T/pf" "$T/state"
printf 'compatibility_level = 3.6\n' >"$T/pf/main.cf"
PORT=$((20000 + RANDOM % 12000)) # below the ephemeral range (32768-)

# sec D: the MTA-STS answer for D, as a glob: match= lists mail.D (and,
# depending on the MX expansion of RFC 8461 4.1 wildcards, more).
sec() {
	printf 'secure match=*mail.%s* servername=hostname' "$1"
}

# config FILE RESOLVER [EXTRA-YAML]
config() {
	{
		printf 'host: 127.0.0.1\nport: %s\nshutdown_timeout: %s\n' "$PORT" "$(tscale 5)"
		printf 'resolver: "%s"\nca_file: "%s"\n' "$2" "$MTSW_CA"
		printf 'default_zone:\n  timeout: %s\n' "$(tscale 2)"
		printf 'zones:\n  rpt:\n    timeout: %s\n    tlsrpt: true\n' "$(tscale 2)"
		printf '%s' "${3:-}"
	} >"$1"
}

DPID=
DLOG=
# start NAME ARGS...: start mtastsd in the world, wait (bounded, 10 s, scaled)
# until it logs that it is ready. Sets DPID and DLOG.
start() {
	local name=$1 _
	shift
	DLOG=$T/$name.log
	: >"$DLOG"
	ip netns exec "$MTSW_NS" "$MTASTSD" -v debug -l "$DLOG" "$@" &
	DPID=$!
	for _ in $(seq 1 "$(tscale 100)"); do
		grep -q 'mtastsd ready' "$DLOG" 2>/dev/null && return 0
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	fail "$name: start" "not ready in $(tscale 10) s; log: $(tail -c 600 "$DLOG")"
	return 1
}

# stop: SIGTERM the daemon by PID, wait at most 15 s (scaled), then KILL.
stop() {
	local rc=0 _
	[ -n "$DPID" ] || return 0
	kill -TERM "$DPID" 2>/dev/null || true
	for _ in $(seq 1 "$(tscale 150)"); do
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DPID" 2>/dev/null; then
		kill -KILL "$DPID" 2>/dev/null || true
		fail "stop $DPID" "still running $(tscale 15) s after SIGTERM"
	fi
	wait "$DPID" || rc=$?
	[ "$rc" -eq 0 ] || fail "stop $DPID" "exit $rc"
	DPID=
}
# A failed check must not leave the daemon running: world_down's sweep of
# the namespace would also get it, but stop it by PID first.
trap 'rc=$?; stop >/dev/null 2>&1 || true; world_down; exit $rc' EXIT

# pm NAME KEY WANT-RC [WANT-OUT] [MAP]: postmap -q KEY, check exit and
# output (WANT-OUT is a glob pattern).
pm() {
	local name=$1 key=$2 want_rc=$3 want=${4:-} map=${5:-socketmap:inet:127.0.0.1:$PORT:postfix}
	local got rc=0
	got=$(timeout -k 2 "$(tscale 30)" ip netns exec "$MTSW_NS" postmap -c "$T/pf" -q "$key" "$map" 2>"$T/pm.err") || rc=$?
	# shellcheck disable=SC2053 # WANT is a glob on purpose
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "postmap exit $rc, want $want_rc; out '$got'; err $(head -c 300 "$T/pm.err")"
	elif [[ $got != $want ]]; then
		fail "$name" "got '$got', want '$want'"
	else
		pass "$name"
	fi
}

# sm NAME WANT ADDR ARGS...: smclient ADDR ARGS inside the world (its read
# timeout, 20 s by default, scaled); stdout must match the glob WANT.
sm() {
	local name=$1 want=$2 addr=$3 got
	shift 3
	got=$(timeout -k 2 "$(tscale 60)" ip netns exec "$MTSW_NS" python3 "$SMC" "$addr" -t "$(tscale 20)" "$@" 2>&1) || true
	# shellcheck disable=SC2053 # WANT is a glob on purpose
	if [[ $got == $want ]]; then
		pass "$name"
	else
		fail "$name" "got '$(printf '%s' "$got" | head -c 800)', want '$want'"
	fi
}

# logged NAME PATTERN: the daemon's log has a line matching PATTERN (ERE).
logged() {
	if grep -Eq "$2" "$DLOG"; then
		pass "$1"
	else
		fail "$1" "no line /$2/ in $DLOG: $(tail -c 800 "$DLOG")"
	fi
}

# ---- the world: AD bit from the validator, none from the signer ----
ad_flag() {
	in_world dig "@$1" +dnssec +time=2 +tries=1 TLSA _25._tcp.mail.dane-good.dane.test |
		grep -E '^;; flags:' | grep -qw ad
}
ad_flag "${MTSW_DNSSEC_RESOLVER%:*}" && pass "validator: TLSA answer has AD" ||
	fail "validator AD" "no ad flag from $MTSW_DNSSEC_RESOLVER"
ad_flag "${MTSW_DNSSEC_AUTH%:*}" && fail "signer AD" "the signing server set AD" ||
	pass "signing server: TLSA answer without AD"
in_world dig "@${MTSW_DNSSEC_RESOLVER%:*}" +short TLSA _25._tcp.mail.dane-good.dane.test |
	grep -q '^3 1 1 ' && pass "validator: TLSA 3 1 1 record" ||
	fail "TLSA record" "dig +short shows no 3 1 1 record"
in_world dig "@${MTSW_DNSSEC_RESOLVER%:*}" +dnssec TLSA _25._tcp.mail.sts-only.dane.test |
	grep -E '^;; (->>HEADER|flags)' | tr '\n' ' ' | grep -Eq 'NXDOMAIN.* ad[ ;]' &&
	pass "validator: no TLSA for sts-only, authenticated NXDOMAIN" ||
	fail "sts-only TLSA" "want an NXDOMAIN with AD"

# ---- dane: true (default), validating resolver ----
config "$T/dane.yml" "$MTSW_DNSSEC_RESOLVER" \
	"$(printf 'cache:\n  type: sqlite\n  options:\n    filename: "%s"\n' "$T/state/cache.db")"
start dane -c "$T/dane.yml"
logged "start: dane on" 'dane: on'
pm "dane-good.dane.test: dane-only (first lookup)" dane-good.dane.test 0 dane-only
pm "dane-good.dane.test: dane-only (cached)" dane-good.dane.test 0 dane-only
pm "sts-only.dane.test: MTA-STS" sts-only.dane.test 0 "$(sec sts-only.dane.test)"
pm "dane-partial.dane.test: MTA-STS (not every MX has TLSA)" dane-partial.dane.test 0 \
	"$(sec dane-partial.dane.test)"
pm "good.test (unsigned, through the validator): MTA-STS" good.test 0 "$(sec good.test)"
sm "tlsrpt zone: plain dane-only" "OK dane-only" 127.0.0.1:$PORT pipe rpt dane-good.dane.test
sm "tlsrpt zone: sts-only keeps its attributes" \
	"OK $(sec sts-only.dane.test) policy_type=sts policy_domain=sts-only.dane.test *{ policy_string = max_age: 86400 }" \
	127.0.0.1:$PORT pipe rpt sts-only.dane.test
logged "log: dane decision for dane-good" 'dane domain=dane-good\.dane\.test result=dane answer=dane-only'
logged "log: sts-only has no DANE" 'dane domain=sts-only\.dane\.test result=none answer=mta-sts'
logged "log: partial DANE warned" 'WARN.*dane domain=dane-partial\.dane\.test result=partial'
logged "log: good.test MX not validated" 'dane domain=good\.test result=none .*not DNSSEC-validated'
stop

# A restart with the sqlite cache: the policy comes from the cache, the
# DANE state is unknown in the new process; the first answer still must
# not be the MTA-STS one.
start dane-restart -c "$T/dane.yml"
pm "after restart: dane-good from the policy cache: dane-only" dane-good.dane.test 0 dane-only
logged "after restart: policy was cached" 'domain=dane-good\.dane\.test .*cached=yes'
stop

# ---- dane: false ----
config "$T/nodane.yml" "$MTSW_DNSSEC_RESOLVER" 'dane: false
'
start nodane -c "$T/nodane.yml"
logged "start: dane off" 'dane: off'
pm "dane: false: dane-good.dane.test MTA-STS" dane-good.dane.test 0 "$(sec dane-good.dane.test)"
pm "dane: false: sts-only.dane.test MTA-STS" sts-only.dane.test 0 "$(sec sts-only.dane.test)"
if grep -q 'dane domain=' "$DLOG"; then
	fail "dane: false: no DANE lookups" "$(grep 'dane domain=' "$DLOG" | head -n 2)"
else
	pass "dane: false: no DANE lookups"
fi
stop

# ---- not validated: the signing server as resolver (AA, no AD) ----
config "$T/noad.yml" "$MTSW_DNSSEC_AUTH"
start noad -c "$T/noad.yml"
pm "no AD bit: dane-good.dane.test MTA-STS" dane-good.dane.test 0 "$(sec dane-good.dane.test)"
logged "no AD bit: logged as not validated" 'dane domain=dane-good\.dane\.test result=none .*not DNSSEC-validated'
stop

summary
