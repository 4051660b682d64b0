#!/bin/bash
# test_report_html.sh PATH/TO/mtasts: receiving TLS reports (issue 7).
#
#  1. `mtasts report serve` over HTTPS (a certificate made here) on
#     127.0.0.1: the fixtures of tests/fixtures/tlsrpt/html POSTed with
#     curl as application/tlsrpt+json and +gzip (201), again (200),
#     garbage (400), a wrong type (415), too big (413), GET (405); then
#     SIGTERM stops it cleanly. A second server in plain HTTP mode (for a
#     reverse proxy) with a burst of 2 answers 429 on the third request.
#  2. `mtasts report html` writes the page; it has no script and no
#     external resource, and the hostile sender's name is text.
#  3. headless Chromium renders it: `--dump-dom` must hold the verdicts
#     and numbers, and the screenshot (decoded with a small pure-Python
#     PNG reader) must show the failure-coloured bars where the bar chart
#     is, the first series' line colour, and not be blank.
# Loopback only; every wait is bounded; servers are killed by PID.
# Exit: 0 all passed, 1 a check failed, 77 skipped (a tool is missing).

# pass/fail always succeed, so `A && pass || fail` is an if-then-else here.
# shellcheck disable=SC2015
set -u

MTASTS=${1:?usage: test_report_html.sh PATH/TO/mtasts}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FIX="$HERE/../fixtures/tlsrpt/html"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
for t in curl openssl python3 gzip timeout; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "SKIP: $t not installed" >&2
		exit 77
	fi
done
if [ -z "$CHROMIUM" ]; then
	echo "SKIP: chromium not installed" >&2
	exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/mts-rpthtml.XXXXXX")
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$T"
}
# shellcheck disable=SC2154 # rc is set in the trap itself
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

DB="$T/tlsrpt.db"

# start_server NAME ARGS...: run `mtasts report serve` in the background,
# wait (at most 10 s) for its "listening on" line; sets PORT and SPID.
start_server() {
	local name=$1 _
	shift
	"$MTASTS" report serve "$@" >"$T/$name.out" 2>"$T/$name.err" &
	SPID=$!
	PIDS+=("$SPID")
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/$name.out")
		[ -n "$PORT" ] && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	echo "server $name did not start:" >&2
	cat "$T/$name.err" >&2
	return 1
}

# stop_server: SIGTERM, wait at most 10 s; \return its exit status.
stop_server() {
	local _
	kill -TERM "$SPID" 2>/dev/null
	for _ in $(seq 1 100); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SPID" 2>/dev/null; then
		kill -KILL "$SPID"
		wait "$SPID" 2>/dev/null
		return 124
	fi
	wait "$SPID"
}

# post URL TYPE FILE: print the HTTP status.
post() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 20 --noproxy '*' \
		--cacert "$T/cert.pem" -H "Content-Type: $2" -H 'Expect:' \
		--data-binary "@$3" "$1"
}

expect_status() {
	local name=$1 want=$2 got=$3
	if [ "$got" = "$want" ]; then
		pass "$name ($got)"
	else
		fail "$name" "got HTTP $got, want $want"
	fi
}

# ---- 1. the receiver ----
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$T/key.pem" -out "$T/cert.pem" -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1 ||
	{ echo "openssl req failed" >&2; exit 1; }

if start_server tls --db "$DB" --listen 127.0.0.1:0 --path /tlsrpt \
	--tls-cert "$T/cert.pem" --tls-key "$T/key.pem" --max-size 65536 \
	--rate 600/min --burst 100 -v; then
	pass "serve: listening with TLS on port $PORT"
else
	fail "serve" "did not start"
	summary
	exit 1
fi
grep -q '(https)$' "$T/tls.out" && pass "serve: says https" ||
	fail "serve: says https" "$(cat "$T/tls.out")"
URL="https://127.0.0.1:$PORT/tlsrpt"

# D02: plain JSON; D01: gzip (first bytes 1f 8b)
expect_status "POST json google 11-01" 201 \
	"$(post "$URL" application/tlsrpt+json "$FIX/google-2026-11-01.json")"
gzip -9 -n -c "$FIX/google-2026-11-02.json" >"$T/g2.json.gz"
[ "$(head -c 2 "$T/g2.json.gz" | od -An -tx1 | tr -d ' ')" = 1f8b ] &&
	pass "fixture gzip magic" || fail "fixture gzip magic" "not 1f8b"
