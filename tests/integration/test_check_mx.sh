#!/bin/bash
# The jq filters use jq variables ($d) in single quotes on purpose.
# shellcheck disable=SC2016
# test_check_mx.sh MTASTS: the STARTTLS probe of `mtasts check` against the
# real Postfix MX hosts of the test world (world.sh with MTSW_SMTP=1; the
# cases are in tests/integration/README.md, "Postfix end-to-end"). For each
# e2e domain: the exit code, the verdict, the sorted error/warning codes of
# the "mx" area, and the probe details in the JSON (mx_hosts[].addresses[]).
# Also: the policy host's per-address TLS details, --smtp-port, a port
# with nothing listening, and TLSA records in the signed zone dane.test.
# (MTSW_DNSSEC=1).
# Exit: 0 all passed, 1 some failed, 2 bad arguments, 77 skipped (not
# root, or Postfix or ldns missing).
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
require_root_and_tools jq timeout postfix postconf ldns-keygen ldns-signzone

export MTSW_SMTP=standin
# Also the signed zone dane.test. (TLSA records, DNSSEC): about 1 s more.
export MTSW_DNSSEC=1
world_up
T=$MTSW_DIR/t
mkdir -p "$T"
HARD_TIMEOUT=${MTSW_HARD_TIMEOUT:-30}

mt() {
	timeout -k 2 "$HARD_TIMEOUT" ip netns exec "$MTSW_NS" "$MTASTS" "$@" \
		--resolver "$MTSW_RESOLVER"
}

# expect NAME DOMAIN WANT-EXIT WANT-VERDICT 'MX-CODES' [JQ-ASSERTION]:
# MX-CODES is the sorted list of error/warning codes of area "mx" with
# their severity (code:severity); JQ-ASSERTION is evaluated against the
# domain object (.domains[0]).
expect() {
	local name=$1 domain=$2 want_rc=$3 want_v=$4 want_codes=$5 assertion=${6:-true} rc=0 got
	mt check "$domain" --json --ca-file "$MTSW_CA" --timeout 5 >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "exit $rc, want $want_rc; stderr: $(head -c 200 "$T/err")"
		return
	fi
	got=$(jq -r '.domains[0].verdict' "$T/out")
	if [ "$got" != "$want_v" ]; then
		fail "$name" "verdict $got, want $want_v"
		return
	fi
	got=$(jq -r '[.domains[0].findings[] | select(.area == "mx" and .severity != "info")
		| "\(.code):\(.severity)"] | sort | join(" ")' "$T/out")
	if [ "$got" != "$want_codes" ]; then
		fail "$name" "mx codes [$got], want [$want_codes]"
		return
	fi
	if ! jq -e ".domains[0] | $assertion" "$T/out" >/dev/null; then
		fail "$name" "assertion $assertion failed: $(jq -c '.domains[0].mx_hosts' "$T/out" | head -c 600)"
		return
	fi
	pass "$name"
}

