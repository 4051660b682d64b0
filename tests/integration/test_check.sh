#!/bin/bash
# The jq filters use jq variables ($d) in single quotes on purpose.
# shellcheck disable=SC2016
# test_check.sh MTASTS: `mtasts check` (and `mtasts init --from-dns`)
# inside the test world. For each case: the exit code, the verdict, the
# codes of the error/warning findings, and for the stable cases the whole
# JSON against tests/golden/check-<case>.json with timings removed (and
# certificate dates and the namespace name masked). The MX hosts of these
# cases (127.0.0.254) accept no connection: every case has
# check-mx-unreachable; test_check_mx.sh covers the STARTTLS probe.
# Regenerate the golden files after an intended change with
#   UPDATE_GOLDEN=1 tests/integration/test_check.sh build/mtasts
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
GOLDEN=$(cd "$(dirname "$0")/../golden" && pwd)
require_root_and_tools jq timeout

world_up
T=$MTSW_DIR/t
mkdir -p "$T"
HARD_TIMEOUT=${MTSW_HARD_TIMEOUT:-$(tscale 30)}
# The CLI's deadline for each probe, stretched for slow builds (valgrind).
TIMEOUT=$(tscale 3)

mt() {
	timeout -k 2 "$HARD_TIMEOUT" ip netns exec "$MTSW_NS" "$MTASTS" "$@" \
		--resolver "$MTSW_RESOLVER"
}

# slow_ok GOT WANT: GOT without check-policy-host-slow (a fetch over 10 s)
# when the time budgets are scaled (MTS_TEST_TIME_SCALE > 1, valgrind,
# where a fetch can take that long) and WANT does not name it; else GOT.
slow_ok() {
	if [ "$(tscale 1)" -gt 1 ] && case $2 in *check-policy-host-slow*) false ;; *) true ;; esac; then
		# shellcheck disable=SC2086 # a list of words
		printf '%s\n' $1 | grep -vx check-policy-host-slow | paste -sd ' ' -
	else
		printf '%s\n' "$1"
	fi
}
# unslow: stdin without the check-policy-host-slow finding and the warning
# count, when the budgets are scaled (see slow_ok); else unchanged.
unslow() {
	if [ "$(tscale 1)" -gt 1 ]; then
		sed -E '/check-policy-host-slow/,+1d; s/[0-9]+ warning\(s\)/N warning(s)/'
	else
		cat
	fi
}

# expect NAME DOMAIN WANT-EXIT WANT-VERDICT 'CODES' [golden]: CODES is the
# space-separated, sorted list of error and warning codes.
expect() {
	local name=$1 domain=$2 want_rc=$3 want_v=$4 want_codes=$5 golden=${6:-} rc=0 got
	mt check "$domain" --json --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>"$T/err" || rc=$?
	if [ "$rc" -ne "$want_rc" ]; then
		fail "$name" "exit $rc, want $want_rc; stderr: $(head -c 200 "$T/err")"
		return
	fi
	if ! jq -e '.schema == "mtasts-check/1" and (.domains | length == 1)' "$T/out" >/dev/null 2>&1; then
		fail "$name" "not a check JSON document: $(head -c 200 "$T/out")"
		return
	fi
	got=$(jq -r '.domains[0].verdict' "$T/out")
	if [ "$got" != "$want_v" ]; then
		fail "$name" "verdict $got, want $want_v"
		return
	fi
	got=$(jq -r '[.domains[0].findings[] | select(.severity != "info") | .code] | sort | join(" ")' "$T/out")
	got=$(slow_ok "$got" "$want_codes")
	if [ "$got" != "$want_codes" ]; then
		fail "$name" "codes [$got], want [$want_codes]"
		return
	fi
	# Every finding has the documented fields; every error/warning a fix.
	if ! jq -e 'all(.domains[0].findings[]; (.area | type == "string")
		and (.code | startswith("check-")) and (.message | type == "string")
		and (.severity == "info" or (.fix | type == "string")))' "$T/out" >/dev/null; then
		fail "$name" "a finding lacks a field: $(jq -c . "$T/out" | head -c 400)"
		return
	fi
	if [ -n "$golden" ]; then
		# Certificates are made when the world starts, and the test CA's
		# name holds the namespace name: replace both.
		jq 'del(.domains[].timings_ms) | walk(if type == "string" then
			gsub("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z"; "DATE")
			| gsub("mtsw-[0-9]+-[0-9a-f]+"; "NS") else . end)' "$T/out" >"$T/trim"
		[ -n "${UPDATE_GOLDEN:-}" ] && cp "$T/trim" "$GOLDEN/check-$golden.json"
		if ! cmp -s "$T/trim" "$GOLDEN/check-$golden.json"; then
			fail "$name" "differs from golden check-$golden.json"
			diff -u "$GOLDEN/check-$golden.json" "$T/trim" | head -30 | sed 's/^/     /'
			return
		fi
	fi
	pass "$name"
}

