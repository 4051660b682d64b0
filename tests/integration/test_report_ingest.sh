#!/bin/bash
# test_report_ingest.sh MTASTS - `mtasts report ingest|summary|ready`
# against reports built here (plain JSON, gzip, zip, a mail message, an
# mbox, a Maildir, stdin) and the parser fixtures in
# tests/fixtures/tlsrpt/reports/: exact ingest lines and totals, exit
# codes, duplicates on re-ingest, rejected inputs kept raw (checked with
# sqlite3 when installed, else through `summary --json`), exact summary
# JSON values and readiness verdicts. No root, no network; about 1 s.
set -u
mtasts=${1:?usage: test_report_ingest.sh MTASTS}
mtasts=$(cd "$(dirname "$mtasts")" && pwd)/$(basename "$mtasts")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
fixtures="$here/../fixtures/tlsrpt/reports"
for t in jq gzip base64 python3; do
	command -v "$t" >/dev/null 2>&1 || { echo "skip: $t missing"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 1
unset MTASTS_REPORT_DB

# mkrep ORG ID DAY DOMAIN OK FAILED: one RFC 8460 report (day 2026-11-DAY).
mkrep() {
	local fd=""
	if [ "$6" -gt 0 ]; then
		fd=',"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"192.0.2.1","receiving-ip":"198.51.100.7","receiving-mx-hostname":"mx1.'$4'","failed-session-count":'$6'}]'
	fi
	printf '{"organization-name":"%s","date-range":{"start-datetime":"2026-11-%02dT00:00:00Z","end-datetime":"2026-11-%02dT23:59:59Z"},"contact-info":"tlsrpt@sender.example","report-id":"%s","policies":[{"policy":{"policy-type":"sts","policy-string":["version: STSv1","mode: testing","mx: mx1.%s","max_age: 86400"],"policy-domain":"%s","mx-host":["mx1.%s"]},"summary":{"total-successful-session-count":%s,"total-failure-session-count":%s}%s}]}\n' \
		"$1" "$3" "$3" "$2" "$4" "$4" "$4" "$5" "$6" "$fd"
}

# mkmail ID FILENAME TYPE < CONTENT: a report mail (RFC 8460 5.3) with
# CONTENT base64-encoded as its attachment.
mkmail() {
	printf 'From: TLS reports <tlsrpt@sender.example>\n'
	printf 'To: tlsrpt@example.com\n'
	printf 'Subject: Report Domain: example.com Submitter: sender.example Report-ID: <%s>\n' "$1"
	printf 'Date: Sat, 14 Nov 2026 01:02:03 +0000\n'
	printf 'Message-ID: <%s@sender.example>\n' "$1"
	printf 'TLS-Report-Domain: example.com\nTLS-Report-Submitter: sender.example\n'
	printf 'MIME-Version: 1.0\n'
	printf 'Content-Type: multipart/report; report-type="tlsrpt"; boundary="b0undary"\n\n'
	printf -- '--b0undary\nContent-Type: text/plain; charset=us-ascii\n\nThis is an aggregate TLS report.\n\n'
	printf -- '--b0undary\nContent-Type: %s\nContent-Disposition: attachment; filename="%s"\nContent-Transfer-Encoding: base64\n\n' "$3" "$2"
	base64
	printf -- '--b0undary--\n'
}

# expect NAME WANT-FILE GOT-FILE
expect() {
	if cmp -s "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "output differs"
		diff -u "$2" "$3" | sed 's/^/     /' | head -40
	fi
}

# is NAME WANT GOT
is() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$3', want '$2'"
	fi
}

# Rejection reasons end in human text: keep the finding code only.
codes() {
	sed -E 's/^(rejected +[^ ]+: [a-z0-9-]+): .*/\1/'
}

