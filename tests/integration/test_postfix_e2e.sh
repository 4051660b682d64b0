#!/bin/bash
# test_postfix_e2e.sh MTASTS: mail through a real Postfix whose
# smtp_tls_policy_maps is mtastsd, in the test world with real Postfix MX
# hosts (world.sh with MTSW_SMTP=1). One message per case; the outcome in
# the sending Postfix's log must be what MTA-STS asks for: an enforce policy
# with a valid MX certificate delivers ("Verified TLS"), every violation of
# an enforce policy defers (never bounces), mode testing delivers.
#
# The daemon is $(dirname MTASTS)/mtastsd (or $MTASTSD); if it is not
# built, the test is skipped (exit 77). With MTSW_E2E_STANDIN=1 it runs
# without mtastsd: the sender then reads a texthash table holding the
# answers mtastsd should give (world.sh writes it), which checks the world
# and Postfix's side of the contract on its own.
#
# Prints one ok/FAIL line per check, then "N passed, M failed".
# Exit: 0 all passed, 1 some failed, 2 bad arguments, 77 skipped (not root,
# Postfix or mtastsd missing).
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
STANDIN=${MTSW_E2E_STANDIN:-}

# The socketmap mtastsd listens on inside the namespace (the peer's
# default; the namespace is private, so a fixed port cannot collide).
PORT=8461
# Seconds to wait for all outcomes (the first delivery attempt, and the
# retry of the deferred messages minimal_backoff_time = 5 s later).
DEADLINE=${MTSW_E2E_DEADLINE:-45}

if [ -z "$STANDIN" ] && [ ! -x "$MTASTSD" ]; then
	echo "SKIP: $MTASTSD is not built yet (MTSW_E2E_STANDIN=1 runs the" \
		"Postfix cases against a texthash stand-in)" >&2
	exit 77
fi
require_root_and_tools postfix postconf postmap sendmail timeout

if [ -n "$STANDIN" ]; then
	export MTSW_SMTP=standin
else
	export MTSW_SMTP=1
fi

MTASTSD_PID=
# stop_mtastsd: TERM mtastsd by PID; KILL it after 10 s.
stop_mtastsd() {
	local i=0
	[ -n "$MTASTSD_PID" ] || return 0
	kill -TERM "$MTASTSD_PID" 2>/dev/null || true
	while kill -0 "$MTASTSD_PID" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -ge 100 ]; then
			kill -KILL "$MTASTSD_PID" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	wait "$MTASTSD_PID" 2>/dev/null || true
	MTASTSD_PID=
}

t0=$(now_ms)
world_up
# shellcheck disable=SC2154 # rc is set in the trap itself
trap 'rc=$?; stop_mtastsd; world_down; exit $rc' EXIT
T=$MTSW_DIR/t
mkdir -p "$T"
SENDER=$MTSW_SMTP_SENDER
LOG=$MTSW_SMTP_SENDER_LOG
echo "# world up in $(($(now_ms) - t0)) ms; policy maps $MTSW_SMTP_POLICY_MAPS"

# ---------------------------------------------------------------- mtastsd
if [ -z "$STANDIN" ]; then
	cat >"$T/mtastsd.yml" <<EOF
# mtastsd for test_postfix_e2e.sh (postfix-mta-sts-resolver keys, then
# mtastsd's own).
host: 127.0.0.1
port: $PORT
shutdown_timeout: 3
cache:
  type: internal
default_zone:
  timeout: 4
  strict_testing: false
  require_sni: true
resolver: $MTSW_RESOLVER
ca_file: $MTSW_CA
EOF
	# Not through in_world: a backgrounded shell function is a subshell,
	# and $! would be its PID. "ip netns exec" execs, so $! is mtastsd's.
	ip netns exec "$MTSW_NS" "$MTASTSD" -c "$T/mtastsd.yml" -v debug \
		</dev/null >"$T/mtastsd.log" 2>&1 &
	MTASTSD_PID=$!
	i=0
	while ! in_world ss -Hltn "src 127.0.0.1 and sport = :$PORT" | grep -q .; do
		i=$((i + 1))
		if ! kill -0 "$MTASTSD_PID" 2>/dev/null || [ "$i" -ge 100 ]; then
			fail "mtastsd listens on 127.0.0.1:$PORT" \
				"not after $((i / 10)) s; log: $(tail -n 5 "$T/mtastsd.log" | tr '\n' '|')"
			summary || exit 1
		fi
		sleep 0.1
	done
	pass "mtastsd listens on 127.0.0.1:$PORT"