expect_status "POST gzip google 11-02" 201 \
	"$(post "$URL" application/tlsrpt+gzip "$T/g2.json.gz")"
gzip -9 -n -c "$FIX/google-2026-11-03.json" >"$T/g3.json.gz"
expect_status "POST gzip google 11-03" 201 \
	"$(post "$URL" application/tlsrpt+gzip "$T/g3.json.gz")"
expect_status "POST json hostile" 201 \
	"$(post "$URL" application/tlsrpt+json "$FIX/hostile-2026-11-02.json")"
expect_status "POST duplicate" 200 \
	"$(post "$URL" application/tlsrpt+json "$FIX/google-2026-11-01.json")"
# ready.example: two senders, seven days, no failure
for d in 1 2 3 4 5 6 7; do
	for org in Alpha Beta; do
		n=5
		[ "$org" = Beta ] && n=7
		cat >"$T/r-$org-$d.json" <<EOF
{"organization-name":"$org","date-range":{"start-datetime":"2026-11-0${d}T00:00:00Z","end-datetime":"2026-11-0${d}T23:59:59Z"},"contact-info":"tlsrpt@$org.example","report-id":"$org-$d","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx.ready.example","max_age: 604800"],"policy-domain":"ready.example","mx-host":["mx.ready.example"]},"summary":{"total-successful-session-count":$n,"total-failure-session-count":0}}]}
EOF
		code=$(post "$URL" application/tlsrpt+json "$T/r-$org-$d.json")
		[ "$code" = 201 ] || fail "POST ready.example $org $d" "HTTP $code"
	done
done
pass "POST 14 ready.example reports"
printf 'hello, not a report' >"$T/garbage"
expect_status "POST garbage" 400 "$(post "$URL" application/tlsrpt+gzip "$T/garbage")"
printf '{"report-id": 5}' >"$T/notreport.json"
expect_status "POST JSON not a report" 400 \
	"$(post "$URL" application/tlsrpt+json "$T/notreport.json")"
expect_status "POST wrong type" 415 \
	"$(post "$URL" text/plain "$FIX/google-2026-11-01.json")"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
expect_status "POST too big" 413 "$(post "$URL" application/tlsrpt+json "$T/big.json")"
expect_status "POST other path" 404 \
	"$(post "https://127.0.0.1:$PORT/other" application/tlsrpt+json "$FIX/google-2026-11-01.json")"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$T/cert.pem" "$URL")
expect_status "GET" 405 "$code"
# plain HTTP to the TLS port is not answered as a report
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --noproxy '*' \
	-H 'Content-Type: application/tlsrpt+json' \
	--data-binary "@$FIX/google-2026-11-01.json" "http://127.0.0.1:$PORT/tlsrpt")
[ "$code" != 201 ] && [ "$code" != 200 ] && pass "plain HTTP to the TLS port refused ($code)" ||
	fail "plain HTTP to the TLS port" "HTTP $code"

if stop_server; then
	pass "serve: SIGTERM stops it with status 0"
else
	fail "serve: SIGTERM" "exit status $?"
fi
if grep -q '^stopped (signal 15): 25 requests, 18 stored, 1 duplicate, 2 rejected, 1 too big, 1 wrong type, 0 rate-limited, 0 over the daily quota, 2 other; 0 connections cut waiting for headers$' "$T/tls.out"; then
	pass "serve: final counters"
else
	fail "serve: final counters" "$(tail -1 "$T/tls.out")"
fi
grep -q 'tlsrpt receiver: 127.0.0.1: [0-9]* bytes: 201 stored' "$T/tls.err" && pass "serve -v: logs each request with the client" ||
	fail "serve -v log" "$(head -3 "$T/tls.err")"
# (the plain-HTTP request to the TLS port is logged as a handshake error)
grep -q 'libmicrohttpd: MHD_OPTION' "$T/tls.err" && fail "serve: options accepted silently" "$(grep libmicrohttpd "$T/tls.err" | head -2)" ||
	pass "serve: options accepted silently"

