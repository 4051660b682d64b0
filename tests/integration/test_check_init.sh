#!/bin/bash
# The jq filters use jq variables in single quotes on purpose.
# shellcheck disable=SC2016
# test_check_init.sh MTASTS: `mtasts check` passes on exactly what
# `mtasts init` produced, published in the test world. The world's
# check-init.test (world.sh, define_check_cases; needs MTSW_SMTP) has an MX
# record, a Postfix MX host with a valid certificate for mail.check-init.test
# and a policy host mta-sts.check-init.test that serves a placeholder, but
# no _mta-sts or _smtp._tls record. The test
#   1. checks it as is: not-deployed;
#   2. runs `mtasts init check-init.test --mx mail.check-init.test --mode
#      testing --rua mailto:...`, copies the policy file byte for byte to
#      the policy host's document root, appends the TXT lines init printed
#      to the zone file, SIGHUPs the world's unbound (it rereads its auth
#      zones; the wait for the new record is bounded) and checks:
#      ready-for-enforce, exit 0, no error and no warning, the id of the
#      record init printed;
#   3. the same with `mtasts init --from-dns --mode enforce --rua ...` (MX
#      patterns drafted from the world's MX records; run inside the world),
#      replacing the records (policy first, then TXT, RFC 8461 8.1):
#      enforcing, exit 0, no error and no warning, the new id.
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
require_root_and_tools jq timeout postfix postconf

export MTSW_SMTP=standin
world_up
T=$MTSW_DIR/t
mkdir -p "$T"
HARD_TIMEOUT=${MTSW_HARD_TIMEOUT:-30}
D=check-init.test
WWW=$MTSW_DIR/www/mta-sts.$D/.well-known/mta-sts.txt
ZONE=$MTSW_DIR/unbound/test.zone

mt() {
	timeout -k 2 "$HARD_TIMEOUT" ip netns exec "$MTSW_NS" "$MTASTS" "$@" \
		--resolver "$MTSW_RESOLVER"
}

# publish INIT-OUTPUT POLICY-FILE ID: serve POLICY-FILE, then replace the
# domain's _mta-sts and _smtp._tls records by the TXT lines of INIT-OUTPUT
# (zone-file syntax, as init prints them), reload unbound and wait (at most
# 10 s) until it answers with ID.
publish() {
	local out=$1 policy=$2 id=$3 pid i=0
	cp "$policy" "$WWW"
	sed -i -e "/^_mta-sts\.$D\. /d" -e "/^_smtp\._tls\.$D\. /d" "$ZONE"
	grep -E "^_(mta-sts|smtp\._tls)\.$D\. [0-9]+ IN TXT " "$out" >>"$ZONE"
	pid=$(tr -dc 0-9 <"$MTSW_DIR/unbound/unbound.pid")
	[ "$(ip netns identify "$pid" 2>/dev/null)" = "$MTSW_NS" ] || return 1
	kill -HUP "$pid"
	while ! in_world dig @127.0.0.1 +time=1 +tries=1 +short TXT "_mta-sts.$D" 2>/dev/null |
		grep -q "id=$id;"; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || return 1
		sleep 0.1
	done
}

# expect_clean NAME WANT-VERDICT ID: check D; exit 0, the verdict, no error
# or warning finding, the record id ID, the MX probed with TLS 1.2+ and a
# valid certificate, and the TLSRPT record seen.
expect_clean() {
	local name=$1 want_v=$2 id=$3 rc=0
	mt check "$D" --json --ca-file "$MTSW_CA" --timeout 5 >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -eq 0 ] && jq -e --arg v "$want_v" --arg id "$id" '.exit == 0 and (.domains[0] |
		.verdict == $v and .counts.error == 0 and .counts.warning == 0
		and ([.findings[] | select(.severity != "info")] | length == 0)
		and any(.findings[]; .code == "check-sts-txt-ok" and (.message | endswith("id " + $id)))
		and any(.findings[]; .code == "check-policy-host-ok")
		and any(.findings[]; .code == "check-mx-covered")
		and any(.findings[]; .code == "check-tlsrpt-rua")
		and (.mx_hosts[0].addresses[0] | .status == "OK" and .tls.tls12_or_newer and .certificate.ok))' \
		"$T/out" >/dev/null; then
		pass "$name"
	else
		fail "$name" "exit $rc: $(jq -c '[.domains[0].verdict, [.domains[0].findings[] | select(.severity != "info") | [.code, .message]]]' "$T/out" 2>&1 | head -c 500) $(head -c 200 "$T/err")"
	fi
}

