#!/bin/bash
# test_tlsrpt_send.sh MTASTS: TLS reports for senders (RFC 8460; issue 6)
# end to end in the test world (MTSW_SMTP=standin: the world's sending
# Postfix, no mtastsd needed).
#
# The test adds to the running world (zone lines + SIGHUP to unbound, as
# test_check_init.sh does): `_smtp._tls` records for rpt.test (rua = an
# HTTPS endpoint and a mailbox), rpt-fail.test (HTTPS answering 500),
# rpt-redirect.test (301), rpt-bighdr.test (201, then a header line over
# curl's limit: retried, with the reason, not "out of memory"), an HTTPS report receiver (tlsrpt_sink.py,
# certificate from the world CA) at reports.rpt.test = 127.0.0.240, and
# a Postfix MX for rpt-mail.test at 127.0.0.241 storing mail in a
# Maildir. Then: datagrams are counted into a store
# (mtasts-tlsrptd --events-from), `mtasts report show|dump|send` (dry run
# and real), `mtasts-tlsrptd --once` for another day, and the daemon with
# its collector socket and SIGTERM. Every delivered report is decompressed
# and validated against tests/fixtures/tlsrpt/rfc8460.schema.json
# (validate_tlsrpt.py); the mail's header fields are checked.
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
HERE=$(cd "$(dirname "$0")" && pwd)
SCHEMA=$HERE/../fixtures/tlsrpt/rfc8460.schema.json
validate() { python3 "$HERE/validate_tlsrpt.py" "$SCHEMA" "$@"; }
HARD=${MTSW_HARD_TIMEOUT:-60}

require_root_and_tools python3 postfix postconf
if [ ! -x "$TLSRPTD" ]; then
	echo "SKIP: $TLSRPTD not built" >&2
	exit 77
fi
if [ ! -x /usr/sbin/sendmail ]; then
	echo "SKIP: /usr/sbin/sendmail missing" >&2
	exit 77
fi

export MTSW_SMTP=standin
world_up
T=$MTSW_DIR/t-tlsrpt
mkdir -p "$T/sink" "$T/dry"
SINK_PID=
DAEMON_PID=
cleanup() {
	local p
	for p in $DAEMON_PID $SINK_PID; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}
# shellcheck disable=SC2154 # rc is set in the trap itself
trap 'rc=$?; cleanup; world_down; exit $rc' EXIT

# ---- the world's additions ----
ZONE=$MTSW_DIR/unbound/test.zone
{
	echo '_smtp._tls.rpt.test.          TXT "v=TLSRPTv1; rua=https://reports.rpt.test/tlsrpt,mailto:tlsrpt@rpt-mail.test"'
	echo '_smtp._tls.rpt-fail.test.     TXT "v=TLSRPTv1; rua=https://reports.rpt.test/fail500"'
	echo '_smtp._tls.rpt-redirect.test. TXT "v=TLSRPTv1; rua=https://reports.rpt.test/redirect"'
	echo '_smtp._tls.rpt-bighdr.test.   TXT "v=TLSRPTv1; rua=https://reports.rpt.test/bigheader"'
	echo 'reports.rpt.test.             A   127.0.0.240'
	echo 'rpt-mail.test.                MX  10 mx.rpt-mail.test.'
	echo 'mx.rpt-mail.test.             A   127.0.0.241'
} >>"$ZONE"
pid=$(tr -dc 0-9 <"$MTSW_DIR/unbound/unbound.pid")
kill -HUP "$pid"
i=0
until in_world dig @127.0.0.1 +time=1 +tries=1 +short TXT _smtp._tls.rpt.test 2>/dev/null | grep -q TLSRPTv1; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { fail "world: _smtp._tls record" "unbound did not serve it"; summary; exit 1; }
	sleep 0.1
done
pass "world: _smtp._tls records served"

# Postfix wants its inet_interfaces on an interface (as world.sh does).
in_world ip addr add 127.0.0.240/32 dev lo
in_world ip addr add 127.0.0.241/32 dev lo

# The HTTPS receiver's certificate, from the world CA.
CADIR=$MTSW_DIR/ca openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/reports.key" -out "$T/reports.csr" -subj "/CN=reports.rpt.test" \
	-addext "subjectAltName=DNS:reports.rpt.test" -config "$MTSW_DIR/openssl.cnf" 2>>"$T/openssl.log"
