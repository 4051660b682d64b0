#!/bin/bash
# test_check_golden.sh MTASTS: the TEXT output of `mtasts check` for
# several world domains against golden files tests/golden/check/DOMAIN.txt
# (stdout, then "exit=N"). Needs the SMTP part of the world (MTSW_SMTP),
# since the verdicts enforcing and ready-for-enforce need MX hosts that
# answer STARTTLS.
#
# Normalisation (the same sed for the run and, implicitly, the golden
# file; docs/check.md "Golden text output"):
#   - dates of certificates made at test time (RFC 3339, ...Z) -> DATE; the
#     fixed dates of the expired certificates (2020-01-01T00:00:00Z,
#     2021-01-01T00:00:00Z) are kept
#   - the namespace name in the test CA's name (mtsw-PID-HEX) -> NS
#   - addresses 127.0.0.N handed out in definition order -> 127.0.0.X
#     (127.0.0.254, every mail.<d> without a server, is fixed and kept)
#   - the cipher after a TLS version ("TLSv1.3 TLS_AES_256_GCM_SHA384")
#     -> CIPHER: OpenSSL picks it by the CPU (AES-NI or ChaCha20)
# Nothing else varies: the text has no timings and no paths. Codes,
# severities, verdicts, counts, messages and fixes are compared as they are.
# Each case also checks that the raw text has no ANSI escape (stdout is a
# file: --color=auto must not colour) and that the text lists exactly the
# findings of the --json run (severity and code, in order) and its verdict.
# Colour on a terminal (script(1)): auto colours, NO_COLOR turns it off.
#
# Regenerate after an intended change with
#   UPDATE_GOLDEN=1 tests/integration/test_check_golden.sh build/mtasts
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
GOLDEN=$(cd "$(dirname "$0")/../golden" && pwd)/check
require_root_and_tools jq timeout postfix postconf

export MTSW_SMTP=standin
world_up
T=$MTSW_DIR/t
mkdir -p "$T"
HARD_TIMEOUT=${MTSW_HARD_TIMEOUT:-30}
ESC=$(printf '\033')

mt() {
	timeout -k 2 "$HARD_TIMEOUT" ip netns exec "$MTSW_NS" "$MTASTS" "$@" \
		--resolver "$MTSW_RESOLVER"
}

# normalise < RAW > TEXT: see the header.
normalise() {
	sed -E \
		-e 's/2020-01-01T00:00:00Z/@FIXED2020@/g; s/2021-01-01T00:00:00Z/@FIXED2021@/g' \
		-e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/DATE/g' \
		-e 's/@FIXED2020@/2020-01-01T00:00:00Z/g; s/@FIXED2021@/2021-01-01T00:00:00Z/g' \
		-e 's/mtsw-[0-9]+-[0-9a-f]+/NS/g' \
		-e 's/127\.0\.0\.254([^0-9]|$)/@MX254@\1/g' \
		-e 's/127\.0\.0\.[0-9]{1,3}/127.0.0.X/g' \
		-e 's/@MX254@/127.0.0.254/g' \
		-e 's/(TLSv1(\.[0-3])?) [A-Za-z0-9_-]+/\1 CIPHER/g'
}

# golden DOMAIN...: text run, normalised, against
# tests/golden/check/DOMAIN.txt (several domains: the names joined by "+").
golden() {
	local d rc=0 jrc=0 want got
	d=$(IFS=+; echo "$*")
	mt check "$@" --ca-file "$MTSW_CA" --timeout 5 >"$T/raw" 2>"$T/err" || rc=$?
	if [ -s "$T/err" ]; then
		fail "$d" "stderr not empty: $(head -c 200 "$T/err")"
		return
	fi
	if grep -q "$ESC" "$T/raw"; then
		fail "$d" "ANSI escapes although stdout is not a terminal"
		return
	fi
	{
		normalise <"$T/raw"
		echo "exit=$rc"
	} >"$T/text"
	[ -z "${UPDATE_GOLDEN:-}" ] || cp "$T/text" "$GOLDEN/$d.txt"
	if ! cmp -s "$T/text" "$GOLDEN/$d.txt"; then
		fail "$d" "differs from golden check/$d.txt"
		diff -u "$GOLDEN/$d.txt" "$T/text" | head -40 | sed 's/^/     /'
		return
	fi
	# The text and the JSON report the same findings and verdict.
	mt check "$@" --json --ca-file "$MTSW_CA" --timeout 5 >"$T/json" 2>/dev/null || jrc=$?
	want=$(jq -r '.domains[] | "\(.domain): \(.verdict)", (.findings[] | "\(.severity) \(.code)")' "$T/json")
	got=$(sed -nE 's/^([^ ].*): ([a-z-]+) \(.*$/\1: \2/p; s/^    (error|warning|info) +([a-z0-9-]+): .*/\1 \2/p' "$T/raw")
	if [ "$jrc" -ne "$rc" ] || [ "$want" != "$got" ]; then
		fail "$d" "text and --json disagree (exit $rc/$jrc): $(diff <(echo "$want") <(echo "$got") | head -10 | tr '\n' ' ')"
		return
	fi
	pass "$d: golden text, same findings as --json (exit $rc)"
}

