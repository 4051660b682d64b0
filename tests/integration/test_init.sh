#!/bin/sh
# test_init.sh MTASTS - `mtasts init` and `mtasts policy id` against golden
# files (tests/golden/init-<case>.out: stdout, then "exit=N", then the
# policy file written, if any), and every generated artefact checked with
# the CLI's own linters: the policy file (`lint policy`), the `_mta-sts`
# and `_smtp._tls` records (`lint sts-record`, `lint tlsrpt-record`), the
# id (`policy id` of the file = the id in the record), and the nginx block
# (`nginx -t`, when nginx is installed).
# Regenerate after an intended output change with:
#   UPDATE_GOLDEN=1 tests/integration/test_init.sh build/mtasts
# Needs no root and no network (--from-dns is covered by test_check.sh).
set -u
mtasts=${1:?usage: test_init.sh MTASTS}
case $mtasts in /*) ;; *) mtasts=$PWD/$mtasts ;; esac
here=$(cd "$(dirname "$0")" && pwd)
golden="$here/../golden"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
fail=0

ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

# run NAME ARGS...: run in a fresh directory, compare stdout + exit code +
# the policy file written (mta-sts.txt or the --output name "out.txt").
run() {
	name=$1
	shift
	rm -rf "$tmp/w" && mkdir "$tmp/w"
	(cd "$tmp/w" && "$mtasts" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null)
	echo "exit=$?" >>"$tmp/out"
	for f in mta-sts.txt out.txt; do
		if [ -f "$tmp/w/$f" ]; then
			echo "--- $f" >>"$tmp/out"
			cat "$tmp/w/$f" >>"$tmp/out"
		fi
	done
	if [ -n "${UPDATE_GOLDEN:-}" ]; then
		cp "$tmp/out" "$golden/init-$name.out"
	fi
	if cmp -s "$tmp/out" "$golden/init-$name.out"; then
		ok "$name"
	else
		bad "$name" "differs from golden (stderr: $(head -c 200 "$tmp/err"))"
		diff -u "$golden/init-$name.out" "$tmp/out" | sed 's/^/     /' | head -40
	fi
}

# artefacts NAME [POLICY-FILE]: lint what the last run produced.
artefacts() {
	name=$1 pf=${2:-mta-sts.txt}
	if "$mtasts" lint policy "$tmp/w/$pf" >/dev/null 2>&1; then
		ok "$name: policy passes lint policy"
	else
		bad "$name" "lint policy: $("$mtasts" lint policy "$tmp/w/$pf" 2>&1 | tr '\n' ' ')"
	fi
	# The file must use CRLF on every line.
	if [ "$(tr -cd '\r' <"$tmp/w/$pf" | wc -c)" -eq "$(wc -l <"$tmp/w/$pf")" ]; then
		ok "$name: CRLF line endings"
	else
		bad "$name" "not CRLF on every line"
	fi
	sts=$(sed -n 's/^_mta-sts\.[^ ]* 3600 IN TXT //p' "$tmp/out")
	# One argument = one RR in presentation form (its strings quoted).
	if [ -n "$sts" ] && "$mtasts" lint sts-record "$sts" >/dev/null 2>&1; then
		ok "$name: _mta-sts record passes lint sts-record"
	else
		bad "$name" "lint sts-record of [$sts]"
	fi
	id=$("$mtasts" policy id "$tmp/w/$pf" 2>/dev/null)
	case $sts in
	*"id=$id;"*) ok "$name: record id = policy id ($id)" ;;
	*) bad "$name" "record [$sts] does not carry the policy id $id" ;;
	esac
	rpt=$(sed -n 's/^_smtp\._tls\.[^ ]* 3600 IN TXT //p' "$tmp/out")
	if [ -n "$rpt" ]; then
		if "$mtasts" lint tlsrpt-record "$rpt" >/dev/null 2>&1; then
			ok "$name: _smtp._tls record passes lint tlsrpt-record"
		else
			bad "$name" "lint tlsrpt-record of [$rpt]"
		fi
	fi
}

# nginx_t NAME: the printed server block loads in nginx (nginx -t).
nginx_t() {
	name=$1
	if ! command -v nginx >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
		echo "skip $name: nginx -t (nginx or openssl not installed)"
		return
	fi
	mkdir -p "$tmp/ng/logs"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mta-sts.test \
		-keyout "$tmp/ng/key.pem" -out "$tmp/ng/cert.pem" >/dev/null 2>&1
	{
		echo "error_log $tmp/ng/logs/error.log; pid $tmp/ng/nginx.pid;"
		echo "events {}"
		echo "http { access_log off;"
		sed -n '/^server {/,/^}/p' "$tmp/out" |
			sed "s|/etc/ssl/[^;]*/fullchain.pem|$tmp/ng/cert.pem|; s|/etc/ssl/[^;]*/privkey.pem|$tmp/ng/key.pem|"
		echo "}"
	} >"$tmp/ng/nginx.conf"
	if nginx -t -q -p "$tmp/ng" -c "$tmp/ng/nginx.conf" >"$tmp/ng/t.out" 2>&1; then
		ok "$name: nginx -t accepts the server block"
	else
		bad "$name" "nginx -t: $(head -c 300 "$tmp/ng/t.out")"
	fi
}