fi

# ---------------------------------------------------------------- postmap

# lookup NAME DOMAIN WANT-RC [MATCH-SET]: postmap -q DOMAIN against the
# sender's policy table; the exit code is WANT-RC (0 found, 1 not found),
# and a found answer is "secure match=P1:P2 servername=hostname" with the
# patterns, in any order, exactly MATCH-SET (space separated).
lookup() {
	local name=$1 d=$2 want_rc=$3 want_set=${4:-} rc=0 out got
	out=$(timeout -k 2 30 ip netns exec "$MTSW_NS" postmap -c "$SENDER" -q "$d" \
		"$MTSW_SMTP_POLICY_MAPS" 2>"$T/postmap.err") || rc=$?
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "postmap exit $rc, want $want_rc; output [$out]; $(head -c 200 "$T/postmap.err")"
		return
	fi
	if [ "$want_rc" -ne 0 ]; then
		pass "$name"
		return
	fi
	got=$(printf '%s\n' "$out" | sed -n 's/^secure match=\([^ ]*\) servername=hostname$/\1/p' |
		tr ':' '\n' | LC_ALL=C sort | tr '\n' ' ')
	# shellcheck disable=SC2086 # split the set on purpose
	want_set=$(printf '%s\n' $want_set | LC_ALL=C sort | tr '\n' ' ')
	if [ -z "$got" ] || [ "$got" != "$want_set" ]; then
		fail "$name" "got [$out], want secure match={${want_set% }} servername=hostname"
		return
	fi
	pass "$name"
}

# wildcard_match: expand (default, AN-2): "*.mx.D" becomes the MX host
# names it matches with exactly one label; none matches for e2e-good.test.
lookup "postmap: e2e-good.test is secure" e2e-good.test 0 \
	"mail.e2e-good.test"
lookup "postmap: e2e-wild.test, wildcard expanded to its MX" e2e-wild.test 0 \
	"mail.e2e-wild.test a.mx.e2e-wild.test"
# The exact text too (policy order: the exact pattern, then the expansion).
out=$(timeout -k 2 30 ip netns exec "$MTSW_NS" postmap -c "$SENDER" -q e2e-wild.test \
	"$MTSW_SMTP_POLICY_MAPS" 2>&1) || true
want="secure match=mail.e2e-wild.test:a.mx.e2e-wild.test servername=hostname"
[ "$out" = "$want" ] && pass "postmap: e2e-wild.test exact answer" ||
	fail "postmap: e2e-wild.test exact answer" "got [$out], want [$want]"
# Only a wildcard, and the MX is two labels under it: no name matches, so
# a name no certificate can hold (not NOTFOUND, which would deliver).
lookup "postmap: e2e-deep.test, no MX matches: refuse every MX" e2e-deep.test 0 \
	"mx-not-in-policy.invalid"
lookup "postmap: mode testing is not found" e2e-testing.test 1
lookup "postmap: no policy is not found" e2e-nopolicy.test 1

# ---------------------------------------------------------------- mail

PF_VERSION=$(postconf -c "$SENDER" -h mail_version)
# Postfix >= 3.10.5 enforces mx_host_pattern (tlsrpt zones); older ones
# match only the certificate against match=.
pf_ge() {
	[ "$(printf '%s\n%s\n' "$1" "$PF_VERSION" | sort -V | head -n 1)" = "$1" ]
}

