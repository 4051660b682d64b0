#!/bin/bash
# test_exim.sh MTASTS: README's Exim integration ("Sendmail and Exim")
# against a live mtastsd in the test world, with a real Exim: Debian 12's
# exim4-daemon-light, unpacked (never installed: it conflicts with postfix)
# into /var/cache/mtasts/exim4 by scripts/install-deps.
#
# README's ${readsocket ...} expansion and its router's transport line
# are read from README.md itself, so the test proves the text a reader
# copies. The expansion is evaluated with
# "exim4 -C CFG -be" (with $domain replaced by the domain: -be cannot set
# $domain) for an enforce, a missing and a testing-mode policy, compared
# with what Postfix's postmap gets from the same daemon; then used as it is
# meant to be, in a dnslookup router (exim4 -bt, where $domain is real)
# that picks a TLS-enforcing transport for "OK secure" replies; then the
# daemon is stopped and the router must defer rather than route.
#
# The daemon is $(dirname MTASTS)/mtastsd (or $MTASTSD); Exim is
# $MTSW_EXIM_DIR/usr/sbin/exim4 (default /var/cache/mtasts/exim4).
# Prints one ok/FAIL line per check, then "N passed, M failed".
# Exit: 0 all passed, 1 some failed, 2 bad arguments, 77 skipped (not
# root, or Exim not unpacked). About 5 s.
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
MTASTSD=${MTASTSD:-$(dirname "$MTASTS")/mtastsd}
EXIM_DIR=${MTSW_EXIM_DIR:-/var/cache/mtasts/exim4}
EXIM=$EXIM_DIR/usr/sbin/exim4
README=$MTSW_HERE/../../README.md
# The port README's expansion names; the namespace is private, so a fixed
# port cannot collide, and the expansion is used exactly as written.
PORT=8461

if [ ! -x "$EXIM" ]; then
	echo "SKIP: $EXIM not found (scripts/install-deps, as root, unpacks" \
		"Debian's exim4-daemon-light there)" >&2
	exit 77
fi
if [ ! -x "$MTASTSD" ]; then
	echo "$0: $MTASTSD: not an executable" >&2
	exit 2
fi
require_root_and_tools postmap unshare mount timeout

# The expansion is the indented line of README.md that starts with
# ${readsocket{inet:127.0.0.1:8461}.
EXPANSION=$(sed -n 's/^    \(\${readsocket{inet:127\.0\.0\.1:'"$PORT"'}.*\)$/\1/p' "$README")
if [ -z "$EXPANSION" ] || [ "$(printf '%s\n' "$EXPANSION" | wc -l)" -ne 1 ]; then
	echo "FAIL README expansion: want exactly one indented \${readsocket{inet:127.0.0.1:$PORT}... line in $README" >&2
	exit 1
fi

# README's router line: the reply to a transport, as Exim reads it.
TRANSPORT=$(sed -n 's/^    \(transport = \${if match{\$address_data}.*\)$/\1/p' "$README")
if [ -z "$TRANSPORT" ] || [ "$(printf '%s\n' "$TRANSPORT" | wc -l)" -ne 1 ]; then
	echo "FAIL README router: want exactly one indented 'transport = \${if match{\$address_data}...' line in $README" >&2
	exit 1
fi

world_up
T=$MTSW_DIR/exim
mkdir -p "$T/spool" "$T/log" "$T/pf"
printf 'compatibility_level = 3.6\n' >"$T/pf/main.cf"

# Debian builds Exim with EXIM_USER=ref:Debian-exim: the binary looks that
# user up at start, before it reads any configuration, and exits when it
# is missing. exim4-base's postinst would create it; nothing is installed
# here, so Exim runs in a mount namespace of its own (unshare -m: private
# propagation) where /etc/passwd and /etc/group are copies with that
# user. The machine's files are not touched. The configuration below runs
# Exim as root anyway (exim_user), so the user is only looked up.
cp /etc/passwd "$T/passwd"
cp /etc/group "$T/group"
if ! grep -q '^Debian-exim:' "$T/passwd"; then
	echo 'Debian-exim:x:64999:64999:Exim:/nonexistent:/usr/sbin/nologin' >>"$T/passwd"
	echo 'Debian-exim:x:64999:' >>"$T/group"
