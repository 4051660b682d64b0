#!/bin/bash
# The jq filters use jq variables ($d, $v) in single quotes on purpose.
# shellcheck disable=SC2016
# test_query.sh MTASTS: run "MTASTS query DOMAIN --json ..." inside the test
# world for every case, and check its exit code and JSON.
# Prints one ok/FAIL line per case, then "N passed, M failed".
# Exit: 0 all passed, 1 some failed, 2 bad arguments, 77 skipped (not root /
# tools missing).
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
if [ ! -x "$MTASTS" ]; then
	echo "$0: $MTASTS: not an executable" >&2
	exit 2
fi
require_root_and_tools jq timeout

world_up
T=$MTSW_DIR/t
mkdir -p "$T"

# The CLI's own deadline is --timeout 3; a run that takes longer than this
# (ms) means the deadline was not kept. "timeout" below is a last resort so
# that a hung CLI cannot hang the test. All three scale with
# MTS_TEST_TIME_SCALE (tscale in lib.sh), for slow builds (valgrind).
TIMEOUT=$(tscale 3)
MAX_MS=${MTSW_MAX_MS:-$(tscale 6000)}
HARD_TIMEOUT=${MTSW_HARD_TIMEOUT:-$(tscale 20)}
# Optional command words put before the CLI, e.g.
# MTASTS_WRAPPER="valgrind -q --error-exitcode=99".
read -r -a WRAPPER <<<"${MTASTS_WRAPPER:-}"

# Fields every JSON answer has, whatever the verdict.
COMMON='(.domain | type == "string") and (.reason | type == "string")
	and (.txt | type == "object") and (.txt.status | type == "string")
	and (.timings_ms | type == "object")'

# What each verdict implies about the other fields.
verdict_filter() {
	case $1 in
	policy)
		echo '.result_type == null and .txt.status == "found"
			and .txt.verdict == "valid" and .policy.http_status == 200
			and .policy.usable == true and .policy.version == "STSv1"
			and .policy.max_age == 86400'
		;;
	no-policy)
		echo '.result_type == null and .policy == null and .txt.verdict == "none"'
		;;
	txt-invalid)
		echo '.txt.status == "found" and .policy == null'
		;;
	dns-temporary-failure)
		echo '.policy == null'
		;;
	sts-policy-fetch-error | sts-webpki-invalid)
		# The TXT record was fine; the fetch was made, and no usable
		# policy came out of it.
		echo '.result_type == $v and .txt.verdict == "valid"
			and .policy.url == "https://mta-sts.\(.domain)/.well-known/mta-sts.txt"
			and .policy.usable != true'
		;;
	sts-policy-invalid)
		echo '.result_type == $v and .txt.verdict == "valid"
			and .policy.valid == false and .policy.usable == false
			and any(.policy.findings[]; .severity == "error")'
		;;
	*) echo false ;;
	esac
}

# expect NAME DOMAIN WANT-EXIT WANT-VERDICT [JQ-FILTER...]: query DOMAIN and
# check the exit code, that stdout is exactly one JSON object, the verdict,
# the fields every answer has and the verdict implies, and that every
# JQ-FILTER is true. $d (the A-label domain) and $v (the verdict) are
# defined in the filters.
expect() {
	local name=$1 domain=$2 want_rc=$3 want_v=$4 rc=0 t0 ms f alabel
	shift 4
	alabel=$domain
	[ "$domain" = "bücher.test" ] && alabel=xn--bcher-kva.test
	t0=$(now_ms)
	timeout -k 2 "$HARD_TIMEOUT" ip netns exec "$MTSW_NS" ${WRAPPER[@]+"${WRAPPER[@]}"} "$MTASTS" query "$domain" --json \
		--resolver "$MTSW_RESOLVER" --ca-file "$MTSW_CA" --timeout "$TIMEOUT" \
		>"$T/out" 2>"$T/err" || rc=$?
	ms=$(($(now_ms) - t0))

	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "exit $rc, want $want_rc; verdict $(jq -r .verdict "$T/out" 2>/dev/null); stderr: $(head -c 200 "$T/err")"
		return
	fi
	if ! jq -e -s 'length == 1 and (.[0] | type == "object")' "$T/out" >/dev/null 2>&1; then
		fail "$name" "stdout is not one JSON object: $(head -c 200 "$T/out")"
		return
	fi
	if [ "$(jq -r .verdict "$T/out")" != "$want_v" ]; then
		fail "$name" "verdict $(jq -r .verdict "$T/out"), want $want_v; reason: $(jq -r .reason "$T/out")"
		return
	fi
	for f in ".domain == \$d" "$COMMON" "$(verdict_filter "$want_v")" "$@"; do
		if ! jq -e --arg d "$alabel" --arg v "$want_v" "$f" "$T/out" >/dev/null 2>&1; then
			fail "$name" "not true: $(printf '%s' "$f" | tr -s '\n\t' '  '); got $(jq -c . "$T/out" | head -c 600)"
			return
		fi
	done
	if [ "$ms" -gt "$MAX_MS" ]; then
		fail "$name" "took $ms ms with --timeout $TIMEOUT"
		return
	fi
	pass "$name"
}

