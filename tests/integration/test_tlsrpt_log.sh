#!/bin/bash
# test_tlsrpt_log.sh MTASTS: the TLS report inputs of mtasts-tlsrptd
# (issue 6) against real Postfix 3.7 output and libtlsrpt-format
# datagrams.
#
# 1. Log follower: the world's Postfix sender (MTSW_SMTP=standin: a
#    texthash policy table, level secure with match= for the enforce
#    domains, smtp_tls_loglevel = 1) sends to MX hosts with each defect:
#    no STARTTLS, expired, untrusted CA, wrong name; plus a valid MX (one
#    message, two recipients: one session), a mode-testing domain (may,
#    untrusted: a success), a "report delivery" to tlsrpt@e2e-good.test
#    (excluded); the no-STARTTLS message has two recipients, and its
#    retry 5 s later is often made by the same smtp process (a new
#    session, not one more recipient). Then the follower (tests/tlsrpt_inputs_dump, which runs
#    src/tlsrptd/follow.c) reads a snapshot of the sender's maillog_file
#    from its start, and its events must match, per domain and result
#    type, the sessions the snapshot shows (every attempt of a deferred
#    message is one failed session: the first one and the retries).
# 2. Collector: the dumper binds the collector (src/tlsrptd/collector.c)
#    at a UNIX socket; python3 sends the datagram fixtures
#    (tests/fixtures/tlsrpt/datagrams: the layouts libtlsrpt writes) the
#    way libtlsrpt does (sendto, MSG_DONTWAIT, one per event); the events
#    must be exactly the expected list, rejects counted.
#
# The dumper is $(dirname MTASTS)/tests/tlsrpt_inputs_dump (or
# $TLSRPT_DUMP); not built -> skip (77).
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
DUMP=${TLSRPT_DUMP:-$(dirname "$MTASTS")/tests/tlsrpt_inputs_dump}
FIX=$(cd "$(dirname "$0")/../fixtures/tlsrpt" && pwd)
DEADLINE=${MTSW_TLSRPT_DEADLINE:-40}

if [ ! -x "$DUMP" ]; then
	echo "SKIP: $DUMP is not built" >&2
	exit 77
fi
require_root_and_tools postfix postconf postmap sendmail timeout python3

export MTSW_SMTP=standin
t0=$(now_ms)
world_up
T=$MTSW_DIR/t
mkdir -p "$T"
SENDER=$MTSW_SMTP_SENDER
LOG=$MTSW_SMTP_SENDER_LOG
echo "# world up in $(($(now_ms) - t0)) ms; Postfix $(postconf -c "$SENDER" -h mail_version)"

# ---------------------------------------------------------------- 1. log

send() { # send RCPT...: one message to all RCPTs
	printf 'Subject: tlsrpt log test\n\nmtasts tlsrpt log test\n' |
		in_world sendmail -C "$SENDER" -f "sender@sender.e2e.test" "$@"
}
send rcpt1@e2e-good.test rcpt2@e2e-good.test
send rcpt@e2e-nostarttls.test rcpt2@e2e-nostarttls.test
send rcpt@e2e-expired.test
send rcpt@e2e-untrusted.test
send rcpt@e2e-wrongname.test
send rcpt@e2e-testing.test
t_send=$(now_ms)
sleep 1 # a separate session for the report delivery
send tlsrpt@e2e-good.test

# n_status DOMAIN STATUS FILE: status lines of rcpt*@DOMAIN with STATUS.
n_status() {
	grep -E "to=<[a-z0-9]*@$1>, .*, status=$2 " "$3" | wc -l
}
# n_attempts DOMAIN FILE: delivery attempts of the message to
# rcpt@DOMAIN that were deferred (one status line of rcpt@ each; the
# e2e-nostarttls.test message also has rcpt2@: same session).
n_attempts() {
	grep -E "to=<rcpt@$1>, .*, status=deferred " "$2" | wc -l
}
while :; do
	pending=0
	for d in e2e-nostarttls.test e2e-expired.test e2e-untrusted.test e2e-wrongname.test; do
		[ "$(n_attempts "$d" "$LOG")" -ge 2 ] || pending=$((pending + 1))
	done
	[ "$(n_status e2e-good.test sent "$LOG")" -ge 3 ] || pending=$((pending + 1))
	[ "$(n_status e2e-testing.test sent "$LOG")" -ge 1 ] || pending=$((pending + 1))
	[ "$pending" -eq 0 ] && break
	[ $(($(now_ms) - t_send)) -ge $((DEADLINE * 1000)) ] && break
	sleep 0.5
