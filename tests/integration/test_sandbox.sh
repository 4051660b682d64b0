#!/bin/bash
# test_sandbox.sh MTASTS: does mtastsd stay inside the sandbox of its
# systemd unit (issue 5: "drops root after binding, runs under the systemd
# sandbox, writes only its cache")? The machine that runs the tests has
# no systemd as PID 1, so the unit cannot be started; instead the daemon
# runs under strace in the test world and its system calls are held
# against what etc/systemd/mtastsd.service allows:
#   - SystemCallFilter=: every system call made is in the union of the
#     listed groups, expanded (recursively: groups name groups) with
#     `systemd-analyze syscall-filter`. The directive is read from the
#     unit file itself, so a change of the unit is tested.
#   - RestrictAddressFamilies=: every socket()/socketpair() family is one
#     the unit lists.
#   - MemoryDenyWriteExecute=yes: no mmap with PROT_WRITE and PROT_EXEC,
#     no mprotect/pkey_mprotect adding PROT_EXEC (systemd's seccomp rule
#     refuses both), no shmat with SHM_EXEC.
#   - ProtectSystem=strict + ReadWritePaths= + PrivateTmp=: every file
#     opened for writing (or created, removed, renamed, chmod'ed, bound as
#     a UNIX socket) is in the state dir (which stands in for
#     /var/lib/mta-sts and the Postfix socket dir), the log file the test
#     passes, /dev/null, or /tmp and /var/tmp outside the test world.
#   - -u/-g: after the switch to nobody, no set*id call back to 0.
# The daemon runs twice, as root with -u nobody -g nogroup, both traced:
# once with a TCP listener, metrics, control socket, TLSRPT datagrams,
# the SQLite cache, fetches (good, testing, multistring, nxdomain,
# notfound), a cached lookup, `mtasts cache list|show`, SIGHUP and
# SIGTERM; once with a UNIX socket listener over the same cache file.
# Then mtasts-tlsrptd (as root, as its unit runs it) with its collector
# socket, against etc/systemd/mtasts-tlsrptd.service the same way (that
# unit has no SystemCallFilter= or MemoryDenyWriteExecute=; its
# ProtectSystem=full leaves writes only out of /usr, /boot, /efi, /etc);
# and `mtasts report serve` with the options of
# etc/systemd/mtasts-report-serve.service, one report POSTed, against
# that unit (its store in the state dir), then `mtasts report prune`
# against mtasts-report-prune.service.
# MTS_SANDBOX_UNIT=FILE checks mtastsd against another unit (a narrowed
# copy shows the test can fail); MTS_SANDBOX_KEEP=DIR keeps the traces.
# What it cannot show: the seccomp filter's argument checks beyond the
# ones above, and the mount namespace itself.
# Prints one ok/FAIL line per check, then "N passed, M failed".
# Exit: 0 all passed, 1 some failed, 2 bad arguments, 77 skipped.
# "A && pass || fail": pass never fails.
# shellcheck disable=SC2015
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
MTASTSD=$(dirname "$MTASTS")/mtastsd
SMC=$MTSW_HERE/smclient.py
# MTS_SANDBOX_UNIT: another unit file (to check that the test can fail).
UNIT=${MTS_SANDBOX_UNIT:-$MTSW_HERE/../../etc/systemd/mtastsd.service}
if [ ! -x "$MTASTSD" ]; then
	echo "$0: $MTASTSD: not an executable" >&2
	exit 2
fi
if [ ! -r "$UNIT" ]; then
	echo "$0: $UNIT: cannot read the unit" >&2
	exit 2
fi
require_root_and_tools python3 timeout pgrep strace systemd-analyze
# Under scripts/valgrind-suite the programs are wrapper scripts that exec
# valgrind: the trace would be valgrind's own (its JIT maps W+X memory,
# it writes its log), not mtastsd's.
if [ "$(head -c 2 "$MTASTSD")" = '#!' ]; then
	echo "skipped: $MTASTSD is a wrapper script (valgrind-suite), not the daemon"
	exit 77
fi

# ---- the unit's sandbox ----
# directive UNIT NAME: the values of every NAME= line of UNIT, one line.
directive() {
	sed -n "s/^$2=//p" "$1" | tr '\n' ' ' | sed 's/ *$//'
}