# plain HTTP (behind a reverse proxy), rate limit 2 per minute
if start_server plain --db "$T/plain.db" --listen 127.0.0.1:0 --rate 2/min; then
	pass "serve: plain HTTP on port $PORT"
	grep -q '(http)$' "$T/plain.out" && pass "serve: says http" || fail "serve: says http" "$(cat "$T/plain.out")"
	P="http://127.0.0.1:$PORT/"
	expect_status "plain: 1st" 201 "$(post "$P" application/tlsrpt+json "$FIX/google-2026-11-01.json")"
	expect_status "plain: 2nd" 200 "$(post "$P" application/tlsrpt+json "$FIX/google-2026-11-01.json")"
	code=$(curl -s -D "$T/h429" -o /dev/null -w '%{http_code}' --max-time 20 --noproxy '*' \
		-H 'Content-Type: application/tlsrpt+json' \
		--data-binary "@$FIX/google-2026-11-02.json" "$P")
	expect_status "plain: 3rd rate-limited" 429 "$code"
	grep -qi '^retry-after: 60' "$T/h429" && pass "429 has Retry-After" || fail "429 Retry-After" "$(cat "$T/h429")"
	stop_server || fail "plain: SIGTERM" "exit status $?"
else
	fail "serve plain" "did not start"
fi
# the daily quota (1 KiB here; each report is 966 bytes): the POST that
# crosses it is stored, the next is answered 507 with a Retry-After of
# the seconds to the next UTC day, and a restart does not reset the count
post_h() { # URL FILE HEADERS-OUT
	curl -s -D "$3" -o /dev/null -w '%{http_code}' --max-time 20 --noproxy '*' \
		-H 'Content-Type: application/tlsrpt+json' --data-binary "@$2" "$1"
}
if start_server quota --db "$T/quota.db" --listen 127.0.0.1:0 --max-per-day 1K; then
	P="http://127.0.0.1:$PORT/"
	expect_status "quota: 1st (966 of 1024 bytes)" 201 "$(post "$P" application/tlsrpt+json "$FIX/google-2026-11-01.json")"
	expect_status "quota: 2nd crosses it, still stored" 201 "$(post "$P" application/tlsrpt+json "$FIX/google-2026-11-02.json")"
	expect_status "quota: 3rd over it" 507 "$(post_h "$P" "$FIX/google-2026-11-03.json" "$T/h507")"
	ra=$(sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p' "$T/h507")
	left=$((86400 - $(date -u +%s) % 86400))
	if [ -n "$ra" ] && [ "$ra" -ge 1 ] && [ "$ra" -le 86400 ] && [ $((ra - left)) -le 5 ] && [ $((left - ra)) -le 5 ]; then
		pass "507 has Retry-After: the seconds to the next UTC day ($ra)"
	else
		fail "507 Retry-After" "got '$ra', $left s to midnight UTC"
	fi
	stop_server || fail "quota: SIGTERM" "exit status $?"
	grep -q ' 1 over the daily quota, ' "$T/quota.out" && pass "quota: counted at stop" ||
		fail "quota: counted at stop" "$(tail -1 "$T/quota.out")"
	if start_server quota2 --db "$T/quota.db" --listen 127.0.0.1:0 --max-per-day 1K; then
		expect_status "quota: still used up after a restart" 507 \
			"$(post "http://127.0.0.1:$PORT/" application/tlsrpt+json "$FIX/google-2026-11-03.json")"
		stop_server || fail "quota2: SIGTERM" "exit status $?"
	else
		fail "serve quota2" "did not start"
	fi
	if start_server quota3 --db "$T/quota.db" --listen 127.0.0.1:0 --max-per-day 0; then
		expect_status "quota: --max-per-day 0 is no quota" 201 \
			"$(post "http://127.0.0.1:$PORT/" application/tlsrpt+json "$FIX/google-2026-11-03.json")"
		stop_server || fail "quota3: SIGTERM" "exit status $?"
	else
		fail "serve quota3" "did not start"
	fi
else
	fail "serve quota" "did not start"
fi
"$MTASTS" report serve --listen 127.0.0.1:0 --max-per-day 12X >/dev/null 2>&1
expect_status "serve --max-per-day 12X: usage" 64 "$?"

# retention: prune deletes what was received before the cut, with its
# reports, and keeps the rest (rows aged with the sqlite3 shell)
out=$("$MTASTS" report prune --db "$T/quota.db" --older-than 1)
expect_status "prune: nothing old yet" 0 "$?"
case $out in
"$T/quota.db: deleted 0 inputs and 0 reports received before $(date -u -d @$(($(date -u +%s) - 86400)) +%Y-%m-%dT)"[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z)
	pass "prune: says what it did" ;;
*) fail "prune: output" "$out" ;;
esac
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 "$T/quota.db" "UPDATE raw SET received = received - 3 * 86400 WHERE report_id = '2026-11-01T00:00:00Z_example.com'"
	out=$("$MTASTS" report prune --db "$T/quota.db" --older-than 2 --json)
	expect_status "prune --json" 0 "$?"
	printf '%s' "$out" | grep -q '"inputs": 1,' && printf '%s' "$out" | grep -q '"reports": 1$' &&
		pass "prune: the aged input and its report deleted" || fail "prune: aged input" "$out"
	n=$(sqlite3 "$T/quota.db" 'SELECT count(*) FROM report')
	[ "$n" = 2 ] && pass "prune: the other reports kept" || fail "prune: others kept" "$n reports"
	n=$(sqlite3 "$T/quota.db" 'SELECT count(*) FROM policy WHERE report NOT IN (SELECT id FROM report)')
	[ "$n" = 0 ] && pass "prune: no policy row left without its report" || fail "prune: orphan policies" "$n"