CADIR=$MTSW_DIR/ca openssl ca -batch -notext -config "$MTSW_DIR/openssl.cnf" \
	-in "$T/reports.csr" -out "$T/reports.pem" 2>>"$T/openssl.log"
in_world python3 "$HERE/tlsrpt_sink.py" 127.0.0.240 443 "$T/reports.pem" "$T/reports.key" \
	"$T/sink" 300 >"$T/sink.log" 2>&1 &
SINK_PID=$!

# The mailbox MX: a Postfix instance delivering rpt-mail.test to a
# Maildir. world.sh down stops it (it is listed in smtp/instances).
MX=$MTSW_DIR/smtp/rptmx
mkdir -p "$MX/etc" "$MX/queue" "$MX/data" "$MX/mail"
chown postfix "$MX/data"
chown nobody "$MX/mail"
cp /etc/postfix/master.cf "$MX/etc/master.cf"
cat >"$MX/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $MX/queue
data_directory = $MX/data
myhostname = mx.rpt-mail.test
inet_interfaces = 127.0.0.241
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
maillog_file = $MX/mail.log
maillog_file_prefixes = $MX
mydestination =
smtpd_tls_security_level = none
virtual_mailbox_domains = rpt-mail.test
virtual_mailbox_base = $MX/mail
virtual_mailbox_maps = texthash:$MX/etc/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
EOF
echo "tlsrpt@rpt-mail.test rpt/" >"$MX/etc/vmailbox"
postconf -c "$MX/etc" -F '*/*/chroot = n'
echo "$MX" >>"$MTSW_DIR/smtp/instances"
in_world postfix -c "$MX/etc" start </dev/null >"$MX/start.log" 2>&1 || true
i=0
until in_world ss -Hltn "src 127.0.0.241 and sport = :25" | grep -q . && [ -e "$T/sink/ready" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { fail "world: mailbox MX and HTTPS receiver" "not listening"; summary; exit 1; }
	sleep 0.1
done
pass "world: mailbox MX and HTTPS receiver listening"

# ---- the store ----
clear_of_midnight 180
NOW=$(date +%s)
TODAY=$((NOW / 86400 * 86400))
Y=$((TODAY - 86400))   # yesterday 00:00Z
Y2=$((Y - 86400))      # the day before
YD=$(date -u -d "@$Y" +%F)
Y2D=$(date -u -d "@$Y2" +%F)
TD=$(date -u -d "@$TODAY" +%F)
cat >"$T/tlsrptd.yml" <<EOF
state_db: $T/state.db
host_name: mta1.sender.test
log_level: debug
report:
  organization_name: mtasts test sender
  contact_info: tlsrpt@sender.test
  sendmail: /usr/sbin/sendmail -C $MTSW_SMTP_SENDER -oi
  resolver: 127.0.0.1
  ca_file: $MTSW_CA
  opt_out: [optout.test]
  timeout: 10
EOF
check "daemon -t accepts the configuration" "$TLSRPTD" -c "$T/tlsrptd.yml" -t
printf 'report:\n  organization_name: o\n  contact_info: a@sender.test\n  submitter: other.test\n' >"$T/bad1.yml"
printf 'report:\n  organization_name: o\n  contact_info: a@sender.test\n  sendmial: /x\n' >"$T/bad2.yml"
rc=0
"$TLSRPTD" -c "$T/bad1.yml" -t >/dev/null 2>"$T/bad1.err" || rc=$?
check "daemon -t refuses a submitter other than contact-info's domain (D08)" test "$rc" -eq 78
rc=0
"$TLSRPTD" -c "$T/bad2.yml" -t >/dev/null 2>"$T/bad2.err" || rc=$?
check "daemon -t refuses an unknown key" sh -c "[ $rc -eq 78 ] && grep -q sendmial '$T/bad2.err'"

POL='"policy-type":2,"policy-domain":"rpt.test","policy-string":["version: STSv1","mode: enforce","mx: mail.rpt.test","max_age: 86400"],"mx-host":["mail.rpt.test"]'
dg() { # dg TIME DOMAIN POLICY-JSON TAIL
	printf '%s {"dpv":"1","d":"%s","pr":"v=TLSRPTv1; rua=mailto:x@%s","policies":[{%s,%s}]}\n' "$1" "$2" "$2" "$3" "$4"
}
{
	dg $((Y + 100)) rpt.test "$POL" '"t":0,"f":0'
	dg $((Y + 200)) rpt.test "$POL" '"t":0,"f":0'
	dg $((Y + 300)) rpt.test "$POL" '"failure-details":[{"c":205,"s":"127.0.0.2","n":"mail.rpt.test","r":"127.0.0.254","f":"self-signed_certificate"}],"t":1,"f":1'
	dg $((Y + 400)) rpt.test "$POL" '"failure-details":[{"c":202,"s":"127.0.0.2","n":"mail.rpt.test","r":"127.0.0.254"}],"t":1,"f":1'
	dg $((Y + 86399)) rpt.test "$POL" '"t":0,"f":0'
	dg $((Y + 500)) rpt.test '"policy-type":9' '"t":0,"f":0'
	dg "$TODAY" rpt.test "$POL" '"t":0,"f":0'
	dg $((Y + 600)) rpt-fail.test '"policy-type":9' '"t":0,"f":0'
	dg $((Y + 600)) rpt-redirect.test '"policy-type":9' '"t":0,"f":0'
	dg $((Y + 600)) rpt-bighdr.test '"policy-type":9' '"t":0,"f":0'
	dg $((Y + 700)) norpt.test '"policy-type":9' '"t":0,"f":0'
	dg $((Y + 800)) optout.test '"policy-type":9' '"t":0,"f":0'
	dg $((Y2 + 900)) rpt.test "$POL" '"t":0,"f":0'
} >"$T/events.txt"
out=$("$TLSRPTD" -c "$T/tlsrptd.yml" --events-from "$T/events.txt" 2>"$T/ingest.log") || true
case $out in
*"13 session(s) counted, 0 duplicate(s), 0 rejected"*) pass "13 datagrams counted into the store" ;;
*) fail "13 datagrams counted into the store" "$out" ;;
esac

