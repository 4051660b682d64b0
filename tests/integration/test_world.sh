#!/bin/bash
# shellcheck disable=SC2119 # require_root_and_tools takes extra tools, not $@
# test_world.sh: check the test world itself, with dig and curl, without the
# mtasts CLI: every DNS case answers as designed and every policy host serves
# what it should (status, content type, body, certificate verdict).
# Prints one ok/FAIL line per check, then "N passed, M failed".
# Exit: 0 all passed, 1 some failed, 77 skipped (not root / tools missing).
set -eu

. "$(dirname "$0")/lib.sh"
require_root_and_tools

world_up
S=$MTSW_DIR
T=$S/t
mkdir -p "$T"

# The never-answering name takes seconds to prove; ask it in the background
# now and collect the result at the end.
in_world dig +time=4 +tries=1 TXT _mta-sts.timeout.test >"$T/timeout.dig" 2>&1 &
timeout_dig=$!
timeout_start=$(now_ms)

# ---------------------------------------------------------------- world
check "namespace has only a loopback interface" \
	test "$(in_world ip -o link show | awk -F': ' '{print $2}')" = lo
check "resolv.conf in the namespace names 127.0.0.1" \
	test "$(in_world cat /etc/resolv.conf)" = "nameserver 127.0.0.1"

# ---------------------------------------------------------------- DNS