done
echo "# outcomes after $(($(now_ms) - t_send)) ms ($pending pending)"

# A snapshot: retries go on; expectations and events come from the same
# bytes. A session cut at the end (facts without status yet) counts in
# neither.
cp "$LOG" "$T/snapshot.log"
"$DUMP" log "$T/snapshot.log" tlsrpt@e2e-good.test >"$T/events.txt" 2>"$T/dump.err" ||
	fail "follower runs" "exit $?: $(head -c 300 "$T/dump.err")"
echo "# events:"
sed 's/^/#   /' "$T/events.txt"

# want NAME PATTERN COUNT: COUNT event lines match the extended regex.
want() {
	local got
	got=$(grep -cE "$2" "$T/events.txt" || true)
	if [ "$got" -eq "$3" ]; then
		pass "$1 ($got)"
	else
		fail "$1" "$got events match [$2], want $3"
	fi
}
S=$T/snapshot.log
for c in \
	"e2e-nostarttls.test|starttls-not-supported mail.e2e-nostarttls.test" \
	"e2e-expired.test|certificate-expired mail.e2e-expired.test" \
	"e2e-untrusted.test|certificate-not-trusted mail.e2e-untrusted.test" \
	"e2e-wrongname.test|certificate-host-mismatch mail.e2e-wrongname.test"; do
	d=${c%%|*}
	rt=${c#*|}
	n=$(n_attempts "$d" "$S")
	if [ "$n" -lt 1 ]; then
		fail "$d deferred at least once" "no deferral in the snapshot"
		continue
	fi
	want "$d: one failed session per attempt, $rt" "^F $d - ${rt// /\\ } 127\\." "$n"
	want "$d: no other event" "^[SF] $d " "$n"
done
want "e2e-good.test: one session for two recipients, report delivery excluded" \
	'^S e2e-good.test -$' 1
want "e2e-testing.test (may, untrusted): a success" '^S e2e-testing.test -$' 1
total=$(grep -cv '^#' "$T/events.txt" || true)
want_total=$((2 + $(n_attempts e2e-nostarttls.test "$S") +
	$(n_attempts e2e-expired.test "$S") +
	$(n_attempts e2e-untrusted.test "$S") +
	$(n_attempts e2e-wrongname.test "$S")))
[ "$total" -eq "$want_total" ] && pass "no other events ($total)" ||
	fail "no other events" "$total events, want $want_total"
stats=$(grep '^# stats' "$T/events.txt" || true)
case $stats in
*" excluded=1 "*) pass "stats: the report delivery excluded" ;;
*) fail "stats: the report delivery excluded" "[$stats]" ;;
esac
case $stats in
*" unknown=0 "*) pass "stats: every delivery had a TLS outcome" ;;
*) fail "stats: every delivery had a TLS outcome" "[$stats]" ;;
esac

# ---------------------------------------------------------------- 2. datagrams

SOCK=$T/tlsrpt.sock
files=$(cd "$FIX/datagrams" && ls)
nfiles=$(printf '%s\n' "$files" | wc -l)
"$DUMP" collect "$SOCK" "$nfiles" 20 >"$T/collect.txt" 2>"$T/collect.err" &
DUMP_PID=$!
trap 'rc=$?; kill "$DUMP_PID" 2>/dev/null || true; world_down; exit $rc' EXIT
i=0
until grep -q '^# ready' "$T/collect.txt" 2>/dev/null; do
	i=$((i + 1))
	if [ "$i" -ge 100 ] || ! kill -0 "$DUMP_PID" 2>/dev/null; then
		fail "collector ready" "$(head -c 300 "$T/collect.err")"
		summary || exit 1
	fi
	sleep 0.1