# Cases: NAME|DOMAIN|MX-HOST|WANT|DETAIL. WANT is "sent" (DETAIL: the TLS
# line's first word, Verified or Untrusted) or "deferred" (DETAIL: text in
# the deferral reason).
CASES=(
	"enforce, valid certificate|e2e-good.test|mail.e2e-good.test|sent|Verified"
	"enforce, MX matching a wildcard pattern|e2e-wild.test|a.mx.e2e-wild.test|sent|Verified"
	"enforce, MX two labels under a wildcard (RFC 8461 4.1: no match)|e2e-deep.test|a.b.mx.e2e-deep.test|deferred|Server certificate not verified"
	"enforce, MX without STARTTLS|e2e-nostarttls.test|mail.e2e-nostarttls.test|deferred|TLS is required, but was not offered"
	"enforce, MX certificate from an untrusted CA|e2e-untrusted.test|mail.e2e-untrusted.test|deferred|Server certificate not verified"
	"enforce, MX certificate for another name|e2e-wrongname.test|mail.e2e-wrongname.test|deferred|Server certificate not verified"
	"enforce, expired MX certificate|e2e-expired.test|mail.e2e-expired.test|deferred|Server certificate not verified"
	"enforce, MX outside the policy|e2e-outside.test|mx.e2e-elsewhere.test|deferred|Server certificate not verified"
	"mode testing, untrusted MX certificate|e2e-testing.test|mail.e2e-testing.test|sent|Untrusted"
	"no policy, untrusted MX certificate|e2e-nopolicy.test|mail.e2e-nopolicy.test|sent|Untrusted"
)
if pf_ge 3.10.5; then
	echo "# Postfix $PF_VERSION: e2e-outside-named.test not checked (depends on tlsrpt / mx_host_pattern)"
else
	# A known gap of Postfix < 3.10.5: the MX is not in the policy, but its
	# certificate names mail.e2e-outside-named.test, which match= allows.
	CASES+=("enforce, MX outside the policy with a certificate naming a policy MX (Postfix $PF_VERSION delivers: gap)|e2e-outside-named.test|mx2.e2e-elsewhere.test|sent|Verified")
fi

t_send=$(now_ms)
for c in "${CASES[@]}"; do
	IFS='|' read -r name d mx want detail <<<"$c"
	printf 'Subject: %s\n\nmtasts e2e test: %s\n' "$d" "$name" |
		in_world sendmail -C "$SENDER" -f "sender@sender.e2e.test" "rcpt@$d"
done

# outcomes DOMAIN: the sender's status= words for rcpt@DOMAIN, one a line.
outcomes() {
	grep -F "to=<rcpt@$1>," "$LOG" | sed -n 's/.*, status=\([a-z]*\).*/\1/p'
}

# done_case WANT DOMAIN: the case has its outcome: sent or bounced, or a
# deferral where WANT is sent (the first attempt must deliver), or two
# deferrals where WANT is deferred (the retry, 5 to 10 s later, is answered
# from mtastsd's cache).
done_case() {
	local o
	o=$(outcomes "$2")
	case $o in
	*sent* | *bounced*) return 0 ;;
	esac
	if [ "$1" = deferred ]; then
		[ "$(printf '%s\n' "$o" | grep -c '^deferred$')" -ge 2 ]
	else
		[ -n "$o" ]
	fi
}

while :; do
	pending=0
	for c in "${CASES[@]}"; do
		IFS='|' read -r name d mx want detail <<<"$c"
		done_case "$want" "$d" || pending=$((pending + 1))
	done
	[ "$pending" -eq 0 ] && break
	[ $(($(now_ms) - t_send)) -ge $((DEADLINE * 1000)) ] && break
	sleep 0.5
done
echo "# outcomes after $(($(now_ms) - t_send)) ms ($pending pending)"

# mx_log MX-HOST: the receiving instance's log.
mx_log() {
	echo "$MTSW_SMTP_DIR/$1/mail.log"
}
# The MX host that serves a domain's mail (e2e-nopolicy.test shares the
# instance of mail.e2e-untrusted.test).
mx_instance() {
	awk -v d="$1" '{ for (i = 4; i <= NF; i++) if ($i == d) print $1 }' "$MTSW_SMTP_DIR/mxhosts"
}