# expand ITEM...: the system call names of systemd filter groups (@name,
# recursively) and plain names, one a line. Fails on an unknown group.
expand() {
	local item out name
	for item in "$@"; do
		case $item in
		@*)
			out=$(systemd-analyze syscall-filter "$item") || return 1
			for name in $(printf '%s\n' "$out" | awk 'NR > 1 && $1 !~ /^#/ { print $1 }'); do
				expand "$name" || return 1
			done
			;;
		*) echo "$item" ;;
		esac
	done
}

case $(directive "$UNIT" SystemCallFilter) in
"")
	echo "SKIP: $UNIT has no SystemCallFilter=" >&2
	exit 77
	;;
esac

# allowed_set UNIT OUT: the system calls UNIT's SystemCallFilter= allows,
# one a line, into OUT. systemd adds @default to every allow list by
# itself. Fails (with why on stdout) on a deny list or an unknown group.
allowed_set() {
	local filter
	filter=$(directive "$1" SystemCallFilter)
	case $filter in
	*"~"*)
		echo "a deny-list SystemCallFilter= is not handled here"
		return 1
		;;
	esac
	# shellcheck disable=SC2086 # a list of words
	expand $filter @default >"$2.all" && sort -u "$2.all" >"$2" && [ -s "$2" ] ||
		{ echo "systemd-analyze could not expand '$filter'"; return 1; }
}

world_up
T=$MTSW_DIR/sbx
S=$T/state
mkdir -p "$S" "$T/rpt"
# The daemon runs as nobody: let it reach its state dir.
chmod 711 "$MTSW_DIR" "$T"
chown nobody "$S"
if why=$(allowed_set "$UNIT" "$T/mtastsd.allowed"); then
	pass "mtastsd: SystemCallFilter=$(directive "$UNIT" SystemCallFilter): $(wc -l <"$T/mtastsd.allowed") system calls allowed"
else
	fail "mtastsd: SystemCallFilter" "$why"
	summary || exit 1
fi

PORT=$((20000 + RANDOM % 20000))
MPORT=$((PORT + 1))
SOCK=$S/control.sock
LSOCK=$S/mtastsd.sock
RSOCK=$T/rpt/tlsrpt.sock
DB=$S/cache.db
DLOG=$T/mtastsd.log

# config FILE LISTENER-YAML: the daemon's config with every feature on.
config() {
	{
		printf '%s\n' "$2"
		printf 'shutdown_timeout: 5\n'
		printf 'resolver: "%s"\nca_file: "%s"\n' "$MTSW_RESOLVER" "$MTSW_CA"
		printf 'default_zone:\n  timeout: 3\n'
		printf 'metrics_listen: 127.0.0.1:%s\n' "$MPORT"
		printf 'control_socket: "%s"\n' "$SOCK"
		printf 'tlsrpt_socket: "%s"\n' "$RSOCK"
		printf 'cache:\n  type: sqlite\n  options:\n    filename: "%s"\n' "$DB"
	} >"$1"
}
config "$T/tcp.yml" "$(printf 'host: 127.0.0.1\nport: %s\n' "$PORT")"
config "$T/unix.yml" "$(printf 'path: "%s"\nmode: 0666\n' "$LSOCK")"

SPID=
DPID=
COLLECTOR=
cleanup() {
	[ -z "$DPID" ] || kill -KILL "$DPID" 2>/dev/null || true
	[ -z "$SPID" ] || kill -KILL "$SPID" 2>/dev/null || true
	[ -z "$COLLECTOR" ] || kill "$COLLECTOR" 2>/dev/null || true
}
# shellcheck disable=SC2154 # rc is set in the trap itself
trap 'rc=$?; cleanup; world_down; exit $rc' EXIT