mt() {
	timeout -k 2 "$HARD" ip netns exec "$MTSW_NS" "$MTASTS" "$@"
}

# ---- show ----
mt report show --state "$T/state.db" --json >"$T/show1.json" 2>"$T/show1.err" || true
python3 - "$T/show1.json" "$YD" "$TD" <<'EOF' && pass "show: per-day totals (23:59:59Z on its day, 00:00:00Z on the next)" || fail "show: per-day totals" "$(cat "$T/show1.json")"
import json, sys
d = json.load(open(sys.argv[1]))
rows = {(r["day"], r["domain"]): r for r in d["aggregates"]}
r = rows[(sys.argv[2], "rpt.test")]
assert (r["successful"], r["failed"], r["policies"], r["hosts"]) == (4, 2, 2, 1), r
assert rows[(sys.argv[3], "rpt.test")]["successful"] == 1
assert r["report"] is None
assert d["deliveries"] == []
EOF

# The validator must be able to fail: J01 (policies an object), J02 (a
# count as a string), a date-time without a zone.
printf '%s' '{"organization-name":"o","date-range":{"start-datetime":"2026-01-01T00:00:00","end-datetime":"2026-01-01T23:59:59Z"},"contact-info":"a@b.example","report-id":"r","policies":{}}' >"$T/bad1.json"
printf '%s' '{"organization-name":"o","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-01T23:59:59Z"},"contact-info":"a@b.example","report-id":"r","policies":[{"policy":{"policy-type":"sts","policy-domain":"b.example"},"summary":{"total-successful-session-count":"5326","total-failure-session-count":0}}]}' >"$T/bad2.json"
check "validator: rejects J01 and a date-time without a zone" sh -c "! python3 '$HERE/validate_tlsrpt.py' '$SCHEMA' '$T/bad1.json'"
check "validator: rejects J02 (a count as a string)" sh -c "! python3 '$HERE/validate_tlsrpt.py' '$SCHEMA' '$T/bad2.json'"