for c in "${CASES[@]}"; do
	IFS='|' read -r name d mx want detail <<<"$c"
	o=$(outcomes "$d" | tr '\n' ' ')
	lines=$(grep -F "to=<rcpt@$d>," "$LOG" || true)
	rlog=$(mx_log "$(mx_instance "$d")")
	received=$(grep -cF "to=<rcpt@$d>," "$rlog" || true)
	case $want in
	sent)
		if [ "${o%% *}" != sent ]; then
			fail "$name" "outcome [${o% }], want sent; $(printf '%s' "$lines" | tail -n 1 | sed 's/.*status=//')"
		elif ! grep -qF "$detail TLS connection established to ${mx}[" "$LOG"; then
			fail "$name" "sent, but no \"$detail TLS connection established to $mx\" in $LOG"
		elif ! printf '%s\n' "$lines" | grep -qF "relay=${mx}["; then
			fail "$name" "sent through another relay: $lines"
		elif [ "$received" -lt 1 ]; then
			fail "$name" "sent, but $rlog has no delivery to rcpt@$d"
		else
			pass "$name"
		fi
		;;
	deferred)
		if [ -z "$o" ]; then
			fail "$name" "no outcome within $DEADLINE s"
		elif [ -n "${o//deferred /}" ]; then
			fail "$name" "outcomes [${o% }], want deferred only"
		elif [ "$o" = "deferred " ]; then
			fail "$name" "deferred once, but the retry had no outcome within $DEADLINE s"
		elif printf '%s\n' "$lines" | grep -vqF "$detail"; then
			fail "$name" "a deferral without \"$detail\": $(printf '%s\n' "$lines" | grep -vF "$detail" | head -n 1 | sed 's/.*status=//')"
		elif ! printf '%s\n' "$lines" | grep -qF "relay=${mx}["; then
			fail "$name" "deferred, but not at $mx: $(printf '%s\n' "$lines" | head -n 1)"
		elif [ "$received" -ne 0 ]; then
			fail "$name" "deferred, but $rlog shows the message delivered"
		else
			pass "$name"
		fi
		;;
	esac
done

if grep -q 'status=bounced' "$LOG"; then
	fail "nothing bounced" "$(grep 'status=bounced' "$LOG" | head -n 1)"
else
	pass "nothing bounced"
fi
# A policy answer Postfix could not use shows up as these warnings.
if grep -qE 'invalid attribute name|TLS policy lookup .* error|table lookup problem|client TLS configuration problem' "$LOG"; then
	fail "no policy table errors in the sender's log" \
		"$(grep -E 'invalid attribute name|TLS policy lookup .* error|table lookup problem|client TLS configuration problem' "$LOG" | head -n 1)"
else
	pass "no policy table errors in the sender's log"
fi

if [ -z "$STANDIN" ]; then
	# The retries were answered from the cache: the daemon must still be
	# there, and must stop on TERM within shutdown_timeout (3 s) + 2 s.
	if ! kill -0 "$MTASTSD_PID" 2>/dev/null; then
		fail "mtastsd still running" "it exited; log: $(tail -n 5 "$T/mtastsd.log" | tr '\n' '|')"
		MTASTSD_PID=
	else
		pass "mtastsd still running"
		kill -TERM "$MTASTSD_PID"
		i=0
		while kill -0 "$MTASTSD_PID" 2>/dev/null && [ "$i" -lt 50 ]; do
			i=$((i + 1))
			sleep 0.1
		done
		if kill -0 "$MTASTSD_PID" 2>/dev/null; then
			fail "mtastsd stops on SIGTERM" "still running after 5 s"
		else
			rc=0
			wait "$MTASTSD_PID" || rc=$?
			MTASTSD_PID=
			if [ "$rc" -eq 0 ]; then
				pass "mtastsd stops on SIGTERM"
			else
				fail "mtastsd stops on SIGTERM" "exit $rc; log: $(tail -n 3 "$T/mtastsd.log" | tr '\n' '|')"
			fi
		fi
	fi
fi

if [ "$FAILED" -ne 0 ]; then
	echo "# sender log: $LOG; world kept until exit. Last lines:"
	tail -n 20 "$LOG" | sed 's/^/# /'
	[ -z "$STANDIN" ] && tail -n 20 "$T/mtastsd.log" | sed 's/^/# mtastsd: /'
fi
echo "# total $(($(now_ms) - t0)) ms"
summary