# Policy fields of a valid enforce policy for $d (see policy_good in world.sh).
ENFORCE='.policy.mode == "enforce" and .policy.valid == true
	and .policy.mx == ["mail." + $d, "*.mx." + $d]
	and .policy.url == "https://mta-sts." + $d + "/.well-known/mta-sts.txt"
	and all(.policy.findings[]; .severity != "error")'

# ---------------------------------------------------------------- DNS cases
expect good good.test 0 policy "$ENFORCE" '.txt.id == "good1"' \
	'.txt.records == ["v=STSv1; id=good1;"]' '.policy.content_type == "text/plain"'
expect multistring multistring.test 0 policy "$ENFORCE" '.txt.id == "multi1"' \
	'.txt.records == ["v=STSv1; id=multi1"]'
expect "spf record next to the STS record" spf.test 0 policy "$ENFORCE" \
	'.txt.id == "spf1"' 'any(.txt.records[]; . == "v=STSv1; id=spf1;")'
expect "only an spf record" spfonly.test 1 no-policy '.txt.status == "found"'
expect "two STS records" multiple.test 2 txt-invalid '.txt.verdict == "multiple"'
expect "bad TXT syntax" badtxt.test 2 txt-invalid '.txt.verdict == "invalid"'
expect nxdomain nxdomain.test 1 no-policy '.txt.status == "nxdomain"'
expect nodata nodata.test 1 no-policy '.txt.status == "nodata"'
expect "cname chain" cname.test 0 policy "$ENFORCE" '.txt.id == "cname1"'
expect servfail servfail.test 3 dns-temporary-failure '.txt.status == "servfail"'
expect "dns never answers" timeout.test 3 dns-temporary-failure '.txt.status == "timeout"'
expect "idn (U-label argument)" bücher.test 0 policy "$ENFORCE" '.txt.id == "idn1"'
expect "idn (A-label argument)" xn--bcher-kva.test 0 policy "$ENFORCE" '.txt.id == "idn1"'

# ---------------------------------------------------------------- policy hosts
expect "crlf policy" crlf.test 0 policy "$ENFORCE"
expect "redirect 301" redirect.test 2 sts-policy-fetch-error
expect "http 404" notfound.test 2 sts-policy-fetch-error
expect "http 500" servererror.test 2 sts-policy-fetch-error
expect "content type text/html" html.test 2 sts-policy-fetch-error
expect "content type with charset" charset.test 0 policy "$ENFORCE" \
	'.policy.content_type == "text/plain; charset=utf-8"'
expect "oversized body" oversized.test 2 sts-policy-fetch-error
expect "slow body" slow.test 2 sts-policy-fetch-error
expect "connection refused" refused.test 2 sts-policy-fetch-error
expect "untrusted CA" untrusted.test 2 sts-webpki-invalid
expect "wrong certificate name" wrongname.test 2 sts-webpki-invalid
expect "expired certificate" expired.test 2 sts-webpki-invalid
expect "wildcard certificate" wildcard.test 0 policy "$ENFORCE"
expect "mode testing" testing.test 0 policy '.policy.mode == "testing"' \
	'.policy.valid == true' '.policy.mx == ["mail." + $d, "*.mx." + $d]'
expect "mode none" none.test 0 policy '.policy.mode == "none"' \
	'.policy.valid == true' '.policy.mx == []'
expect "invalid policy" badpolicy.test 2 sts-policy-invalid
expect "blank line in policy" blankline.test 0 policy '.policy.valid == false' \
	'.policy.mode == "enforce"' '.policy.mx == ["mail." + $d]' \
	'any(.policy.findings[]; .line == 3)'

# ---------------------------------------------------------------- usage
rc=0
timeout -k 2 "$HARD_TIMEOUT" ip netns exec "$MTSW_NS" ${WRAPPER[@]+"${WRAPPER[@]}"} "$MTASTS" query >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 64 ]; then
	pass "usage error (no domain)"
else
	fail "usage error (no domain)" "exit $rc, want 64"
fi

summary