# ---- dump ----
mt report dump --state "$T/state.db" --domain rpt.test --day "$YD" >"$T/dump.json" 2>"$T/dump.err" || true
check "dump: the report validates against the RFC 8460 schema" validate "$T/dump.json"
python3 - "$T/dump.json" "$YD" <<'EOF' && pass "dump: report content exact" || fail "dump: report content" "$(cat "$T/dump.json")"
import json, re, sys
r = json.load(open(sys.argv[1]))
day = sys.argv[2]
assert r["organization-name"] == "mtasts test sender"
assert r["contact-info"] == "tlsrpt@sender.test"
assert r["date-range"] == {"start-datetime": day + "T00:00:00Z", "end-datetime": day + "T23:59:59Z"}, r["date-range"]
assert re.fullmatch(re.escape(day) + r"\.rpt\.test\.[0-9a-f]{16}@sender\.test", r["report-id"]), r["report-id"]
p = r["policies"]
assert [x["policy"]["policy-type"] for x in p] == ["sts", "no-policy-found"]
sts = p[0]
assert sts["policy"]["mx-host"] == ["mail.rpt.test"]
assert sts["policy"]["policy-string"][1] == "mode: enforce"
assert sts["summary"] == {"total-successful-session-count": 3, "total-failure-session-count": 2}
fd = sorted(sts["failure-details"], key=lambda x: x["result-type"])
assert [x["result-type"] for x in fd] == ["certificate-host-mismatch", "validation-failure"], fd
assert fd[1]["failure-reason-code"] == "self-signed_certificate"
assert all(x["failed-session-count"] == 1 and x["receiving-ip"] == "127.0.0.254" for x in fd)
assert "receiving-mx-helo" not in fd[0]
assert p[1]["summary"]["total-successful-session-count"] == 1
EOF
mt report dump --state "$T/state.db" --domain rpt.test --day "$YD" --gzip >"$T/dump.json.gz" 2>/dev/null || true
check "dump --gzip: gzip of the same report" sh -c "gzip -dc '$T/dump.json.gz' | cmp -s - '$T/dump.json' || { gzip -dc '$T/dump.json.gz'; echo; } | cmp -s - '$T/dump.json'"

# ---- send --dry-run ----
mt report send --state "$T/state.db" --day "$YD" --domain rpt.test --dry-run "$T/dry" \
	--resolver 127.0.0.1 >"$T/dry.out" 2>&1 || true
F="sender.test!rpt.test!$Y!$((Y + 86399)).json.gz"
check "dry run: the RFC 8460 5.1 file name" test -s "$T/dry/$F"
check "dry run: the file validates" validate "$T/dry/$F"
check "dry run: the mail written for the mailto: rua" test -s "$T/dry/$F.tlsrpt@rpt-mail.test.eml"
check "dry run: nothing sent" test ! -e "$T/sink/1.body"
mt report show --state "$T/state.db" --day "$YD" --domain rpt.test --json >"$T/show2.json" 2>/dev/null || true
check "dry run: the state is untouched" python3 -c "import json,sys; d=json.load(open('$T/show2.json')); sys.exit(0 if d['deliveries']==[] and d['aggregates'][0]['report'] is None else 1)"

# ---- round trip (issue 7): what we send, our receiving side reads ----
# The dry run's file and mail go through `mtasts report ingest` (the
# mail is the same report: a duplicate) and `summary` gives back the
# counts of the sending side: 3 + 1 successful, 2 failed sessions.
rc=0
"$MTASTS" report ingest --db "$T/recv.db" --json "$T/dry/$F" "$T/dry/$F.tlsrpt@rpt-mail.test.eml" \
	>"$T/rt-ingest.json" 2>"$T/rt-ingest.err" || rc=$?
python3 - "$T/rt-ingest.json" <<'EOF' && [ "$rc" = 0 ] && pass "round trip: our report ingested valid (file new, mail duplicate)" ||
import json, sys
d = json.load(open(sys.argv[1]))
out = [(r["outcome"], r["organization"], r["warnings"]) for r in d["reports"]]
assert out == [("new", "mtasts test sender", 0), ("duplicate", "mtasts test sender", 0)], out
EOF
	fail "round trip: ingest" "exit $rc: $(cat "$T/rt-ingest.json" "$T/rt-ingest.err")"