run basic init example.com --mx mail.example.com '*.Example.NET'
artefacts basic
nginx_t basic
run enforce-rua init example.com --mode enforce --max-age 86400 \
	--mx mail.example.com backup.example.com --rua reports@example.com \
	https://tlsrpt.example.com/v1 --output out.txt
artefacts enforce-rua out.txt
run idn init bücher.example --mx mx.bücher.example. '*.mx.BÜCHER.example' --max-age 2w
artefacts idn
run none init example.com --mode none --mx=mail.example.com
artefacts none
run duplicate-patterns init example.com --mx mail.example.com MAIL.example.com. --max-age 0
artefacts duplicate-patterns
run long-rua init example.com --mx mail.example.com --rua \
	mailto:a-very-long-local-part-for-tls-reports-number-one@reports.example.com \
	mailto:a-very-long-local-part-for-tls-reports-number-two@reports.example.com \
	mailto:a-very-long-local-part-for-tls-reports-number-three@reports.example.com \
	mailto:a-very-long-local-part-for-tls-reports-number-four@reports.example.com
artefacts long-rua

# Never overwrite without --force.
rm -rf "$tmp/w" && mkdir "$tmp/w" && printf 'keep me\n' >"$tmp/w/mta-sts.txt"
(cd "$tmp/w" && "$mtasts" init example.com --mx mail.example.com >/dev/null 2>&1)
rc=$?
if [ "$rc" -eq 73 ] && [ "$(cat "$tmp/w/mta-sts.txt")" = "keep me" ]; then
	ok "existing file kept (exit 73)"
else
	bad "existing file kept" "exit $rc, file: $(head -c 40 "$tmp/w/mta-sts.txt")"
fi
(cd "$tmp/w" && "$mtasts" init example.com --mx mail.example.com --force >/dev/null 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && "$mtasts" lint policy "$tmp/w/mta-sts.txt" >/dev/null 2>&1; then
	ok "--force replaces it"
else
	bad "--force replaces it" "exit $rc"
fi

# Refused input: nothing written.
run bad-pattern init example.com --mx 'mail.*.example.com'
run bad-pattern-underscore init example.com --mx mail_1.example.com
run bad-mode init example.com --mx mail.example.com --mode report
run bad-max-age init example.com --mx mail.example.com --max-age 31557601
run bad-rua init example.com --mx mail.example.com --rua 'mailto:no-at-sign'
run no-mx init example.com
run no-domain init --mx mail.example.com
run bad-domain init 'exa mple.com' --mx mail.example.com
run tld-only init com --mx mail.example.com

# policy id: stdin and file; the id of an invalid policy is printed too.
printf 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 86400\r\n' >"$tmp/valid"
printf 'version: STSv1\nmode: enforce\n\nmx: mail.example.com\nmax_age: 86400\n' >"$tmp/blank"
printf 'version: STSv1\nmode enforce\nmx: mail.example.com\nmax_age: 86400\n' >"$tmp/invalid"
for c in valid blank invalid; do
	{
		"$mtasts" policy id <"$tmp/$c" 2>/dev/null
		echo "exit=$?"
		"$mtasts" policy id "$tmp/$c" 2>/dev/null
		echo "exit=$?"
	} >"$tmp/out"
	[ -n "${UPDATE_GOLDEN:-}" ] && cp "$tmp/out" "$golden/init-policy-id-$c.out"
	if cmp -s "$tmp/out" "$golden/init-policy-id-$c.out"; then
		ok "policy id $c"
	else
		bad "policy id $c" "got $(tr '\n' ' ' <"$tmp/out")"
	fi
done
# The id follows the content: one byte more, another id.
a=$("$mtasts" policy id "$tmp/valid")
printf 'x: y\r\n' >>"$tmp/valid"
b=$("$mtasts" policy id "$tmp/valid")
if [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ]; then
	ok "policy id changes with the content"
else
	bad "policy id changes with the content" "$a vs $b"
fi
"$mtasts" policy id "$tmp/does-not-exist" >/dev/null 2>&1
rc=$?
if [ "$rc" -eq 66 ]; then ok "policy id: missing file exits 66"; else bad "policy id: missing file" "exit $rc"; fi
"$mtasts" policy >/dev/null 2>&1
rc=$?
if [ "$rc" -eq 64 ]; then ok "policy: usage exits 64"; else bad "policy: usage" "exit $rc"; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