A='.mx_hosts[0].addresses[0]'
expect "e2e-good: STARTTLS, TLS 1.2+, valid certificate" e2e-good.test 1 enforcing "" \
	"($A.status == \"OK\") and $A.smtp.starttls and $A.tls.tls12_or_newer
	 and $A.certificate.ok and ($A.certificate.san == [\"mail.e2e-good.test\"])
	 and ($A.smtp.banner | startswith(\"mail.e2e-good.test\"))
	 and ([.findings[] | select(.severity == \"error\")] | length == 0)
	 and any(.findings[]; .code == \"check-mx-tls\")"
expect "e2e-nostarttls: no STARTTLS is an error under enforce" e2e-nostarttls.test 2 broken \
	"check-mx-no-starttls:error" \
	"($A.status == \"EUNAVAIL\") and ($A.smtp.starttls == false) and ($A.tls == null)"
expect "e2e-untrusted: untrusted chain" e2e-untrusted.test 2 broken \
	"check-mx-cert-untrusted:error" \
	"($A.certificate.result_types == [\"certificate-not-trusted\"]) and ($A.certificate.ok == false)"
expect "e2e-wrongname: SAN does not match the MX host" e2e-wrongname.test 2 broken \
	"check-mx-cert-name-mismatch:error" \
	"($A.certificate.result_types == [\"certificate-host-mismatch\"])
	 and ($A.certificate.san == [\"mail.someone-else.test\"])"
expect "e2e-expired: expired certificate" e2e-expired.test 2 broken \
	"check-mx-cert-expired:error" \
	"($A.certificate.result_types == [\"certificate-expired\"])
	 and ($A.certificate.not_after == \"2021-01-01T00:00:00Z\")"
expect "e2e-testing: the same failure is a warning under testing" e2e-testing.test 1 testing \
	"check-mx-cert-untrusted:warning"
expect "e2e-wild: MX matching a wildcard, valid certificate" e2e-wild.test 1 enforcing ""
expect "e2e-deep: MX two labels under the wildcard" e2e-deep.test 2 broken \
	"check-mx-not-covered:error" "$A.certificate.ok"
expect "e2e-outside: MX outside the policy, valid certificate" e2e-outside.test 2 broken \
	"check-mx-not-covered:error" "$A.certificate.ok"
expect "e2e-nopolicy: no policy, broken MX TLS is a warning" e2e-nopolicy.test 1 not-deployed \
	"check-mx-cert-name-mismatch:warning check-mx-cert-untrusted:warning" \
	"(.policy_host_tls == null)
	 and ($A.certificate.result_types == [\"certificate-not-trusted\", \"certificate-host-mismatch\"])"
# No Postfix behind the non-e2e MX hosts (127.0.0.254): refused.
expect "good.test: MX refuses connections" good.test 1 enforcing \
	"check-mx-unreachable:warning" "($A.status == \"ECONNECT\") and ($A.stage == \"connect\")"

# The policy host, per address: TLS version and certificate details.
rc=0
mt check e2e-good.test --json --ca-file "$MTSW_CA" --timeout 5 >"$T/out" 2>&1 || rc=$?
if jq -e '.domains[0].policy_host_tls | (.host == "mta-sts.e2e-good.test")
	and (.addresses | length == 1) and .addresses[0].tls.tls12_or_newer
	and .addresses[0].certificate.ok
	and (.addresses[0].certificate.san == ["mta-sts.e2e-good.test"])' "$T/out" >/dev/null &&
	jq -e 'any(.domains[0].findings[]; .code == "check-policy-host-tls-info")' "$T/out" >/dev/null; then
	pass "policy host: per-address TLS details"
else
	fail "policy host: per-address TLS details" "$(jq -c '.domains[0].policy_host_tls' "$T/out" | head -c 400)"
fi
# An untrusted policy host: the fetch error, and the per-address details
# without a second error for the same certificate.
rc=0
mt check untrusted.test --json --ca-file "$MTSW_CA" --timeout 5 >"$T/out" 2>&1 || rc=$?
if [ "$rc" -eq 2 ] && jq -e '(.domains[0].policy_host_tls.addresses[0].certificate.result_types == ["certificate-not-trusted"])
	and ([.domains[0].findings[] | select(.area == "policy-host" and .severity == "error") | .code] == ["check-policy-host-tls"])' \
	"$T/out" >/dev/null; then
	pass "policy host: untrusted certificate reported once"
else
	fail "policy host: untrusted certificate reported once" "exit $rc: $(jq -c '.domains[0].findings' "$T/out" | head -c 400)"
fi
# --smtp-port: nothing listens on 2525.
rc=0
mt check e2e-good.test --json --ca-file "$MTSW_CA" --timeout 5 --smtp-port 2525 >"$T/out" 2>&1 || rc=$?
if [ "$rc" -eq 1 ] && jq -e '.domains[0].mx_hosts[0].addresses[0].error | test("port 2525")' "$T/out" >/dev/null &&
	jq -e 'any(.domains[0].findings[]; .code == "check-mx-unreachable")' "$T/out" >/dev/null; then
	pass "--smtp-port 2525"
else
	fail "--smtp-port 2525" "exit $rc: $(head -c 300 "$T/out")"
fi
rc=0
mt check e2e-good.test --smtp-port 0 >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 64 ]; then pass "--smtp-port 0 is a usage error"; else fail "--smtp-port 0 is a usage error" "exit $rc"; fi
# TLSA records through the validating resolver: noted (DANE wins), and only
# for the MX hosts that have them.
rc=0
timeout -k 2 "$HARD_TIMEOUT" ip netns exec "$MTSW_NS" "$MTASTS" check dane-good.dane.test \
	sts-only.dane.test --json --ca-file "$MTSW_CA" --timeout 5 \
	--resolver "$MTSW_DNSSEC_RESOLVER" >"$T/out" 2>&1 || rc=$?
if jq -e '(.domains[0].mx_hosts[0].tlsa == {"status": "OK", "count": 1, "dnssec": true})
	and any(.domains[0].findings[]; .code == "check-mx-tlsa-present" and (.message | test("DNSSEC-validated")))
	and (.domains[1].mx_hosts[0].tlsa.status == "ENXDOMAIN")
	and all(.domains[1].findings[]; .code != "check-mx-tlsa-present")' "$T/out" >/dev/null; then
	pass "TLSA records noted (check-mx-tlsa-present)"
else
	fail "TLSA records noted (check-mx-tlsa-present)" "exit $rc: $(jq -c '[.domains[] | .mx_hosts[0].tlsa]' "$T/out" 2>&1 | head -c 300)"
fi
# Text output: the MX area shows the TLS summary line.
rc=0
mt check e2e-good.test --ca-file "$MTSW_CA" --timeout 5 >"$T/out" 2>&1 || rc=$?
if grep -q 'info    check-mx-tls: MX mail.e2e-good.test (127.0.0.[0-9]*): STARTTLS, TLSv1' "$T/out"; then
	pass "text output: check-mx-tls"
else
	fail "text output: check-mx-tls" "$(head -c 400 "$T/out")"
fi

summary