# start NAME CONFIG: mtastsd under strace (-f: the resolver, libuv and
# SQLite threads; -y: the paths of descriptors, so relative paths can be
# resolved) into $T/NAME.trace. SPID is strace (ip netns exec execs it),
# DPID the daemon, strace's child, found by its name: before it forks the
# tracee, strace forks short-lived children of its own to probe ptrace
# (test_ptrace_get_syscall_info and others), and taking any child of
# strace once took one of those, dead before the SIGHUP (CI, stop 11).
# Waits (bounded) for "mtastsd ready".
start() {
	: >"$DLOG"
	ip netns exec "$MTSW_NS" strace -f -qq -y -o "$T/$1.trace" \
		"$MTASTSD" -v debug -l "$DLOG" -c "$2" -u nobody -g nogroup &
	SPID=$!
	for _ in $(seq 1 "$(tscale 200)"); do
		[ -n "$DPID" ] || DPID=$(pgrep -x -P "$SPID" mtastsd 2>/dev/null | head -n 1) || true
		grep -q 'mtastsd ready' "$DLOG" 2>/dev/null && [ -n "$DPID" ] && return 0
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	fail "$1: start" "not ready in $(tscale 20) s; log: $(tail -c 600 "$DLOG")"
	return 1
}

# stop NAME: SIGTERM to the daemon, then wait (bounded) for strace, which
# exits with its tracee.
stop() {
	[ -z "$DPID" ] || kill -TERM "$DPID" 2>/dev/null || true
	for _ in $(seq 1 "$(tscale 200)"); do
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SPID" 2>/dev/null; then
		fail "$1: stop" "still running $(tscale 20) s after SIGTERM"
		[ -z "$DPID" ] || kill -KILL "$DPID" 2>/dev/null || true
		sleep 0.5
		kill -KILL "$SPID" 2>/dev/null || true
	fi
	wait "$SPID" 2>/dev/null || true
	SPID=
	DPID=
}

# q ADDR KEY...: socketmap lookups, pipelined on one connection.
q() {
	local addr=$1
	shift
	timeout -k 2 "$(tscale 30)" ip netns exec "$MTSW_NS" python3 "$SMC" "$addr" pipe postfix "$@" 2>&1 || true
}
ctl() {
	timeout -k 2 "$(tscale 15)" "$MTASTS" cache "$@" --socket "$SOCK" 2>&1 || true
}

# A stand-in TLSRPT collector (as in test_faults.sh), writing each
# datagram as one line; umask 0: the daemon sends as nobody.
(umask 0 && exec timeout -k 2 "$(tscale 120)" python3 - "$RSOCK" "$T/tlsrpt.lines") <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as f:
    while True:
        f.write(s.recv(262144) + b"\n")
EOF
COLLECTOR=$!
for _ in $(seq 1 50); do [ -S "$RSOCK" ] && break; sleep 0.1; done

RUNS=
# ---- run 1: TCP listener, every feature ----
if start tcp "$T/tcp.yml"; then
	RUNS="$RUNS tcp"
	r=$(q "127.0.0.1:$PORT" good.test testing.test multistring.test nxdomain.test notfound.test)
	r2=$(q "127.0.0.1:$PORT" good.test)
	m=$(timeout -k 2 "$(tscale 15)" ip netns exec "$MTSW_NS" curl -s --max-time "$(tscale 5)" "http://127.0.0.1:$MPORT/metrics" || true)
	list=$(ctl list)
	show=$(ctl show good.test)
	kill -HUP "$DPID" || true # a failed kill shows as "no reload logged"
	for _ in $(seq 1 "$(tscale 100)"); do
		grep -q 'configuration reloaded' "$DLOG" && break
		sleep 0.1
	done
	r3=$(q "127.0.0.1:$PORT" multistring.test)
	for _ in $(seq 1 50); do [ -s "$T/tlsrpt.lines" ] && break; sleep 0.1; done
	uid=$(awk '/^Uid:/ { print $2 ":" $3 ":" $4 }' "/proc/$DPID/status" 2>/dev/null || true)
	stop tcp
	# The run must have done what it is meant to show, or the trace proves
	# little.
	why=
	case $r in *"OK secure match=mail.good.test "*) ;; *) why="$why lookups: '$r';" ;; esac
	case $r2$r3 in *"OK secure"*"OK secure"*) ;; *) why="$why cached/after reload: '$r2' '$r3';" ;; esac
	case $m in *mtastsd_*) ;; *) why="$why metrics: '$(printf '%s' "$m" | head -c 200)';" ;; esac
	case $list in *good.test*) ;; *) why="$why cache list: '$list';" ;; esac
	case $show in *good.test*) ;; *) why="$why cache show: '$show';" ;; esac
	grep -q 'configuration reloaded' "$DLOG" || why="$why no reload logged;"
	[ -s "$T/tlsrpt.lines" ] || why="$why no TLSRPT datagram;"
	n=$(id -u nobody)
	[ "$uid" = "$n:$n:$n" ] || why="$why Uid $uid;"
	[ -z "$why" ] && pass "tcp: lookups, cached lookup, metrics, cache list/show, SIGHUP, TLSRPT datagram, as nobody" ||
		fail "tcp: exercise" "$why"