# dns NAME QTYPE QNAME STATUS [RDATA...]: the answer to QNAME/QTYPE has
# STATUS, and its answer section is exactly the RDATA lines ("TYPE rdata",
# in any order).
dns() {
	local name=$1 qtype=$2 qname=$3 want_status=$4 out status got want
	shift 4
	out=$(in_world dig +time=2 +tries=1 +noall +comments +answer "$qtype" "$qname" 2>&1) || true
	status=$(printf '%s\n' "$out" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')
	got=$(printf '%s\n' "$out" | grep -v '^;' | grep . |
		sed -E 's/^[^[:space:]]+[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+([A-Z]+)[[:space:]]+/\1 /' |
		LC_ALL=C sort)
	want=$(if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi | LC_ALL=C sort)
	if [ "$status" != "$want_status" ]; then
		fail "dns $name" "status ${status:-none}, want $want_status"
	elif [ "$got" != "$want" ]; then
		fail "dns $name" "answer [$got], want [$want]"
	else
		pass "dns $name"
	fi
}

dns good TXT _mta-sts.good.test NOERROR 'TXT "v=STSv1; id=good1;"'
dns multistring TXT _mta-sts.multistring.test NOERROR 'TXT "v=STSv1; " "id=multi1"'
dns spf TXT _mta-sts.spf.test NOERROR 'TXT "v=STSv1; id=spf1;"' 'TXT "v=spf1 -all"'
dns spfonly TXT _mta-sts.spfonly.test NOERROR 'TXT "v=spf1 -all"'
dns multiple TXT _mta-sts.multiple.test NOERROR \
	'TXT "v=STSv1; id=multi1;"' 'TXT "v=STSv1; id=multi2;"'
dns badtxt TXT _mta-sts.badtxt.test NOERROR 'TXT "v=STSv1; id="'
dns nxdomain TXT _mta-sts.nxdomain.test NXDOMAIN
dns "nxdomain (domain itself exists)" MX nxdomain.test NOERROR 'MX 10 mail.nxdomain.test.'
dns nodata TXT _mta-sts.nodata.test NOERROR
dns "nodata (name exists)" A _mta-sts.nodata.test NOERROR 'A 127.0.0.254'
dns cname TXT _mta-sts.cname.test NOERROR \
	'CNAME _mta-sts.alias.cname.test.' \
	'CNAME cname-test.sts.provider.test.' \
	'TXT "v=STSv1; id=cname1;"'
dns servfail TXT _mta-sts.servfail.test SERVFAIL
dns idn TXT _mta-sts.xn--bcher-kva.test NOERROR 'TXT "v=STSv1; id=idn1;"'
# Every policy host has its own address ($S/addrs: "host address" lines).
while read -r h addr; do
	dns "A $h" A "$h" NOERROR "A $addr"
done <"$S/addrs"
dns "good MX" MX good.test NOERROR 'MX 10 mail.good.test.'

# ---------------------------------------------------------------- HTTPS

URL_PATH=/.well-known/mta-sts.txt

# fetch DOMAIN [CAFILE] [CURL-ARGS...]: GET the policy of DOMAIN inside the
# namespace. Sets RC (curl's exit code), CODE, CTYPE, LOCATION; the
# body is in $T/body, headers in $T/headers, curl's errors in $T/err.
fetch() {
	local d=$1 ca=${2:-$S/ca.pem} w
	shift $(($# >= 2 ? 2 : 1))
	RC=0
	w=$(in_world curl -sS --max-time 3 --cacert "$ca" "$@" \
		-o "$T/body" -D "$T/headers" \
		-w '%{http_code}|%{content_type}|%{size_download}|%{redirect_url}' \
		"https://mta-sts.$d$URL_PATH" 2>"$T/err") || RC=$?
	IFS='|' read -r CODE CTYPE _ LOCATION <<EOF
$w
EOF
}

# serves NAME DOMAIN CODE CONTENT-TYPE [BODYFILE]: the policy host of DOMAIN
# answers CODE with CONTENT-TYPE (and exactly BODYFILE as the body).
serves() {
	local name=$1 d=$2 code=$3 ctype=$4 body=${5:-}
	fetch "$d"
	if [ "$RC" -ne 0 ]; then
		fail "https $name" "curl exit $RC: $(head -n1 "$T/err")"
	elif [ "$CODE" != "$code" ]; then
		fail "https $name" "HTTP $CODE, want $code"
	elif [ "$CTYPE" != "$ctype" ]; then
		fail "https $name" "Content-Type '$CTYPE', want '$ctype'"
	elif [ -n "$body" ] && ! cmp -s "$T/body" "$body"; then
		fail "https $name" "body differs from $body"
	else
		pass "https $name"
	fi
}

# tls_rejected NAME DOMAIN MESSAGE: curl refuses the certificate of DOMAIN's
# policy host (exit 60) with MESSAGE.
tls_rejected() {
	local name=$1 d=$2 msg=$3
	fetch "$d"
	if [ "$RC" -ne 60 ]; then
		fail "https $name" "curl exit $RC, want 60 (certificate problem)"
	elif ! grep -q "$msg" "$T/err"; then
		fail "https $name" "curl said '$(head -n1 "$T/err")', want '$msg'"
	else
		pass "https $name"
	fi
}

P=$S/policies
for d in good multistring spf spfonly multiple badtxt nxdomain nodata cname \
	servfail timeout xn--bcher-kva crlf wildcard testing none badpolicy blankline; do
	serves "$d" "$d.test" 200 text/plain "$P/$d.test.txt"
done
serves charset charset.test 200 "text/plain; charset=utf-8" "$P/charset.test.txt"
serves html html.test 200 text/html "$P/html.test.txt"
serves notfound notfound.test 404 text/html
serves servererror servererror.test 500 text/html
serves oversized oversized.test 200 text/plain "$P/oversized.test.txt"
check "oversized body is 70000 bytes" test "$(wc -c <"$P/oversized.test.txt")" -eq 70000
check "crlf policy has CRLF line endings" \
	test "$(tr -cd '\r' <"$P/crlf.test.txt" | wc -c)" -eq 5
check "blankline policy has a blank third line" \
	test "$(sed -n 3p "$P/blankline.test.txt")" = ""

fetch redirect.test
if [ "$RC" -eq 0 ] && [ "$CODE" = 301 ] &&
	[ "$LOCATION" = "https://mta-sts.redirect.test/policy.txt" ]; then
	pass "https redirect (301)"
else
	fail "https redirect (301)" "curl exit $RC, HTTP $CODE, Location '$LOCATION'"
fi
fetch redirect.test "$S/ca.pem" -L
if [ "$RC" -eq 0 ] && [ "$CODE" = 200 ] && cmp -s "$T/body" "$P/redirect.test.txt"; then
	pass "https redirect target is a valid policy"
else
	fail "https redirect target is a valid policy" "curl exit $RC, HTTP $CODE"
fi

tls_rejected untrusted untrusted.test "unable to get local issuer certificate"
fetch untrusted.test "$S/rogue-ca/ca.pem"
if [ "$RC" -eq 0 ] && [ "$CODE" = 200 ]; then
	pass "https untrusted host is fine under its own CA"
else
	fail "https untrusted host is fine under its own CA" "curl exit $RC, HTTP $CODE"
fi
tls_rejected wrongname wrongname.test "no alternative certificate subject name matches"
tls_rejected expired expired.test "certificate has expired"
check "wildcard certificate names *.wildcard.test only" \
	sh -c "openssl x509 -noout -ext subjectAltName -in '$S/certs/mta-sts.wildcard.test.pem' |
		grep -qx '[[:space:]]*DNS:\*\.wildcard\.test'"

fetch refused.test
if [ "$RC" -eq 7 ]; then
	pass "https refused (connection refused)"
else
	fail "https refused (connection refused)" "curl exit $RC, want 7"
fi

# slow: headers arrive at once, the body does not finish within 2 s.
t0=$(now_ms)
in_world curl -sS --max-time 2 --cacert "$S/ca.pem" -o "$T/body" -D "$T/headers" \
	"https://mta-sts.slow.test$URL_PATH" 2>"$T/err" && RC=0 || RC=$?
t1=$(now_ms)
if [ "$RC" -eq 28 ] && grep -q '^HTTP/1.1 200' "$T/headers" &&
	[ "$(wc -c <"$T/body")" -lt 4096 ] && [ $((t1 - t0)) -lt 3000 ]; then
	pass "https slow (headers, then a trickle)"
else
	fail "https slow (headers, then a trickle)" \
		"curl exit $RC after $((t1 - t0)) ms, $(wc -c <"$T/body") body bytes"
fi

# ---------------------------------------------------------------- timeout
rc=0
wait "$timeout_dig" || rc=$?
elapsed=$(($(now_ms) - timeout_start))
if [ "$rc" -eq 9 ] && ! grep -q 'status:' "$T/timeout.dig"; then
	pass "dns timeout (no answer within 4 s)"
else
	fail "dns timeout (no answer within 4 s)" \
		"dig exit $rc after $elapsed ms: $(grep -m1 'status:\|error' "$T/timeout.dig")"
fi

summary