"$MTASTS" report summary --db "$T/recv.db" --domain rpt.test --json >"$T/rt-sum.json" 2>&1 || true
python3 - "$T/rt-sum.json" "$YD" <<'EOF' && pass "round trip: summary gives the sent counts back" ||
import json, sys
d = json.load(open(sys.argv[1]))
rows = [(r["day"], r["organization"], r["successful"], r["failed"]) for r in d["rows"]]
assert rows == [(sys.argv[2], "mtasts test sender", 4, 2)], rows
f = sorted((x["result_type"], x["receiving_mx_hostname"], x["sessions"]) for x in d["rows"][0]["failures"])
assert f == [("certificate-host-mismatch", "mail.rpt.test", 1), ("validation-failure", "mail.rpt.test", 1)], f
EOF
	fail "round trip: summary" "$(cat "$T/rt-sum.json")"

# ---- send ----
rc=0
mt report send --state "$T/state.db" --day "$YD" --resolver 127.0.0.1 --ca-file "$MTSW_CA" \
	--timeout 10 >"$T/send.out" 2>&1 || rc=$?
check "send: exit 1 (some deliveries failed)" test "$rc" -eq 1
for want in "sent    $YD rpt.test https://reports.rpt.test/tlsrpt" \
	"sent    $YD rpt.test mailto:tlsrpt@rpt-mail.test" \
	"retry   $YD rpt-fail.test https://reports.rpt.test/fail500: HTTP status 500" \
	"retry   $YD rpt-redirect.test https://reports.rpt.test/redirect: HTTP status 301" \
	"retry   $YD rpt-bighdr.test https://reports.rpt.test/bigheader: a response header line over curl's limit (100 KB)" \
	"no-rua  $YD norpt.test" "opt-out $YD optout.test"; do
	if grep -qF -- "$want" "$T/send.out"; then
		pass "send: '$want'"
	else
		fail "send: '$want'" "$(cat "$T/send.out")"
	fi
done