fi

# ---- run 2: UNIX listener over the same cache file ----
if start unix "$T/unix.yml"; then
	RUNS="$RUNS unix"
	r=$(q "unix:$LSOCK" good.test charset.test)
	stop unix
	case $r in *"OK secure match=mail.good.test "*"OK "*) pass "unix: lookups over the UNIX socket, from the cache file" ;;
	*) fail "unix: exercise" "lookups: '$r'" ;; esac
fi

# ---- mtasts-tlsrptd (as root, as its unit runs it): its collector ----
TLSRPTD=$(dirname "$MTASTS")/mtasts-tlsrptd
TUNIT=$MTSW_HERE/../../etc/systemd/mtasts-tlsrptd.service
TSTATE=$T/tr/state.db
if [ -x "$TLSRPTD" ] && [ -r "$TUNIT" ]; then
	mkdir -p "$T/tr"
	cat >"$T/tlsrptd.yml" <<EOF
state_db: $TSTATE
host_name: mta1.sender.test
collector:
  socket: $T/tr/tlsrpt.sock
  mode: "0660"
report:
  organization_name: mtasts test sender
  contact_info: tlsrpt@sender.test
  resolver: $MTSW_RESOLVER
  timeout: 5
EOF
	ip netns exec "$MTSW_NS" strace -f -qq -y -o "$T/tlsrptd.trace" \
		"$TLSRPTD" -c "$T/tlsrptd.yml" >"$T/tlsrptd.out" 2>"$T/tlsrptd.log" &
	SPID=$!
	for _ in $(seq 1 "$(tscale 200)"); do
		[ -n "$DPID" ] || DPID=$(pgrep -x -P "$SPID" mtasts-tlsrptd 2>/dev/null | head -n 1) || true
		[ -S "$T/tr/tlsrpt.sock" ] && [ -n "$DPID" ] && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	python3 - "$T/tr/tlsrpt.sock" <<'EOF' || true
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
msg = b'{"dpv":"1","d":"live.test","pr":"v=TLSRPTv1; rua=mailto:a@live.test","policies":[{"policy-type":9,"t":0,"f":0}]}'
for _ in range(3):
    s.sendto(msg, sys.argv[1])
EOF
	got=0
	for _ in $(seq 1 "$(tscale 100)"); do
		got=$(timeout -k 2 "$(tscale 15)" "$MTASTS" report show --state "$TSTATE" --domain live.test --json 2>/dev/null |
			python3 -c "import json,sys; a=json.load(sys.stdin)['aggregates']; print(a[0]['successful'] if a else 0)" 2>/dev/null || echo 0)
		[ "$got" = 3 ] && break
		sleep 0.1
	done
	stop tlsrptd
	[ "$got" = 3 ] && pass "tlsrptd: collector socket, 3 datagrams counted, SIGTERM" ||
		fail "tlsrptd: exercise" "$got datagrams counted; log: $(tail -c 400 "$T/tlsrptd.log")"
else
	echo "   (mtasts-tlsrptd not built or its unit missing: not checked)"
	TLSRPTD=
fi