done
# The sender waits out a full queue (max_dgram_qlen is 10 here) where
# libtlsrpt would drop the datagram: the test is about what the collector
# makes of each one, not about a stalled collector.
timeout 20 python3 - "$SOCK" "$FIX/datagrams" $files <<'EOF' ||
import os, socket, sys, time
sock, d = sys.argv[1], sys.argv[2]
for name in sorted(sys.argv[3:]):
    data = open(os.path.join(d, name), "rb").read()
    # as libtlsrpt: a new unbound socket, one sendto with MSG_DONTWAIT
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for _ in range(500):
        try:
            s.sendto(data, socket.MSG_DONTWAIT, sock)
            break
        except BlockingIOError:
            time.sleep(0.01)
    else:
        sys.exit("%s: the collector's queue stayed full for 5 s" % name)
    s.close()
    time.sleep(0.02)
EOF
	fail "datagrams sent" "the sender failed"
rc=0
wait "$DUMP_PID" || rc=$?
trap 'rc=$?; world_down; exit $rc' EXIT
[ "$rc" -eq 0 ] && pass "collector received all $nfiles datagrams" ||
	fail "collector received all $nfiles datagrams" "exit $rc: $(tail -n 1 "$T/collect.txt")"
cat >"$T/collect.want" <<'EOF'
F bare.test sts
S contra.test sts
F expired.test sts certificate-expired mx.expired.test 127.0.0.15 -
F example.com sts validation-failure mail.example.com 198.51.100.7 self-signed_certificate
S example.org no-policy-found
S example.org no-policy-found
F mx.dane-host.test tlsa tlsa-invalid mx.dane-host.test 2001:db8::25 all-TLSA-records-unusable
F nostarttls.test sts starttls-not-supported mx.nostarttls.test 127.0.0.12 -
F odd.test sts validation-failure - - tlsrpt-code-901
F odd.test sts validation-failure mx.odd.test 192.0.2.9 tlsrpt-code-299_future-thing
F sts.test sts sts-policy-fetch-error - - -
F e2e-wrongname.test sts certificate-host-mismatch mail.e2e-wrongname.test 127.0.0.115 -
F e2e-wrongname.test sts certificate-not-trusted mail.e2e-wrongname.test 127.0.0.115 tlsrpt-code-203
S two.test no-policy-found
S two.test sts
F utf.test sts certificate-not-trusted mx.utf.test 192.0.2.10 tlsrpt-code-203
F v6.test sts certificate-not-trusted mx.v6.test 2001:db8::25 tlsrpt-code-203
F v6.test sts certificate-not-trusted mx.v6.test 2001:db8::25 tlsrpt-code-203
F v6.test sts certificate-not-trusted mx.v6.test 2001:db8::25 tlsrpt-code-203
EOF
# the dumper prints the policy domain; order does not matter
grep -v '^#' "$T/collect.txt" | sed 's/tlsrpt-code-299 future-thing/tlsrpt-code-299_future-thing/' |
	LC_ALL=C sort >"$T/collect.got"
if LC_ALL=C sort "$T/collect.want" | cmp -s - "$T/collect.got"; then
	pass "datagram events exact ($(wc -l <"$T/collect.got"))"
else
	fail "datagram events exact" "$(LC_ALL=C sort "$T/collect.want" | diff - "$T/collect.got" | head -n 20 | tr '\n' '|')"
fi
case $(grep '^# stats' "$T/collect.txt") in
*"datagrams=$nfiles "*"rejected=4 "*) pass "collector stats: 4 rejected" ;;
*) fail "collector stats: 4 rejected" "$(grep '^# stats' "$T/collect.txt")" ;;
esac

if [ "$FAILED" -ne 0 ]; then
	echo "# sender log: $LOG. Last lines:"
	tail -n 30 "$T/snapshot.log" | sed 's/^/# /'
fi
echo "# total $(($(now_ms) - t0)) ms"
summary