# The HTTPS delivery (D01).
H=$(grep -l '^POST /tlsrpt ' "$T"/sink/*.headers 2>/dev/null | head -n 1 || true)
B=${H%.headers}.body
check "https: POST received" test -n "$H"
check "https: Content-Type application/tlsrpt+gzip" grep -qix 'content-type: application/tlsrpt+gzip' "${H:-/dev/null}"
check "https: body is gzip (1f 8b)" sh -c "head -c 2 '$B' | od -An -tx1 | grep -q '1f 8b'"
check "https: the report validates against the RFC 8460 schema" validate "$B"
check "https: the delivered report is the dumped one" sh -c "gzip -dc '$B' | cmp -s - '$T/dump.json' || { gzip -dc '$B'; echo; } | cmp -s - '$T/dump.json'"
check "https: the redirect was not followed" test "$(grep -l '^POST /tlsrpt ' "$T"/sink/*.headers | wc -l)" -eq 1

# The mail (D07, D08, D10): wait (bounded) for the Maildir.
i=0
M=
while [ -z "$M" ]; do
	M=$(find "$MX/mail/rpt/new" -type f 2>/dev/null | head -n 1 || true)
	[ -n "$M" ] && break
	i=$((i + 1))
	[ "$i" -lt 300 ] || break
	sleep 0.1
done
check "mail: delivered to the rua mailbox" test -n "$M"
if [ -n "$M" ]; then
	python3 - "$M" "$T/mail.json.gz" <<'EOF' && pass "mail: header fields and MIME structure" || fail "mail: header fields and MIME structure" "$(head -c 3000 "$M")"
import email, email.policy, re, sys
raw = open(sys.argv[1], "rb").read()
m = email.message_from_bytes(raw, policy=email.policy.compat32)
unfold = lambda v: re.sub(r"\r?\n[ \t]", " ", v)
assert m["TLS-Report-Domain"] == "rpt.test", m["TLS-Report-Domain"]
assert m["TLS-Report-Submitter"] == "sender.test"
assert m["TLS-Required"] == "No"
assert m["From"] == "tlsrpt@sender.test"
assert m["To"] == "tlsrpt@rpt-mail.test"
assert m["MIME-Version"] == "1.0"
subj = unfold(m["Subject"])
assert re.fullmatch(r"Report Domain: rpt\.test Submitter: sender\.test Report-ID: <[!-=?-~]+@sender\.test>", subj), subj
assert m.get_content_type() == "multipart/report"
assert m.get_param("report-type") == "tlsrpt"
parts = m.get_payload()
assert len(parts) == 2
assert parts[0].get_content_type() == "text/plain"
assert parts[1].get_content_type() == "application/tlsrpt+gzip"
fn = parts[1].get_filename()
assert re.fullmatch(r"sender\.test!rpt\.test![0-9]+![0-9]+\.json\.gz", fn), fn
data = parts[1].get_payload(decode=True)
assert data[:2] == b"\x1f\x8b"
open(sys.argv[2], "wb").write(data)
EOF
	check "mail: the attached report validates against the RFC 8460 schema" validate "$T/mail.json.gz"
	check "mail: the same report (report-id and bytes) as by HTTPS" bash -c "cmp -s <(gzip -dc '$T/mail.json.gz') <(gzip -dc '$B')"
	# Postfix logs the delivery after the Maildir rename: poll (at most 5 s).
	# shellcheck disable=SC2016 # expanded by the inner bash
	check "mail: the MX received it (its log)" bash -c \
		'for _ in $(seq 1 50); do grep -q status=sent "$1" && exit 0; sleep 0.1; done; exit 1' _ "$MX/mail.log"
fi

mt report show --state "$T/state.db" --day "$YD" --json >"$T/show3.json" 2>/dev/null || true
python3 - "$T/show3.json" <<'EOF' && pass "show: delivery and report states after send" || fail "show: states after send" "$(cat "$T/show3.json")"
import json, sys
d = json.load(open(sys.argv[1]))
rep = {r["domain"]: r["report"] for r in d["aggregates"]}
assert rep == {"rpt.test": "planned", "rpt-fail.test": "planned", "rpt-redirect.test": "planned",
               "rpt-bighdr.test": "planned",
               "norpt.test": "norua", "optout.test": "optout"}, rep
dl = {(x["domain"], x["rua"]): x for x in d["deliveries"]}
assert dl[("rpt.test", "https://reports.rpt.test/tlsrpt")]["state"] == "sent"
assert dl[("rpt.test", "mailto:tlsrpt@rpt-mail.test")]["state"] == "sent"
f = dl[("rpt-fail.test", "https://reports.rpt.test/fail500")]
assert f["state"] == "pending" and f["attempts"] == 1 and f["last_error"] == "HTTP status 500", f
assert f["next_attempt"] is not None
EOF

# A second run sends nothing twice.
mt report send --state "$T/state.db" --day "$YD" --domain rpt.test --resolver 127.0.0.1 \
	--ca-file "$MTSW_CA" --timeout 10 >"$T/send2.out" 2>&1 || true
check "send again: no second POST of a sent report" test "$(grep -l '^POST /tlsrpt ' "$T"/sink/*.headers | wc -l)" -eq 1

# ---- the daemon, --once: the day before yesterday ----
rc=0
timeout -k 2 "$HARD" ip netns exec "$MTSW_NS" "$TLSRPTD" -c "$T/tlsrptd.yml" --once \
	>"$T/once.out" 2>"$T/once.log" || rc=$?
check "daemon --once: exit 0" test "$rc" -eq 0
check "daemon --once: delivered by HTTPS (logged)" grep -q "report $Y2D rpt.test to https://reports.rpt.test/tlsrpt: delivered" "$T/once.log"
check "daemon --once: delivered by mail (logged)" grep -q "report $Y2D rpt.test to mailto:tlsrpt@rpt-mail.test: delivered" "$T/once.log"
check "daemon --once: today is not reported" sh -c "! grep -q 'report $TD' '$T/once.log'"
H2=$(grep -l '^POST /tlsrpt ' "$T"/sink/*.headers | while read -r h; do
	python3 -c "import gzip,json,sys; r=json.loads(gzip.decompress(open(sys.argv[1],'rb').read())); sys.exit(0 if r['date-range']['start-datetime'].startswith(sys.argv[2]) else 1)" "${h%.headers}.body" "$Y2D" && echo "$h"
done | head -n 1)
check "daemon --once: the report of $Y2D arrived" test -n "$H2"
[ -z "$H2" ] || check "daemon --once: it validates" validate "${H2%.headers}.body"

# ---- the daemon with its collector socket; SIGTERM ----
cat >"$T/tlsrptd2.yml" <<EOF
state_db: $T/state.db
host_name: mta1.sender.test
collector:
  socket: $T/tlsrpt.sock
  mode: "0660"
report:
  organization_name: mtasts test sender
  contact_info: tlsrpt@sender.test
  resolver: 127.0.0.1
  timeout: 5
EOF
ip netns exec "$MTSW_NS" "$TLSRPTD" -c "$T/tlsrptd2.yml" >"$T/daemon.out" 2>"$T/daemon.log" &
DAEMON_PID=$!
i=0
until [ -S "$T/tlsrpt.sock" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || break
	sleep 0.1
done
check "daemon: collector socket bound" test -S "$T/tlsrpt.sock"
python3 - "$T/tlsrpt.sock" <<'EOF' || true
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
msg = b'{"dpv":"1","d":"live.test","pr":"v=TLSRPTv1; rua=mailto:a@live.test","policies":[{"policy-type":9,"t":0,"f":0}]}'
for _ in range(3):
    s.sendto(msg, sys.argv[1])
EOF
i=0
got=
while :; do
	got=$("$MTASTS" report show --state "$T/state.db" --domain live.test --json 2>/dev/null |
		python3 -c "import json,sys; a=json.load(sys.stdin)['aggregates']; print(a[0]['successful'] if a else 0)" 2>/dev/null || echo 0)
	[ "$got" = 3 ] && break
	i=$((i + 1))
	[ "$i" -lt 100 ] || break
	sleep 0.1
done
check "daemon: 3 datagrams counted" test "$got" = 3

# The state file removed, then damaged, under the running daemon
# (CACHE-STORE-8): the next datagram notices it; removed, everything is
# copied into a new file; truncated, the file is kept aside and a new one
# made. `report show` runs only after the daemon's message: run earlier,
# it would itself create a new file at the path (a replacement).
send_live() {
	python3 - "$T/tlsrpt.sock" "$1" <<'PYEOF' || true
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
msg = b'{"dpv":"1","d":"live.test","pr":"v=TLSRPTv1; rua=mailto:a@live.test","policies":[{"policy-type":9,"t":0,"f":0}]}'
for _ in range(int(sys.argv[2])):
    s.sendto(msg, sys.argv[1])
PYEOF
}
# wait_log PATTERN: up to 10 s for the daemon's log to say it
wait_log() {
	local i=0
	until grep -q "$1" "$T/daemon.log"; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || return 1
		sleep 0.1
	done
}
live_count() {
	"$MTASTS" report show --state "$T/state.db" --domain live.test --json 2>/dev/null |
		python3 -c "import json,sys; a=json.load(sys.stdin)['aggregates']; print(a[0]['successful'] if a else 0)" 2>/dev/null || echo 0
}
# live_count_is N: up to 10 s for the count to reach N (the log line comes
# before the new file is made and before the datagram's own commit);
# prints the last count read.
live_count_is() {
	local i=0 n
	while :; do
		n=$(live_count)
		[ "$n" = "$1" ] && break
		i=$((i + 1))
		[ "$i" -lt 100 ] || break
		sleep 0.1
	done
	echo "$n"
}
rm -f "$T/state.db"
send_live 2
check "daemon: state file removed: noticed and logged" \
	wait_log "state.db: the file was removed under us; all it held is copied into a new file"
got=$(live_count_is 5)
check "daemon: state file removed: all 5 datagrams in the new file ($got)" test "$got" = 5
truncate -s 0 "$T/state.db"
send_live 1
check "daemon: state file truncated: noticed and logged" \
	wait_log "state.db: the file is damaged (truncated or overwritten); moved to"
got=$(live_count_is 1)
check "daemon: state file truncated: a new file counts on (1: $got)" test "$got" = 1
check "daemon: the damaged file is kept" ls "$T"/state.db.damaged-*[0-9]
t0=$(now_ms)
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
t1=$(now_ms)
check "daemon: SIGTERM exits 0" test "$rc" -eq 0
check "daemon: SIGTERM exits within 5 s" test $((t1 - t0)) -lt 5000
check "daemon: socket removed on exit" test ! -e "$T/tlsrpt.sock"

summary