# ---- mtasts report serve, as mtasts-report-serve.service runs it (its
# ExecStart= options; as root: DynamicUser= cannot be had here) ----
RUNIT=$MTSW_HERE/../../etc/systemd/mtasts-report-serve.service
RDB=$S/reports/tlsrpt.db
SERVE=
if [ -r "$RUNIT" ]; then
	mkdir -p "$S/reports"
	: >"$T/serve.out"
	MTASTS_REPORT_DB=$RDB ip netns exec "$MTSW_NS" strace -f -qq -y -o "$T/serve.trace" \
		"$MTASTS" report serve --listen 127.0.0.1:0 --max-conn-per-ip 0 --rate 600/min \
		>"$T/serve.out" 2>"$T/serve.err" &
	SPID=$!
	RPORT=
	for _ in $(seq 1 "$(tscale 200)"); do
		[ -n "$DPID" ] || DPID=$(pgrep -x -P "$SPID" mtasts 2>/dev/null | head -n 1) || true
		RPORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$T/serve.out")
		[ -n "$RPORT" ] && [ -n "$DPID" ] && break
		kill -0 "$SPID" 2>/dev/null || break
		sleep 0.1
	done
	code=$(timeout -k 2 "$(tscale 20)" ip netns exec "$MTSW_NS" curl -s -o /dev/null -w '%{http_code}' \
		--max-time "$(tscale 10)" -H 'Content-Type: application/tlsrpt+json' \
		--data-binary "@$MTSW_HERE/../fixtures/tlsrpt/html/google-2026-11-01.json" \
		"http://127.0.0.1:$RPORT/" || true)
	stop serve
	SERVE=serve
	[ "$code" = 201 ] && pass "serve: a report POSTed and stored, SIGTERM" ||
		fail "serve: exercise" "HTTP '$code'; $(tail -c 400 "$T/serve.err")"
	# its retention, as mtasts-report-prune.service runs it
	PUNIT=$MTSW_HERE/../../etc/systemd/mtasts-report-prune.service
	out=$(MTASTS_REPORT_DB=$RDB timeout -k 2 "$(tscale 30)" strace -f -qq -y -o "$T/prune.trace" \
		"$MTASTS" report prune --older-than 400 2>&1 || true)
	case $out in
	*": deleted 0 inputs and 0 reports received before "*) pass "prune: ran on the store, nothing old" ;;
	*) fail "prune: exercise" "$out" ;;
	esac
	SERVE="serve prune"
else
	echo "   (etc/systemd/mtasts-report-serve.service missing: not checked)"
fi

# ---- the traces against the units ----
# names TRACE: "COUNT NAME" of every system call in TRACE.
names() {
	{
		grep -oE '^[0-9]+ +[a-z_0-9]+\(' "$1" | sed -E 's/^[0-9]+ +//; s/\($//'
		grep -oE '^[0-9]+ +<\.\.\. [a-z_0-9]+ resumed>' "$1" | sed -E 's/.*<\.\.\. //; s/ resumed>//'
	} | sort | uniq -c | sort -rn
}