# ---- the inputs ----
mkrep "Org A" a-1 10 example.com 100 2 >a1.json
mkrep "Org B" b-1 10 example.com 50 0 | gzip -9 >b1.json.gz
mkdir zipdir
mkrep "Org A" a-2 11 example.com 10 0 >zipdir/a2.json
mkrep "Org B" b-2 11 example.com 20 0 | gzip >zipdir/b2.json.gz
echo "not a report" >zipdir/README.txt
# python3 (a dependency already) rather than zip(1), which is not.
(cd zipdir && python3 -c 'import sys, zipfile
with zipfile.ZipFile("../reports.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for n in sys.argv[1:]: z.write(n)' a2.json b2.json.gz README.txt)
mkrep "Org C" c-1 12 example.com 30 0 | gzip | mkmail c-1 c1.json.gz application/tlsrpt+gzip >c1.eml
{
	printf 'From tlsrpt@sender.example Sat Nov 14 01:02:03 2026\n'
	mkrep "Org A" a-3 12 example.com 5 0 | mkmail a-3 a3.json application/tlsrpt+json
	printf '\nFrom tlsrpt@sender.example Sat Nov 14 01:02:04 2026\n'
	mkrep "Org B" b-3 13 example.com 7 0 | gzip | mkmail b-3 b3.json.gz application/tlsrpt+gzip
} >two.mbox
mkdir -p maildir/new maildir/cur maildir/tmp
mkrep "Org C" c-2 13 example.com 40 0 | gzip | mkmail c-2 c2.json.gz application/tlsrpt+gzip >maildir/new/1794700000.1.host
cp c1.eml maildir/cur/1794700001.2.host:2,S
printf 'From: someone@example.net\nSubject: hello\nMessage-ID: <hello@example.net>\n\nno report here\n' >maildir/cur/1794700002.3.host:2,S
# Hostile or broken inputs: each must be kept, raw, as rejected.
head -c 300 /dev/zero | tr '\000' '\201' >junk.bin
printf '\037\213\010\000\000\000\000\000\000\003' >truncated.json.gz
printf '[{"organization-name":"X"}]' >array.json
# ready.example: 2 senders on 7 days, no failure.
for d in 10 11 12 13 14 15 16; do
	mkrep "Org A" "r-$d" "$d" ready.example 10 0 >"ready-$d.json"
done
mkrep "Org B" r-b 14 ready.example 3 0 >ready-b.json

# ---- ingest: exact lines ----
db=$tmp/r.db
"$mtasts" report ingest --db "$db" a1.json b1.json.gz reports.zip c1.eml two.mbox >out 2>err
is "ingest exit 0 (all stored)" 0 $?
cat >want <<'EOF'
new        file:a1.json: Org A a-1
new        file:b1.json.gz: Org B b-1
new        file:reports.zip!a2.json: Org A a-2
new        file:reports.zip!b2.json.gz: Org B b-2
new        mail:<c-1@sender.example>!c1.json.gz: Org C c-1
new        mail:<a-3@sender.example>!a3.json: Org A a-3
new        mail:<b-3@sender.example>!b3.json.gz: Org B b-3
total: 7 reports: 7 new, 0 duplicate, 0 rejected; 0 warnings
EOF
expect "ingest json, gz, zip, eml, mbox" want out
is "ingest stderr empty" "" "$(cat err)"

mkrep "Org A" a-4 13 example.com 3 0 | "$mtasts" report ingest --db "$db" maildir - junk.bin truncated.json.gz array.json >out 2>err
is "ingest exit 1 (some rejected)" 1 $?
codes <out >out.codes
cat >want <<'EOF'
new        mail:<c-2@sender.example>!c2.json.gz: Org C c-2
duplicate  mail:<c-1@sender.example>!c1.json.gz: Org C c-1
rejected   mail:<hello@example.net>: mime-no-report
new        file:-: Org A a-4
rejected   file:junk.bin: report-invalid-utf8
rejected   file:truncated.json.gz: unpack-gzip-truncated
rejected   file:array.json: report-not-object
total: 7 reports: 2 new, 1 duplicate, 4 rejected; 0 warnings
EOF
expect "ingest Maildir, stdin, hostile inputs" want out.codes

# Everything again: nothing new, the rejected ones rejected again.
"$mtasts" report ingest --db "$db" a1.json b1.json.gz reports.zip c1.eml two.mbox >out 2>err
is "re-ingest exit 0" 0 $?
is "re-ingest: all duplicates" \
	"total: 7 reports: 0 new, 7 duplicate, 0 rejected; 0 warnings" "$(tail -n 1 out)"
is "re-ingest: no line says new" 0 "$(grep -c '^new' out)"

# --json and the environment's store.
MTASTS_REPORT_DB=$db "$mtasts" report ingest --json ready-*.json >out.json 2>err
is "ingest --json exit 0" 0 $?
is "ingest --json totals" '8 8 0 0' \
	"$(jq -r '.totals | "\(.reports) \(.new) \(.duplicate) \(.rejected)"' out.json)"
is "ingest --json db from MTASTS_REPORT_DB" "$db" "$(jq -r .db out.json)"
is "ingest --json first report" 'file:ready-10.json new Org A r-10 null' \
	"$(jq -r '.reports[0] | "\(.source) \(.outcome) \(.organization) \(.report_id) \(.reason)"' out.json)"

# ---- rejected inputs are kept raw ----
if command -v sqlite3 >/dev/null 2>&1; then
	is "raw rows: 29 in all" 29 "$(sqlite3 "$db" 'SELECT count(*) FROM raw')"
	is "raw rows: 4 rejected" 4 "$(sqlite3 "$db" "SELECT count(*) FROM raw WHERE outcome='rejected'")"
	is "raw junk.bin kept byte for byte" "$(sha256sum <junk.bin | cut -d' ' -f1) 300" \
		"$(sqlite3 "$db" "SELECT sha256, length(bytes) FROM raw WHERE source='file:junk.bin'" | tr '|' ' ')"
	is "raw truncated gzip kept" 10 \
		"$(sqlite3 "$db" "SELECT length(bytes) FROM raw WHERE source='file:truncated.json.gz'")"
	is "raw: gz stored decompressed" "$(gzip -dc b1.json.gz | wc -c)" \
		"$(sqlite3 "$db" "SELECT length(bytes) FROM raw WHERE source='file:b1.json.gz' LIMIT 1")"
	is "reports: 17 distinct" 17 "$(sqlite3 "$db" 'SELECT count(*) FROM report')"
	is "schema version 1" 1 "$(sqlite3 "$db" 'PRAGMA user_version')"
else
	echo "note: sqlite3 not installed, raw rows checked through summary --json"
fi
"$mtasts" report summary --db "$db" --json >sum.json 2>err
is "summary exit 0" 0 $?
is "summary inputs" '17 8 4' "$(jq -r '.inputs | "\(.new) \(.duplicate) \(.rejected)"' sum.json)"
is "summary rejected sources" 'mail:<hello@example.net> file:junk.bin file:truncated.json.gz file:array.json' \
	"$(jq -r '[.rejected[].source] | join(" ")' sum.json)"
is "summary rejected junk.bin size and sha256" "300 $(sha256sum <junk.bin | cut -d' ' -f1)" \
	"$(jq -r '.rejected[] | select(.source == "file:junk.bin") | "\(.size) \(.sha256)"' sum.json)"

# ---- summary: exact values ----
"$mtasts" report summary --db "$db" --domain Example.COM --json >sum.json
is "summary rows for example.com" \
	'2026-11-10 example.com Org A 1 102 100 2
2026-11-10 example.com Org B 1 50 50 0
2026-11-11 example.com Org A 1 10 10 0
2026-11-11 example.com Org B 1 20 20 0
2026-11-12 example.com Org A 1 5 5 0
2026-11-12 example.com Org C 1 30 30 0
2026-11-13 example.com Org A 1 3 3 0
2026-11-13 example.com Org B 1 7 7 0
2026-11-13 example.com Org C 1 40 40 0' \
	"$(jq -r '.rows[] | "\(.day) \(.policy_domain) \(.organization) \(.reports) \(.sessions) \(.successful) \(.failed)"' sum.json)"
is "summary failures per MX" 'certificate-expired mx1.example.com 2' \
	"$(jq -r '.rows[0].failures[] | "\(.result_type) \(.receiving_mx_hostname) \(.sessions)"' sum.json)"
is "summary failure rate" '0.0196078' "$(jq -r '.rows[0].failure_rate' sum.json)"
is "summary totals" '267 265 2' "$(jq -r '.totals | "\(.sessions) \(.successful) \(.failed)"' sum.json)"
"$mtasts" report summary --db "$db" --since 2026-11-13 --json >sum.json
is "summary --since" '2026-11-13 example.com 3
2026-11-13 ready.example 1
2026-11-14 ready.example 2
2026-11-15 ready.example 1
2026-11-16 ready.example 1' \
	"$(jq -r '.rows[] | "\(.day) \(.policy_domain) \(.reports)"' sum.json | uniq -c | awk '{print $2, $3, $1}')"
"$mtasts" report summary --db "$db" --domain example.com --since 2026-11-13 >out
cat >want <<'EOF'
DAY         DOMAIN       ORGANIZATION  REPORTS    SESSIONS      FAILED     RATE
2026-11-13  example.com  Org A               1           3           0    0.00%
2026-11-13  example.com  Org B               1           7           0    0.00%
2026-11-13  example.com  Org C               1          40           0    0.00%
total: 50 sessions, 0 failed (0.00%); inputs stored: 17 new, 8 duplicate, 4 rejected
EOF
expect "summary text" want out
"$mtasts" report summary --db "$db" --since 2026-02-30 >out 2>err
is "summary bad date: usage" 64 $?

# ---- ready ----
"$mtasts" report ready --db "$db" --domain ready.example --date 2026-11-20 >out
is "ready: ready.example exit 0" 0 $?
cat >want <<'EOF'
window 2026-11-07 to 2026-11-20 (14 days); ready when at least 2 sending organisations reported on at least 7 days and no session failed
ready.example: READY: 2 senders, 7 days, 73 sessions, 0 failed
EOF
expect "ready text" want out
"$mtasts" report ready --db "$db" --date 2026-11-20 --json >out.json
is "ready: all domains exit 1" 1 $?
is "ready --json verdicts" 'example.com false sessions failed in the window 3 4
ready.example true null 2 7' \
	"$(jq -r '.domains[] | "\(.policy_domain) \(.ready) \(.reason) \(.senders) \(.days)"' out.json)"
is "ready --json window" '2026-11-07 2026-11-20 14 false' \
	"$(jq -r '"\(.window.first) \(.window.last) \(.window.days) \(.ready)"' out.json)"
"$mtasts" report ready --db "$db" --domain ready.example --date 2026-11-20 --min-senders 3 >/dev/null
is "ready: --min-senders 3 exit 1" 1 $?
"$mtasts" report ready --db "$db" --domain ready.example --date 2026-11-20 --min-days 8 --json >out.json
is "ready: --min-days 8" 'false too few days with reports' "$(jq -r '.domains[0] | "\(.ready) \(.reason)"' out.json)"
"$mtasts" report ready --db "$db" --domain ready.example --date 2026-11-30 --json >out.json
is "ready: window past the reports" 'false no reports in the window 0' \
	"$(jq -r '.domains[0] | "\(.ready) \(.reason) \(.senders)"' out.json)"
"$mtasts" report ready --db "$db" --domain ready.example --date 2026-11-20 --days 5 --min-days 5 >/dev/null
is "ready: --days 5 window (11-16..11-20) has 1 day" 1 $?

# ---- the parser fixtures: bad-* rejected, the others stored ----
fdb=$tmp/fixtures.db
nbad=$(ls "$fixtures"/bad-*.json | wc -l)
nall=$(ls "$fixtures"/*.json | wc -l)
"$mtasts" report ingest --db "$fdb" --json "$fixtures"/*.json >out.json 2>err
is "fixtures exit 1" 1 $?
is "fixtures: every bad-* rejected" "$nbad" \
	"$(jq '[.reports[] | select(.source | test("/bad-")) | select(.outcome == "rejected")] | length' out.json)"
is "fixtures: nothing else rejected" "$((nall - nbad))" \
	"$(jq '[.reports[] | select(.source | test("/bad-") | not) | select(.outcome != "rejected")] | length' out.json)"
is "fixtures: rejected reasons name a finding" "$nbad" \
	"$(jq '[.reports[] | select(.outcome == "rejected") | select(.reason | test("^report-[a-z0-9-]+: "))] | length' out.json)"
"$mtasts" report ingest --db "$fdb" "$fixtures"/*.json >out 2>err
is "fixtures again: no new" 0 "$(grep -c '^new' out)"
"$mtasts" report ingest --db "$fdb" -v "$fixtures"/microsoft-quirks-no-zone-no-ip.json >out 2>err
is "-v lists the warnings" 1 "$(grep -c '^    warning ' out | awk '{print ($1 > 0)}')"

# ---- failures ----
"$mtasts" report ingest --db "$db" does-not-exist.json >out 2>err
is "missing file exit 2" 2 $?
grep -q 'does-not-exist.json: No such file' err && pass "missing file message" || fail "missing file message" "$(cat err)"
mkdir plain
"$mtasts" report ingest --db "$db" plain >out 2>err
is "directory that is not a Maildir exit 2" 2 $?
head -c 8192 /dev/urandom >corrupt.db
"$mtasts" report ingest --db corrupt.db a1.json >out 2>err
is "corrupt store exit 2" 2 $?
grep -q 'corrupt.db: cannot read it as an SQLite database: file is not a database' err &&
	pass "corrupt store message" || fail "corrupt store message" "$(cat err)"
"$mtasts" report summary --db nothing.db >out 2>err
is "summary without a store exit 66" 66 $?
[ ! -e nothing.db ] && pass "summary creates no store" || fail "summary creates no store" "nothing.db exists"
"$mtasts" report ingest --db "$db" >out 2>err
is "ingest without a path: usage" 64 $?
"$mtasts" report ready --db "$db" --days 0 >out 2>err
is "ready --days 0: usage" 64 $?

summary