fi

# Exim accepts -C from root without a TRUSTED_CONFIG_LIST entry (the
# test runs as root); spool and logs stay in the state dir. The router
# uses README's expansion and transport line verbatim, with the real $domain.
cat >"$T/exim.conf" <<EOF
keep_environment =
exim_user = root
exim_group = root
spool_directory = $T/spool
log_file_path = $T/log/%slog

begin routers
mta_sts:
  driver = dnslookup
  address_data = $EXPANSION
  $TRANSPORT

begin transports
remote_smtp_sts:
  driver = smtp
  hosts_require_tls = *
  tls_verify_hosts = *
  tls_verify_cert_hostnames = *
remote_smtp:
  driver = smtp
EOF

# exim ARGS...: the unpacked Exim with our configuration, in the world,
# with the passwd copies; killed after 20 s.
exim() {
	timeout -k 2 20 unshare -m sh -c \
		'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group &&
		 ns=$3 && shift 3 && exec ip netns exec "$ns" "$@"' \
		sh "$T/passwd" "$T/group" "$MTSW_NS" "$EXIM" -C "$T/exim.conf" "$@"
}

# readme_for DOMAIN: README's expansion with $domain replaced by DOMAIN.
readme_for() {
	printf '%s' "${EXPANSION//\$domain/$1}"
}

# classify EXPR: Exim's own test of a reply: "secure" or "none".
classify() {
	printf '${if match{%s}{\\N^\\d+:OK secure \\N}{secure}{none}}' "$1"
}

# be NAME EXPR WANT: exim -be EXPR must print exactly WANT.
be() {
	local name=$1 expr=$2 want=$3 got
	got=$(exim -be "$expr" 2>"$T/be.err") || true
	if [ "$got" = "$want" ]; then
		pass "$name"
	else
		fail "$name" "got '$got', want '$want'; stderr $(head -c 300 "$T/be.err")"
	fi
}

# netstring S: S as a netstring, as mtastsd sends it.
netstring() {
	printf '%d:%s,' "${#1}" "$1"
}

# postmap_q KEY: what Postfix's socketmap client gets ("" for NOTFOUND).
postmap_q() {
	timeout -k 2 20 ip netns exec "$MTSW_NS" postmap -c "$T/pf" \
		-q "$1" "socketmap:inet:127.0.0.1:$PORT:postfix" 2>>"$T/pm.err" || true
}

# bt NAME ADDRESS WANT-RC PATTERN: exim -bt ADDRESS exits WANT-RC and its
# output matches the extended regex PATTERN.
bt() {
	local name=$1 addr=$2 want_rc=$3 pat=$4 out rc=0
	out=$(exim -bt "$addr" 2>&1) || rc=$?
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "exim -bt exit $rc, want $want_rc; output '$out'"
	elif ! printf '%s\n' "$out" | grep -Eq "$pat"; then
		fail "$name" "output '$out' does not match '$pat'"
	else
		pass "$name"
	fi
}

# ---- Exim itself ----
ver=$(exim -bV 2>&1 | sed -n 's/^Exim version \([^ ]*\).*/\1/p') || true
[ -n "$ver" ] && pass "exim -bV runs (Exim $ver)" ||
	fail "exim -bV" "$(exim -bV 2>&1 | head -c 400)"

# ---- mtastsd ----
cat >"$T/mtastsd.yml" <<EOF
host: 127.0.0.1
port: $PORT
shutdown_timeout: 3
cache: {type: internal}
resolver: "$MTSW_RESOLVER"
ca_file: "$MTSW_CA"
default_zone:
  timeout: 4