# check_trace NAME UNIT MUST-WRITE [UID]: $T/NAME.trace against the
# sandbox of UNIT; MUST-WRITE is a file the run is known to write (else
# the parser missed the opens); with UID, also no way back to root after
# the switch to UID.
check_trace() {
	local name=$1 unit=$2 must=$3 uid=${4:-} tr=$T/$1.trace bad n why families protect what
	if [ ! -s "$tr" ]; then
		fail "$name: trace" "no $tr"
		return
	fi
	# (a) SystemCallFilter=
	names "$tr" >"$T/$name.names"
	n=$(wc -l <"$T/$name.names")
	if [ -z "$(directive "$unit" SystemCallFilter)" ]; then
		echo "   ($name: the unit has no SystemCallFilter=; $n system calls seen)"
	elif why=$(allowed_set "$unit" "$T/$name.allowed"); then
		bad=$(awk 'NR == FNR { ok[$1] = 1; next } !($2 in ok) { printf "%s(%s) ", $2, $1 }' "$T/$name.allowed" "$T/$name.names")
		[ -z "$bad" ] && pass "$name: SystemCallFilter=: all $n system calls seen are allowed" ||
			fail "$name: SystemCallFilter=" "not allowed (count): $bad"
	else
		fail "$name: SystemCallFilter=" "$why"
	fi

	# (b) RestrictAddressFamilies=
	families=$(directive "$unit" RestrictAddressFamilies)
	grep -oE '^[0-9]+ +socket(pair)?\([A-Z_0-9]+' "$tr" | sed -E 's/.*\(//' | sort | uniq -c >"$T/$name.families"
	if [ -z "$families" ]; then
		echo "   ($name: the unit has no RestrictAddressFamilies=; used: $(awk '{ printf "%s(%s) ", $2, $1 }' "$T/$name.families"))"
	else
		bad=$(awk -v ok=" $families " 'index(ok, " " $2 " ") == 0 { printf "%s(%s) ", $2, $1 }' "$T/$name.families")
		[ -z "$bad" ] && pass "$name: RestrictAddressFamilies=$families: families used: $(awk '{ printf "%s(%s) ", $2, $1 }' "$T/$name.families")" ||
			fail "$name: RestrictAddressFamilies=" "not allowed (count): $bad"
	fi
	grep -q 'socket(AF_NETLINK' "$tr" && echo "   ($name: AF_NETLINK sockets: $(grep -c 'socket(AF_NETLINK' "$tr"))" || true

	# (c) MemoryDenyWriteExecute=
	bad=$(grep -E '^[0-9]+ +(mmap\([^,]*, [^,]*, [A-Z_|]*(PROT_WRITE[A-Z_|]*PROT_EXEC|PROT_EXEC[A-Z_|]*PROT_WRITE)|(pkey_)?mprotect\([^,]*, [^,]*, [A-Z_|]*PROT_EXEC|shmat\(.*SHM_EXEC)' "$tr" | head -n 5 || true)
	if [ "$(directive "$unit" MemoryDenyWriteExecute)" = yes ]; then
		[ -z "$bad" ] && pass "$name: MemoryDenyWriteExecute=yes: no writable+executable mapping, no mprotect to PROT_EXEC" ||
			fail "$name: MemoryDenyWriteExecute=" "$(printf '%s' "$bad" | tr '\n' ';')"
	fi

	# (d) ProtectSystem= (strict: with ReadWritePaths= and PrivateTmp=,
	# the state dir standing in for the unit's paths)
	protect=$(directive "$unit" ProtectSystem)
	bad=$(python3 - "$tr" "$protect" "$S" "$DLOG" "$MTSW_DIR" <<'EOF'
import os, re, sys
tr, protect, state, log, world = sys.argv[1:]
STR = r'"((?:[^"\\]|\\.)*)"'
DIR = r'(?:AT_FDCWD|-?\d+)<([^>]*)>'
# syscall -> patterns for (directory, path) of each written target
at = lambda n: [re.compile(r'^\d+ +%s\(%s, %s' % (n, DIR, STR))]
plain = lambda n: [re.compile(r'^\d+ +%s\(()%s' % (n, STR))]
rules = {
    "unlinkat": at("unlinkat"), "mkdirat": at("mkdirat"),
    "fchmodat": at("fchmodat"), "fchownat": at("fchownat"),
    "utimensat": at("utimensat"),
    "renameat": at("renameat") + [re.compile(r'^\d+ +renameat\([^"]*%s, %s, %s' % (STR, DIR, STR))],
    "renameat2": at("renameat2") + [re.compile(r'^\d+ +renameat2\([^"]*%s, %s, %s' % (STR, DIR, STR))],
    "linkat": [re.compile(r'^\d+ +linkat\([^"]*%s, %s, %s' % (STR, DIR, STR))],
    "symlinkat": [re.compile(r'^\d+ +symlinkat\(%s, %s, %s' % (STR, DIR, STR))],
    "unlink": plain("unlink"), "rmdir": plain("rmdir"), "mkdir": plain("mkdir"),
    "chmod": plain("chmod"), "chown": plain("chown"), "lchown": plain("lchown"),
    "truncate": plain("truncate"), "creat": plain("creat"),
    "rename": plain("rename") + [re.compile(r'^\d+ +rename\(%s, ()%s' % (STR, STR))],
    "link": [re.compile(r'^\d+ +link\(%s, ()%s' % (STR, STR))],
    "symlink": [re.compile(r'^\d+ +symlink\(%s, ()%s' % (STR, STR))],
}
opens = re.compile(r'^\d+ +(?:openat2?|open)\((?:%s, )?%s, ([A-Z_|0-9]+|\{[^}]*\})' % (DIR, STR))
bind = re.compile(r'^\d+ +bind\(.*sun_path=%s' % STR)
WRITE = re.compile(r'O_WRONLY|O_RDWR|O_CREAT|O_TRUNC')

def under(p, d):
    return p == d or p.startswith(d + "/")

def allowed(p):
    if protect in ("", "no", "false"):
        return True
    if protect != "strict":
        ro = ["/usr", "/boot", "/efi"] + (["/etc"] if protect == "full" else [])
        return not any(under(p, d) for d in ro)
    if p == log or p == "/dev/null" or p == state or p.startswith(state + "/"):
        return True
    if p == world or p.startswith(world + "/"):
        return False
    return p.startswith("/tmp/") or p.startswith("/var/tmp/")

seen = {}
good = set()
def note(d, p, call):
    # A relative path without the directory it is relative to stays
    # relative: never allowed.
    full = os.path.normpath(os.path.join(d, p) if d else p)
    if allowed(full):
        good.add(full)
    else:
        seen.setdefault(full, set()).add(call)

for line in open(tr, errors="replace"):
    m = re.match(r'^\d+ +([a-z_0-9]+)\(', line)
    if not m:
        continue
    call = m.group(1)
    if call in ("open", "openat", "openat2"):
        o = opens.match(line)
        if o and WRITE.search(o.group(3)):
            note(o.group(1), o.group(2), call)
    elif call == "bind":
        b = bind.match(line)
        if b and b.group(1) and not b.group(1).startswith("@"):
            note("", b.group(1), call)
    elif call in rules:
        for r in rules[call]:
            g = r.match(line)
            if g:
                note(g.groups()[-2], g.groups()[-1], call)
for p in sorted(seen):
    print("%s (%s)" % (p, ",".join(sorted(seen[p]))))
with open(tr + ".writes", "w") as f:
    f.write("".join(p + "\n" for p in sorted(good)))
EOF
	)
	grep -qxF "$must" "$tr.writes" || bad="(no write of $must seen: the trace parser is broken)"
	case $protect in
	strict) what="only in the state dir, the log, /dev/null and /tmp" ;;
	full) what="none under /usr, /boot, /efi, /etc" ;;
	*) what="none under /usr, /boot, /efi" ;;
	esac
	[ -z "$bad" ] && pass "$name: ProtectSystem=$protect: writes $what ($(wc -l <"$tr.writes") paths)" ||
		fail "$name: ProtectSystem=$protect: writes outside the allowed paths" "$(printf '%s' "$bad" | tr '\n' ';')"

	# (e) no way back to root after the switch to UID
	[ -n "$uid" ] || return 0
	bad=$(awk -v n="$uid" '
		!match($0, /^[0-9]+ +set(res|re|fs)?[ug]id\([^)<]*/) { next }
		{
			call = substr($0, RSTART, RLENGTH)
			sub(/^[0-9]+ +/, "", call)
			args = call
			sub(/^[a-z]+\(/, "", args)
			gsub(/ /, "", args)
			args = "," args ","
		}
		!dropped { if (call ~ /uid/ && args ~ ("," n ",")) dropped = 1; next }
		args ~ /,0,/ { print }
		END { if (!dropped) print "no setuid to " n " traced" }
	' "$tr" | head -n 5)
	[ -z "$bad" ] && pass "$name: after the switch to uid $uid no set*id call back to 0" ||
		fail "$name: privilege drop" "$(printf '%s' "$bad" | tr '\n' ';')"
}
for run in $RUNS; do
	check_trace "$run" "$UNIT" "$DB" "$(id -u nobody)"
done
[ -z "$TLSRPTD" ] || check_trace tlsrptd "$TUNIT" "$TSTATE"
[ -z "$SERVE" ] || check_trace serve "$RUNIT" "$RDB"
[ -z "$SERVE" ] || check_trace prune "$PUNIT" "$RDB"
echo "   (mtastsd: system calls seen, both runs: $(cat "$T"/tcp.names "$T"/unix.names 2>/dev/null | awk '{ print $2 }' | sort -u | wc -l))"

# MTS_SANDBOX_KEEP=DIR: keep the traces, configs and log there.
[ -z "${MTS_SANDBOX_KEEP:-}" ] || cp -r "$T" "$MTS_SANDBOX_KEEP"
summary