# not deployed
golden nxdomain.test
golden none.test
# broken: policy host and policy
golden redirect.test
golden badpolicy.test
golden untrusted.test
# testing (warnings) and ready for enforce (none)
golden e2e-testing.test
golden check-ready.test
# enforcing
golden e2e-good.test
# MX defects under enforce
golden e2e-nostarttls.test
golden e2e-untrusted.test
golden e2e-expired.test
golden e2e-wrongname.test
golden e2e-deep.test
golden check-tls10.test
# Two domains: an empty line between them, in the order given, the worst exit.
golden check-ready.test nxdomain.test

# The TLS 1.0 MX host really offers nothing newer (a check of the world
# itself): openssl s_client gets TLS 1.0, and no handshake with 1.2 only.
addr=$(awk '$1 == "mail.check-tls10.test" { print $2 }' "$MTSW_SMTP_DIR/mxhosts")
s_client() {
	printf 'QUIT\r\n' | timeout -k 2 10 ip netns exec "$MTSW_NS" openssl s_client \
		-starttls smtp -connect "$addr:25" -cipher 'DEFAULT:@SECLEVEL=0' "$@" 2>&1
}
if s_client -tls1 | grep -q 'Protocol *: TLSv1$' && ! s_client -tls1_2 >/dev/null &&
	! s_client -tls1_3 >/dev/null; then
	pass "mail.check-tls10.test offers TLS 1.0 only"
else
	fail "mail.check-tls10.test offers TLS 1.0 only" "$(s_client -tls1 | grep -i protocol | head -3)"
fi
# And check reports what it negotiated, in the JSON too.
rc=0
mt check check-tls10.test --json --ca-file "$MTSW_CA" --timeout 5 >"$T/out" 2>&1 || rc=$?
if [ "$rc" -eq 2 ] && jq -e '.domains[0] | .verdict == "broken"
	and (.mx_hosts[0].addresses[0] | .status == "OK" and .tls.version == "TLSv1"
		and .tls.tls12_or_newer == false and .certificate.ok)
	and ([.findings[] | select(.severity == "error") | .code] == ["check-mx-tls-too-old"])
	and any(.findings[]; .code == "check-mx-tls-too-old" and .area == "mx"
		and (.message | contains("negotiated TLSv1:")))' "$T/out" >/dev/null; then
	pass "check-mx-tls-too-old for a TLS 1.0 MX (JSON)"
else
	fail "check-mx-tls-too-old for a TLS 1.0 MX (JSON)" "exit $rc: $(jq -c '.domains[0].mx_hosts' "$T/out" 2>&1 | head -c 400)"
fi
# Under mode testing the same defect would be a warning; not in the world,
# the severity rule is covered by e2e-testing.test.

# The comparison can fail: a changed code, verdict or severity in the
# output is not normalised away.
sed 's/check-mx-tls-too-old/check-mx-tls-failed/' "$GOLDEN/check-tls10.test.txt" >"$T/m1"
sed 's/: broken (/: enforcing (/' "$GOLDEN/check-tls10.test.txt" >"$T/m2"
sed 's/^    error   /    warning /' "$GOLDEN/check-tls10.test.txt" >"$T/m3"
if ! cmp -s "$T/m1" "$GOLDEN/check-tls10.test.txt" && ! cmp -s "$T/m2" "$GOLDEN/check-tls10.test.txt" &&
	! cmp -s "$T/m3" "$GOLDEN/check-tls10.test.txt" &&
	[ "$(normalise <"$T/m1")" = "$(cat "$T/m1")" ] && [ "$(normalise <"$T/m2")" = "$(cat "$T/m2")" ] &&
	[ "$(normalise <"$T/m3")" = "$(cat "$T/m3")" ]; then
	pass "normalisation keeps codes, verdicts and severities"
else
	fail "normalisation keeps codes, verdicts and severities" "a mutation was normalised away"
fi

# Colour on a terminal: script(1) gives the CLI a pty as stdout.
if command -v script >/dev/null 2>&1; then
	tty_run() {
		timeout -k 2 "$HARD_TIMEOUT" script -qec "$*" /dev/null </dev/null
	}
	tty_run env -u NO_COLOR ip netns exec "$MTSW_NS" "$MTASTS" check check-ready.test \
		--ca-file "$MTSW_CA" --timeout 5 --resolver "$MTSW_RESOLVER" >"$T/tty" 2>&1 || true
	tty_run env NO_COLOR=1 ip netns exec "$MTSW_NS" "$MTASTS" check check-ready.test \
		--ca-file "$MTSW_CA" --timeout 5 --resolver "$MTSW_RESOLVER" >"$T/tty-nc" 2>&1 || true
	if grep -q "${ESC}\[1;32mready-for-enforce" "$T/tty" && grep -q 'ready-for-enforce' "$T/tty-nc" &&
		! grep -q "$ESC" "$T/tty-nc"; then
		pass "--color=auto: colour on a terminal, none with NO_COLOR"
	else
		fail "--color=auto: colour on a terminal, none with NO_COLOR" "$(head -c 200 "$T/tty" | od -c | head -4)"
	fi
fi

summary