# 1. Before publishing: no STS record.
rc=0
mt check "$D" --json --ca-file "$MTSW_CA" --timeout 5 >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 1 ] && jq -e '.domains[0].verdict == "not-deployed"
	and ([.domains[0].findings[] | select(.severity != "info") | .code] | sort
		== ["check-sts-not-deployed", "check-tlsrpt-missing"])' "$T/out" >/dev/null; then
	pass "before init: not-deployed"
else
	fail "before init: not-deployed" "exit $rc: $(head -c 300 "$T/out")"
fi

# 2. init --mx, mode testing.
rc=0
"$MTASTS" init "$D" --mx "mail.$D" --mode testing --rua "mailto:tlsrpt@$D" \
	--output "$T/p1.txt" >"$T/init1.out" 2>"$T/err" </dev/null || rc=$?
id1=$("$MTASTS" policy id "$T/p1.txt" 2>/dev/null || true)
if [ "$rc" -eq 0 ] && [ -n "$id1" ] && grep -q "id=$id1;" "$T/init1.out" &&
	[ "$(grep -cE "^_(mta-sts|smtp\._tls)\.$D\. [0-9]+ IN TXT " "$T/init1.out")" -eq 2 ]; then
	pass "init --mx --mode testing: policy file and two TXT records"
else
	fail "init --mx --mode testing: policy file and two TXT records" "exit $rc: $(head -c 300 "$T/err")"
fi
if publish "$T/init1.out" "$T/p1.txt" "$id1"; then
	pass "published (nginx serves the file, unbound has the records)"
else
	fail "published (nginx serves the file, unbound has the records)" "unbound did not answer id $id1 within 10 s"
fi
# The policy host serves the file byte for byte.
if in_world curl -sf --max-time 5 --cacert "$MTSW_CA" "https://mta-sts.$D/.well-known/mta-sts.txt" |
	cmp -s - "$T/p1.txt"; then
	pass "policy host serves init's file byte for byte"
else
	fail "policy host serves init's file byte for byte" "curl or cmp failed"
fi
expect_clean "check of init --mode testing: ready-for-enforce, exit 0, no finding above info" \
	ready-for-enforce "$id1"

# 3. init --from-dns (inside the world), mode enforce: a new policy and id.
rc=0
mt init "$D" --from-dns --mode enforce --rua "mailto:tlsrpt@$D" \
	--output "$T/p2.txt" >"$T/init2.out" 2>"$T/err" </dev/null || rc=$?
id2=$("$MTASTS" policy id "$T/p2.txt" 2>/dev/null || true)
if [ "$rc" -eq 0 ] && [ -n "$id2" ] && [ "$id2" != "$id1" ] &&
	[ "$(tr -d '\r' <"$T/p2.txt")" = "$(printf 'version: STSv1\nmode: enforce\nmx: mail.%s\nmax_age: 604800' "$D")" ]; then
	pass "init --from-dns --mode enforce: MX from DNS, new id"
else
	fail "init --from-dns --mode enforce: MX from DNS, new id" "exit $rc: $(head -c 300 "$T/err") $(head -c 200 "$T/p2.txt" 2>/dev/null)"
fi
if publish "$T/init2.out" "$T/p2.txt" "$id2"; then
	pass "republished (policy first, then the TXT records)"
else
	fail "republished (policy first, then the TXT records)" "unbound did not answer id $id2 within 10 s"
fi
expect_clean "check of init --mode enforce: enforcing, exit 0, no finding above info" enforcing "$id2"
# The text output agrees: exit 0, the header line.
rc=0
mt check "$D" --ca-file "$MTSW_CA" --timeout 5 >"$T/text" 2>&1 || rc=$?
if [ "$rc" -eq 0 ] && [ "$(head -1 "$T/text")" = "$D: enforcing (0 error(s), 0 warning(s))" ]; then
	pass "text: enforcing (0 error(s), 0 warning(s))"
else
	fail "text: enforcing (0 error(s), 0 warning(s))" "exit $rc: $(head -1 "$T/text")"
fi

summary