expect good good.test 1 enforcing "check-mx-unreachable check-policy-mx-unused check-tlsrpt-missing" good
expect testing testing.test 1 testing "check-mx-unreachable check-policy-mx-unused check-tlsrpt-missing" testing
expect nxdomain nxdomain.test 1 not-deployed "check-mx-unreachable check-sts-not-deployed check-tlsrpt-missing" nxdomain
expect "only an spf record" spfonly.test 1 not-deployed "check-mx-unreachable check-sts-not-deployed check-tlsrpt-missing"
expect "mode none" none.test 1 not-deployed "check-mx-unreachable check-policy-mode-none check-tlsrpt-missing"
expect untrusted untrusted.test 2 broken "check-mx-unreachable check-policy-host-tls check-tlsrpt-missing"
expect wrongname wrongname.test 2 broken "check-mx-unreachable check-policy-host-tls check-tlsrpt-missing"
expect expired expired.test 2 broken "check-mx-unreachable check-policy-host-tls check-tlsrpt-missing"
expect redirect redirect.test 2 broken "check-mx-unreachable check-policy-host-redirect check-tlsrpt-missing" redirect
expect notfound notfound.test 2 broken "check-mx-unreachable check-policy-host-status check-tlsrpt-missing"
expect html html.test 2 broken "check-mx-unreachable check-policy-host-content-type check-tlsrpt-missing"
expect oversized oversized.test 2 broken "check-mx-unreachable check-policy-host-too-large check-tlsrpt-missing"
expect refused refused.test 2 broken "check-mx-unreachable check-policy-host-unreachable check-tlsrpt-missing"
expect badpolicy badpolicy.test 2 broken \
	"check-mx-unreachable check-policy-invalid check-policy-missing-mode check-policy-no-colon check-tlsrpt-missing" badpolicy
expect blankline blankline.test 1 enforcing \
	"check-mx-unreachable check-policy-blank-line check-policy-deviation check-tlsrpt-missing"
expect multiple multiple.test 2 broken \
	"check-mx-unreachable check-sts-txt-multiple check-tlsrpt-missing check-txt-multiple-records"
expect servfail servfail.test 2 broken "check-mx-unreachable check-sts-txt-lookup-failed check-tlsrpt-missing"

# Several domains at once: one document, the worst exit, input order kept.
rc=0
mt check good.test badpolicy.test nxdomain.test --json --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 2 ] && jq -e '[.domains[].domain] == ["good.test", "badpolicy.test", "nxdomain.test"]
	and [.domains[].verdict] == ["enforcing", "broken", "not-deployed"] and .exit == 2' "$T/out" >/dev/null; then
	pass "three domains concurrently"
else
	fail "three domains concurrently" "exit $rc: $(jq -c '[.domains[] | [.domain, .verdict]]' "$T/out" 2>&1 | head -c 300)"
fi
# Text output: grouped by area, one header line per domain.
rc=0
mt check good.test --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>&1 || rc=$?
if [ "$rc" -eq 1 ] && head -1 "$T/out" | grep -q '^good.test: enforcing' &&
	grep -q '^  policy host$' "$T/out" && grep -q '^  _smtp._tls TXT record$' "$T/out"; then
	pass "text output"
else
	fail "text output" "exit $rc: $(head -c 300 "$T/out")"
fi
# --state: the first run records good.test's id and body hash; a state
# with the same id and another hash is a policy changed under the same id.
rc=0
rm -f "$T/state.json"
mt check good.test --json --state "$T/state.json" --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 1 ] && jq -e '.domains["good.test"] | (.id | length > 0)
	and (.sha256 | test("^[0-9a-f]{64}$")) and (.first_seen | endswith("Z"))
	and .last_seen == .first_seen' "$T/state.json" >/dev/null 2>&1 &&
	! jq -e '.domains[0].findings[] | select(.code == "check-policy-changed-same-id")' "$T/out" >/dev/null; then
	pass "--state records a domain"
else
	fail "--state records a domain" "exit $rc: $(head -c 300 "$T/state.json" 2>&1) $(head -c 200 "$T/err")"
fi
rc=0
mt check good.test --json --state "$T/state.json" --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 1 ] && ! jq -e '.domains[0].findings[] | select(.code == "check-policy-changed-same-id")' "$T/out" >/dev/null; then
	pass "--state: same id, same body"
else
	fail "--state: same id, same body" "exit $rc"
fi
jq '.domains["good.test"].sha256 = ("0" * 64) | .domains["good.test"].first_seen = "2020-01-01T00:00:00Z"' \
	"$T/state.json" >"$T/state2.json"
mv "$T/state2.json" "$T/state.json"
rc=0
mt check good.test --json --state "$T/state.json" --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 2 ] && jq -e '.domains[0].verdict == "broken" and ([.domains[0].findings[]
	| select(.code == "check-policy-changed-same-id" and .severity == "error" and .area == "policy"
	and (.fix | type == "string"))] | length == 1)' "$T/out" >/dev/null &&
	jq -e '.domains["good.test"].sha256 != ("0" * 64) and .domains["good.test"].first_seen != "2020-01-01T00:00:00Z"' \
		"$T/state.json" >/dev/null && [ -z "$(find "$T" -name 'state.json.tmp*')" ]; then
	pass "--state: body changed under the same id"