EOF
DLOG=$T/mtastsd.log
: >"$DLOG"
# Not in_world: $! must be the daemon itself (ip netns exec execs it).
ip netns exec "$MTSW_NS" "$MTASTSD" -c "$T/mtastsd.yml" -v debug -l "$DLOG" &
DPID=$!
for _ in $(seq 1 100); do
	grep -q 'mtastsd ready' "$DLOG" 2>/dev/null && break
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q 'mtastsd ready' "$DLOG"; then
	fail "mtastsd start" "not ready in 10 s; log: $(tail -c 600 "$DLOG")"
	summary || exit 1
fi
pass "mtastsd ready"

# ---- README's expansion in -be, each domain asked by Exim first ----
# (cold cache: the reply waits for the policy fetch, after Exim has
# already shut down its sending half; mtastsd must still answer.)
GOOD='OK secure match=mail.good.test servername=hostname'
be "be good.test (enforce)" "$(readme_for good.test)" "$(netstring "$GOOD")"
be "be cname.test (enforce, TXT via CNAME)" "$(readme_for cname.test)" \
	"$(netstring 'OK secure match=mail.cname.test servername=hostname')"
be "be xn--bcher-kva.test (enforce, IDN)" "$(readme_for xn--bcher-kva.test)" \
	"$(netstring 'OK secure match=mail.xn--bcher-kva.test servername=hostname')"
be "be nxdomain.test (no MTA-STS)" "$(readme_for nxdomain.test)" "$(netstring 'NOTFOUND ')"
be "be spfonly.test (no MTA-STS)" "$(readme_for spfonly.test)" "$(netstring 'NOTFOUND ')"
be "be testing.test (mode testing)" "$(readme_for testing.test)" "$(netstring 'NOTFOUND ')"

# Postfix's client, same daemon (now from its cache): the same answers.
got=$(postmap_q good.test)
[ "OK $got" = "$GOOD" ] && pass "postmap good.test agrees" ||
	fail "postmap good.test agrees" "postmap '$got', Exim saw '$GOOD'"
for d in nxdomain.test testing.test; do
	got=$(postmap_q "$d")
	[ -z "$got" ] && pass "postmap $d agrees (not found)" ||
		fail "postmap $d agrees" "postmap '$got', Exim saw NOTFOUND"
done

# ---- the reply turned into a decision by Exim ----
be "classify good.test" "$(classify "$(readme_for good.test)")" secure
be "classify cname.test" "$(classify "$(readme_for cname.test)")" secure
be "classify nxdomain.test" "$(classify "$(readme_for nxdomain.test)")" none
be "classify testing.test" "$(classify "$(readme_for testing.test)")" none

# ---- a router using it, with the real $domain ----
bt "router good.test: TLS-enforcing transport" u@good.test 0 \
	'router = mta_sts, transport = remote_smtp_sts'
bt "router cname.test: TLS-enforcing transport" u@cname.test 0 \
	'router = mta_sts, transport = remote_smtp_sts'
bt "router nxdomain.test: plain transport" u@nxdomain.test 0 \
	'router = mta_sts, transport = remote_smtp$'
bt "router testing.test: plain transport" u@testing.test 0 \
	'router = mta_sts, transport = remote_smtp$'

# ---- mtastsd gone: Exim defers, never routes without the policy ----
kill -TERM "$DPID" 2>/dev/null || true
for _ in $(seq 1 50); do
	kill -0 "$DPID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$DPID" 2>/dev/null; then
	kill -KILL "$DPID" 2>/dev/null || true
	wait "$DPID" 2>/dev/null || true
	fail "mtastsd SIGTERM" "still running 5 s after SIGTERM"
else
	rc=0
	wait "$DPID" || rc=$?
	[ "$rc" -eq 0 ] && pass "mtastsd exits 0 on SIGTERM" || fail "mtastsd SIGTERM" "exit $rc"
fi
# readsocket's fail string ({} in README) makes -be print nothing, but a
# router still defers: Exim counts the refused connection as a deferred
# lookup.
be "be good.test, mtastsd down: empty" "$(readme_for good.test)" ''
bt "router good.test, mtastsd down: defer" u@good.test 1 'cannot be resolved at this time'

summary