else
	echo "skip: prune of aged rows (no sqlite3 shell)"
fi
"$MTASTS" report prune --db "$T/quota.db" >/dev/null 2>&1
expect_status "prune without --older-than: usage" 64 "$?"
"$MTASTS" report prune --db "$T/none.db" --older-than 5 >/dev/null 2>&1
expect_status "prune: no store" 66 "$?"
[ ! -e "$T/none.db" ] && pass "prune: creates no store" || fail "prune: created a store" ""

# bad command lines
"$MTASTS" report serve --db "$T/x.db" >/dev/null 2>&1
expect_status "serve without --listen: usage" 64 "$?"
"$MTASTS" report serve --listen 127.0.0.1:0 --tls-cert "$T/cert.pem" >/dev/null 2>&1
expect_status "serve: cert without key: usage" 64 "$?"
"$MTASTS" report serve --listen 127.0.0.1:0 --tls-cert "$T/nope" --tls-key "$T/nope" >/dev/null 2>&1
expect_status "serve: unreadable cert" 66 "$?"

# ---- 2. the page ----
if "$MTASTS" report html --db "$DB" --out "$T/out" --now 2026-11-08T12:00:00Z >"$T/html.out" 2>&1; then
	pass "report html exits 0"
else
	fail "report html" "$(cat "$T/html.out")"
fi
PAGE="$T/out/index.html"
[ -s "$PAGE" ] && pass "index.html written" || fail "index.html" "missing"
cp "$PAGE" "$T/page1.html"
"$MTASTS" report html --db "$DB" --out "$T/out" --now 2026-11-08T12:00:00Z >/dev/null 2>&1
cmp -s "$PAGE" "$T/page1.html" && pass "report html is deterministic" || fail "deterministic" "pages differ"
for bad in '<script' '<svg onload' '<img' '<link' 'src=' 'url(' '@import' 'https://'; do
	if grep -qF -- "$bad" "$PAGE"; then
		fail "page has no $bad" "found"
	else
		pass "page has no $bad"
	fi
done
grep -qF '&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co' "$PAGE" &&
	pass "hostile organisation escaped" || fail "hostile organisation" "not found escaped"
"$MTASTS" report html --db "$T/none.db" --out "$T/o2" >/dev/null 2>&1
expect_status "report html: missing store" 66 "$?"
"$MTASTS" report html --db "$DB" >/dev/null 2>&1
expect_status "report html: no --out" 64 "$?"
"$MTASTS" report html --db "$DB" --out "$T/o3" --since 2026-13-01 >/dev/null 2>&1
expect_status "report html: bad --since" 64 "$?"

# ---- 3. Chromium ----
CHROME_ARGS=(--headless=new --no-sandbox --disable-gpu --no-first-run
	--disable-extensions --disable-background-networking --disable-sync
	--disable-component-update --hide-scrollbars --force-device-scale-factor=1
	"--user-data-dir=$T/chrome")
timeout 60 "$CHROMIUM" "${CHROME_ARGS[@]}" --dump-dom "file://$PAGE" >"$T/dom.html" 2>"$T/chrome-dom.err"
if [ -s "$T/dom.html" ]; then
	pass "chromium --dump-dom"
else
	fail "chromium --dump-dom" "$(tail -3 "$T/chrome-dom.err")"
fi
for want in 'class="verdict ready">Ready to enforce</p>' \
	'class="verdict not-ready">Not ready to enforce: ' \
	'Generated at 2026-11-08T12:00:00Z. 2 policy domains, 18 reports, 354 successful and 34 failed sessions.' \
	'<td>certificate-expired</td><td class="n">30</td><td class="n">88.2' \
	'<td>2026-11-01</td><td>Google Inc.</td><td class="n">1</td><td class="n">90</td><td class="n">10</td><td class="n">10.0' \
	'&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co' \
	'points="56,210 366,210 676,210"'; do
	if grep -qF -- "$want" "$T/dom.html"; then
		pass "DOM has: ${want:0:60}"
	else
		fail "DOM has: ${want:0:60}" "not found"
	fi
