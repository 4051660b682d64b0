#!/bin/sh
# test_cli.sh MTASTS - the offline commands of the mtasts CLI against
# golden files (tests/golden/<case>.out: stdout, then "exit=N").
# Regenerate after an intended output change with:
#   UPDATE_GOLDEN=1 tests/integration/test_cli.sh build/mtasts
# and review the diff. Needs no root and no network.
set -u
mtasts=${1:?usage: test_cli.sh MTASTS}
here=$(cd "$(dirname "$0")" && pwd)
golden="$here/../golden"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
fail=0

# run NAME [STDIN-FILE|-] ARGS...: compare stdout + exit code with golden.
run() {
	name=$1 in=$2
	shift 2
	if [ "$in" = - ]; then
		"$mtasts" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	else
		"$mtasts" "$@" <"$in" >"$tmp/out" 2>"$tmp/err"
	fi
	echo "exit=$?" >>"$tmp/out"
	if [ -n "${UPDATE_GOLDEN:-}" ]; then
		cp "$tmp/out" "$golden/$name.out"
	fi
	if cmp -s "$tmp/out" "$golden/$name.out"; then
		echo "ok   $name"
		pass=$((pass + 1))
	else
		echo "FAIL $name"
		diff -u "$golden/$name.out" "$tmp/out" | sed 's/^/     /' | head -40
		fail=$((fail + 1))
	fi
}

# Policies (RFC-CHECKLIST.md vector IDs in the names).
printf 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n' >"$tmp/p01"
printf 'version: STSv1\nmode: enforce\n\nmx: mail.example.com\nmax_age: 86400\n' >"$tmp/blank"
printf 'version: STSv1\nmode: report\nmx: a.example.com\nmax_age: 86400' >"$tmp/p19"
printf 'version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 0086400\nmax_age: 1\n' >"$tmp/p34"
run policy-p01-text "$tmp/p01" lint policy
run policy-p01-json "$tmp/p01" lint policy --json
run policy-p01-file - lint policy "$tmp/p01" --json
run policy-blank-line-text "$tmp/blank" lint policy
run policy-blank-line-json "$tmp/blank" lint policy --json
run policy-p19-invalid "$tmp/p19" lint policy --json
run policy-p34-leading-zeros "$tmp/p34" lint policy --json
run policy-missing-file - lint policy "$tmp/does-not-exist"
run policy-empty - lint policy --json

# _mta-sts records, one argument per RR as dig +short prints it.
run sts-t01 - lint sts-record '"v=STSv1; id=20160831085700Z;"'
run sts-t01-json - lint sts-record --json '"v=STSv1; id=20160831085700Z;"'
run sts-t32-split - lint sts-record --json '"v=STS" "v1; id=abc"'
run sts-t34-multiple - lint sts-record --json '"v=STSv1; id=abc"' '"v=STSv1; id=def"'
run sts-t35-spf - lint sts-record --json '"v=spf1 -all"' '"v=STSv1; id=abc"'
run sts-t37-discard - lint sts-record --json '"v=STSv1; id=abc"' '"v=STSv1 ; id=def"'
run sts-t04-trailing-space - lint sts-record '"v=STSv1; id=abc "'
run sts-t44-non-ascii - lint sts-record '"v=STSv1; id=abc; note=caf\195\169"'
run sts-bare-word - lint sts-record 'v=STSv1;id=bare'
run sts-bad-escape - lint sts-record '"v=STSv1; id=\999"'

# _smtp._tls records.
run tlsrpt-r01 - lint tlsrpt-record --json '"v=TLSRPTv1;rua=mailto:reports@example.com"'
run tlsrpt-r04-two - lint tlsrpt-record '"v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.com/v1"'
run tlsrpt-r10-bang - lint tlsrpt-record --json '"v=TLSRPTv1; rua=mailto:a@example.com!10m"'
run tlsrpt-r13-two-records - lint tlsrpt-record '"v=TLSRPTv1; rua=mailto:a@example.com"' '"v=TLSRPTv1; rua=mailto:b@example.com"'

# MX matching (RFC 8461 4.1).
run match-m01 - match mail.example.com mail.example.com
run match-m04 - match '*.example.com' mail.example.com
run match-m05 - match '*.example.com' example.com
run match-m08-root-dot - match mail.example.com MAIL.Example.COM.
run match-m13 - match '*.example.com' mail.notexample.com
run match-m16-two-labels - match '*.example.com' a.b.example.com
run match-m19-idn - match xn--bcher-kva.example bücher.example
run match-bad-pattern - match 'mail.*.example.com' mail.x.example.com

# Usage errors.
run usage-none - 
run usage-unknown - frobnicate
run usage-lint-kind - lint
run usage-query-no-domain - query
run usage-bad-timeout - query example.com --timeout 0
run usage-match-args - match onlyone

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