else
	fail "--state: body changed under the same id" "exit $rc: $(jq -c '[.domains[0].findings[] | select(.severity != "info") | .code]' "$T/out" 2>&1 | head -c 300)"
fi
printf '{"schema": 1}' >"$T/bad-state.json"
rc=0
mt check good.test --state "$T/bad-state.json" --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >/dev/null 2>"$T/err" || rc=$?
if [ "$rc" -eq 3 ] && grep -q 'not a state file' "$T/err"; then
	pass "--state: not a state file"
else
	fail "--state: not a state file" "exit $rc: $(head -c 200 "$T/err")"
fi

# -f FILE: JSON Lines, one mtasts-check/1 document per domain, in file
# order; no progress bar when stderr is not a terminal; the worst exit.
printf '# a comment\ngood.test\n\n  badpolicy.test  # trailing comment\nnxdomain.test\n' >"$T/list"
rc=0
mt check -f "$T/list" --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 2 ] && [ "$(wc -l <"$T/out")" -eq 3 ] && [ ! -s "$T/err" ] &&
	jq -s -e '[.[] | .schema == "mtasts-check/1" and (.domains | length == 1)] == [true, true, true]
	and [.[].domains[0].domain] == ["good.test", "badpolicy.test", "nxdomain.test"]
	and [.[].domains[0].verdict] == ["enforcing", "broken", "not-deployed"]
	and [.[].exit] == [1, 2, 1]' "$T/out" >/dev/null; then
	pass "-f FILE: JSON Lines"
else
	fail "-f FILE: JSON Lines" "exit $rc: $(head -c 300 "$T/out") $(head -c 200 "$T/err")"
fi
rc=0
mt check -f "$T/no-such-list" >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 66 ]; then pass "-f of a missing file"; else fail "-f of a missing file" "exit $rc"; fi

# Colour: never on a pipe unless asked; NO_COLOR is for auto only.
esc=$(printf '\033')
rc=0
mt check good.test --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>&1 || rc=$?
rc=0
mt check good.test --color=always --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/col" 2>&1 || rc=$?
if ! grep -q "$esc" "$T/out" && grep -q "^${esc}\[1mgood.test${esc}\[0m: ${esc}\[1;32menforcing" "$T/col" &&
	grep -q "${esc}\[33mwarning${esc}\[0m check-tlsrpt-missing" "$T/col" &&
	[ "$(sed "s/${esc}\[[0-9;]*m//g" "$T/col" | unslow)" = "$(unslow <"$T/out")" ]; then
	pass "--color=always; none on a pipe"
else
	fail "--color=always; none on a pipe" "exit $rc: $(head -c 300 "$T/col" | od -c | head -5)"
fi
rc=0
mt check good.test --color=sometimes >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 64 ]; then pass "--color: bad value"; else fail "--color: bad value" "exit $rc"; fi

# CNAME delegation of _mta-sts (two hops, the last into another zone):
# the first hop is reported; good.test has none.
rc=0
mt check cname.test --json --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 1 ] && jq -e '.domains[0].verdict == "enforcing" and ([.domains[0].findings[]
	| select(.code == "check-txt-cname" and .severity == "info" and .area == "sts-record"
	and (.message | contains("delegated to _mta-sts.alias.cname.test")))] | length == 1)
	and ([.domains[0].findings[] | select(.code == "check-sts-txt-ok" and (.message | endswith("id cname1")))] | length == 1)' \
	"$T/out" >/dev/null; then
	pass "CNAME delegation of _mta-sts"
else
	fail "CNAME delegation of _mta-sts" "exit $rc: $(jq -c '[.domains[0].findings[] | [.code, .message]]' "$T/out" 2>&1 | head -c 400)"
fi
rc=0
mt check good.test --json --ca-file "$MTSW_CA" --timeout "$TIMEOUT" >"$T/out" 2>"$T/err" || rc=$?
if ! jq -e '.domains[0].findings[] | select(.code == "check-txt-cname")' "$T/out" >/dev/null; then
	pass "no CNAME, no check-txt-cname"
else
	fail "no CNAME, no check-txt-cname" "exit $rc"
fi

# Usage.
rc=0
mt check >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 64 ]; then pass "usage (no domain)"; else fail "usage (no domain)" "exit $rc"; fi

# init --from-dns drafts the patterns from the MX records.
rc=0
rm -f "$T/p.txt"
mt init good.test --from-dns --mode enforce --output "$T/p.txt" >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" -eq 0 ] && [ "$(tr -d '\r' <"$T/p.txt")" = "$(printf 'version: STSv1\nmode: enforce\nmx: mail.good.test\nmax_age: 604800')" ]; then
	pass "init --from-dns"
else
	fail "init --from-dns" "exit $rc: $(head -c 200 "$T/err") $(head -c 200 "$T/p.txt" 2>/dev/null)"
fi
rc=0
mt init no-such-domain.test --from-dns --output "$T/q.txt" >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 2 ] && [ ! -e "$T/q.txt" ]; then
	pass "init --from-dns of a missing domain"
else
	fail "init --from-dns of a missing domain" "exit $rc"
fi

summary