done
# the hostile name did not become an element
if grep -qiE '<script|<svg onload' "$T/dom.html"; then
	fail "DOM: no script element" "found"
else
	pass "DOM: no script element"
fi

timeout 60 "$CHROMIUM" "${CHROME_ARGS[@]}" --window-size=1200,2000 \
	"--screenshot=$T/shot.png" "file://$PAGE" >"$T/chrome-shot.out" 2>&1
if [ -s "$T/shot.png" ]; then
	pass "chromium --screenshot ($(stat -c %s "$T/shot.png") bytes)"
else
	fail "chromium --screenshot" "$(tail -3 "$T/chrome-shot.out")"
fi

# Decode the PNG (zlib only, no PIL) and check what is on it.
python3 - "$T/shot.png" >"$T/png.out" 2>&1 <<'PY'
import struct, sys, zlib

def load(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif typ == b"IDAT":
            idat += body
        elif typ == b"IEND":
            break
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append(line)
        prev = line
    return w, h, bpp, rows

w, h, bpp, rows = load(sys.argv[1])
print("size", w, h)

def find(rgb, tol=6):
    xs, ys, n = [], [], 0
    for y in range(h):
        r = rows[y]
        for x in range(w):
            o = x * bpp
            if abs(r[o] - rgb[0]) <= tol and abs(r[o + 1] - rgb[1]) <= tol and abs(r[o + 2] - rgb[2]) <= tol:
                n += 1
                xs.append(x)
                ys.append(y)
    return n, (min(xs), min(ys), max(xs), max(ys)) if n else None

colours = set()
for y in range(0, h, 4):
    r = rows[y]
    for x in range(0, w, 4):
        colours.add(bytes(r[x * bpp:x * bpp + 3]))
print("colours", len(colours))
fail_n, fail_box = find((0xd6, 0x27, 0x28))
line_n, line_box = find((0x00, 0x72, 0xb2))
print("fail", fail_n, fail_box)
print("series0", line_n, line_box)
ok = True
if (w, h) != (1200, 2000):
    print("BAD size"); ok = False
if len(colours) < 20:
    print("BAD blank page"); ok = False
# bars: several of them, 16 px high each, starting 260 px into the chart
# (plus the body margin), the longest 400 px wide; the 2px not-ready
# border is the same colour, so look at the bars' columns only.
bar_n, bar_box = 0, None
xs0 = []
for y in range(h):
    r = rows[y]
    run = 0
    for x in range(w):
        o = x * bpp
        if abs(r[o] - 0xd6) <= 6 and abs(r[o + 1] - 0x27) <= 6 and abs(r[o + 2] - 0x28) <= 6:
            run += 1
            if run == 30:
                xs0.append((x - 29, y))
        else:
            run = 0
print("bar rows", len(xs0), xs0[:1], xs0[-1:] if xs0 else None)
if len(xs0) < 40:
    print("BAD too few bar rows"); ok = False
else:
    left = min(x for x, _ in xs0)
    if not 260 <= left <= 320:
        print("BAD bars start at", left); ok = False
    # the widest bar: 400 px of failure colour on one row
    widest = 0
    for y in sorted(set(y for _, y in xs0)):
        r = rows[y]
        n = sum(1 for x in range(left, min(w, left + 420))
                if abs(r[x * bpp] - 0xd6) <= 6 and abs(r[x * bpp + 1] - 0x27) <= 6)
        widest = max(widest, n)
    print("widest bar", widest)
    if not 396 <= widest <= 404:
        print("BAD widest bar", widest); ok = False
if line_n < 200:
    print("BAD no series line"); ok = False
elif fail_box and line_box[1] > fail_box[3]:
    print("BAD line chart below the bars"); ok = False
print("PNG OK" if ok else "PNG BAD")
PY
if grep -q '^PNG OK$' "$T/png.out"; then
	pass "screenshot: size, not blank, failure bars (x, width), series line"
else
	fail "screenshot" "$(tr '\n' ';' <"$T/png.out")"
fi
cat "$T/png.out"
[ -n "${KEEP_SCREENSHOT:-}" ] && cp "$T/shot.png" "$KEEP_SCREENSHOT"

summary
