# shellcheck shell=bash
# dnssec.sh: the DNSSEC part of the test world (opt-in: MTSW_DNSSEC=1).
# Sourced by world.sh, whose helpers (zone-less: issue, policy_good,
# in_ns, wait_for, die) and variables ($D, $NEXT_ADDR) it uses.
#
# It adds a signed zone "dane.test." and two unbound instances of its own,
# and changes nothing in the normal world (whose resolver stays a plain,
# non-validating unbound on 127.0.0.1, so the other tests are unaffected):
#   127.0.0.5:53  unbound, authoritative only (auth-zone for-downstream):
#                 serves dane.test.zone.signed (AA, never AD)
#   127.0.0.4:53  unbound, validating ("validator iterator"): trust anchor
#                 = the DS of dane.test.'s KSK, stub-zone dane.test. ->
#                 127.0.0.5, forward-zone test. -> 127.0.0.1 (the normal
#                 world, unsigned: insecure, no AD). Its answers for
#                 dane.test names carry the AD bit.
# The normal resolver (127.0.0.1) also gets an (insecure) delegation of
# dane.test. to 127.0.0.5, so curl and Postfix in the world find the
# dane.test hosts too.
#
# Keys: ECDSAP256SHA256 (algorithm 13) ZSK and KSK made here, at test time,
# with ldns-keygen; ldns-signzone -n (NSEC3) signs. Signatures are valid
# from now for 4 weeks (ldns-signzone's default).
#
# Domains (the case table is in tests/integration/README.md, "DNSSEC"):
#   dane-good.dane.test     MX mail.dane-good.dane.test, which has a TLSA
#                           record (_25._tcp, 3 1 1 of its key); MTA-STS
#                           policy (enforce, mx mail.D and *.mx.D)
#   sts-only.dane.test      MX without TLSA; MTA-STS policy
#   dane-partial.dane.test  two MX hosts, only mail.D has TLSA (a.mx.D has
#                           none); MTA-STS policy
# Env (appended to STATE_DIR/env):
#   MTSW_DNSSEC_RESOLVER=127.0.0.4:53   the validating resolver
#   MTSW_DNSSEC_AUTH=127.0.0.5:53       the signing server (answers AA only)

DNSSEC_VAL_ADDR=127.0.0.4
DNSSEC_AUTH_ADDR=127.0.0.5
DNSSEC_ZONE=dane.test

# dzone "OWNER RR...": one line of the dane.test. zone file.
dzone() {
	local line="$*" rr
	rr=${line#* }
	rr=${rr#"${rr%%[! ]*}"}
	printf '%-42s %s\n' "${line%% *}" "$rr" >>"$D/dnssec-auth/dane.test.zone"
}

# dnssec_tlsa NAME: a "3 1 1" TLSA RDATA for a key and certificate made
# for NAME by the world CA (SHA-256 of its SubjectPublicKeyInfo).
dnssec_tlsa() {
	issue ca "$1" "DNS:$1"
	printf '3 1 1 %s' "$(openssl x509 -in "$D/certs/$1.pem" -noout -pubkey |
		openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)"
}

# dnssec_host D: the policy host mta-sts.D (A record in dane.test., nginx
# server block, certificate), serving policy_good D. Mirrors host() of
# world.sh, which writes its A record into test. instead.
dnssec_host() {
	local d=$1 h=mta-sts.$1 addr
	[ "$NEXT_ADDR" -lt 99 ] || die "policy host addresses run into 127.0.0.99"
	addr=127.0.0.$NEXT_ADDR
	NEXT_ADDR=$((NEXT_ADDR + 1))
	issue ca "$h" "DNS:$h"
	policy_good "$d" >"$D/policies/$d.txt"
	mkdir -p "$D/www/$h/.well-known"
	cp "$D/policies/$d.txt" "$D/www/$h/.well-known/mta-sts.txt"
	dzone "$h. A $addr"
	echo "$h $addr" >>"$D/addrs"
	cat >>"$D/nginx/hosts.conf" <<EOF

server {
    listen $addr:443 ssl;
    server_name $h;
    ssl_certificate     $D/certs/$h.pem;
    ssl_certificate_key $D/certs/$h.key;
    root $D/www/$h;
    location = /.well-known/mta-sts.txt {
        types { }
        default_type "text/plain";
    }
}
EOF
}

# dnssec_sts D ID: _mta-sts TXT record and policy host for D.
dnssec_sts() {
	dzone "_mta-sts.$1. TXT \"v=STSv1; id=$2;\""
	dnssec_host "$1"
}

# dnssec_define: write and sign the zone, write both unbound configs, add
# the delegation to the normal test. zone. Call after define_cases and
# before the world adds the addresses of $D/addrs and starts nginx.
dnssec_define() {
	local a=$D/dnssec-auth v=$D/dnssec-val zsk ksk
	if ! command -v ldns-keygen >/dev/null || ! command -v ldns-signzone >/dev/null; then
		die "MTSW_DNSSEC needs ldnsutils (ldns-keygen, ldns-signzone)"
	fi
	mkdir -p "$a" "$v"
	: >"$a/dane.test.zone"

	# shellcheck disable=SC2016 # a literal $TTL
	dzone '$TTL 300'
	dzone "$DNSSEC_ZONE. SOA ns.$DNSSEC_ZONE. hostmaster.$DNSSEC_ZONE. 1 3600 600 86400 300"
	dzone "$DNSSEC_ZONE. NS ns.$DNSSEC_ZONE."
	dzone "ns.$DNSSEC_ZONE. A $DNSSEC_AUTH_ADDR"

	dzone "dane-good.dane.test. MX 10 mail.dane-good.dane.test."
	dzone "mail.dane-good.dane.test. A 127.0.0.254"
	dzone "_25._tcp.mail.dane-good.dane.test. TLSA $(dnssec_tlsa mail.dane-good.dane.test)"
	dnssec_sts dane-good.dane.test danegood1

	dzone "sts-only.dane.test. MX 10 mail.sts-only.dane.test."
	dzone "mail.sts-only.dane.test. A 127.0.0.254"
	dnssec_sts sts-only.dane.test stsonly1

	dzone "dane-partial.dane.test. MX 10 mail.dane-partial.dane.test."
	dzone "dane-partial.dane.test. MX 20 a.mx.dane-partial.dane.test."
	dzone "mail.dane-partial.dane.test. A 127.0.0.254"
	dzone "a.mx.dane-partial.dane.test. A 127.0.0.254"
	dzone "_25._tcp.mail.dane-partial.dane.test. TLSA $(dnssec_tlsa mail.dane-partial.dane.test)"
	dnssec_sts dane-partial.dane.test danepartial1

	# Keys and signature (ldns-keygen prints the base name of its files).
	zsk=$(cd "$a" && ldns-keygen -a ECDSAP256SHA256 "$DNSSEC_ZONE") ||
		die "ldns-keygen (ZSK) failed"
	ksk=$(cd "$a" && ldns-keygen -a ECDSAP256SHA256 -k "$DNSSEC_ZONE") ||
		die "ldns-keygen (KSK) failed"
	(cd "$a" && ldns-signzone -n dane.test.zone "$zsk" "$ksk") ||
		die "ldns-signzone failed"
	if [ ! -s "$a/dane.test.zone.signed" ] || [ ! -s "$a/$ksk.ds" ]; then
		die "signing dane.test produced no signed zone or DS"
	fi
	# One line, whitespace squeezed: "dane.test. 3600 IN DS tag 13 2 hex".
	tr -s ' \t' '  ' <"$a/$ksk.ds" | head -n 1 >"$a/trust-anchor.ds"

	# The normal resolver: an insecure delegation (test. is unsigned).
	zone "$DNSSEC_ZONE. NS ns.$DNSSEC_ZONE."
	zone "ns.$DNSSEC_ZONE. A $DNSSEC_AUTH_ADDR"

	unbound_conf "$a" "
    interface: $DNSSEC_AUTH_ADDR
    access-control: 127.0.0.0/8 allow
    module-config: \"iterator\"
    local-zone: \"test.\" nodefault

auth-zone:
    name: \"$DNSSEC_ZONE.\"
    zonefile: \"$a/dane.test.zone.signed\"
    for-downstream: yes
    for-upstream: no
    fallback-enabled: no" >"$a/unbound.conf"

	unbound_conf "$v" "
    interface: $DNSSEC_VAL_ADDR
    access-control: 127.0.0.0/8 allow
    module-config: \"validator iterator\"
    do-not-query-localhost: no
    local-zone: \"test.\" nodefault
    qname-minimisation: no
    val-log-level: 2
    trust-anchor: \"$(cat "$a/trust-anchor.ds")\"

stub-zone:
    name: \"$DNSSEC_ZONE.\"
    stub-addr: $DNSSEC_AUTH_ADDR

forward-zone:
    name: \"test.\"
    forward-addr: 127.0.0.1" >"$v/unbound.conf"
	unbound-checkconf "$a/unbound.conf" >/dev/null || die "dnssec-auth: bad unbound.conf"
	unbound-checkconf "$v/unbound.conf" >/dev/null || die "dnssec-val: bad unbound.conf"
}

# Readiness: the signing server answers authoritatively, the validator
# answers with the AD bit.
dnssec_auth_ready() {
	in_ns dig @"$DNSSEC_AUTH_ADDR" +norec +time=1 +tries=1 SOA "$DNSSEC_ZONE" |
		grep -q 'flags: qr aa'
}
dnssec_val_ready() {
	in_ns dig @"$DNSSEC_VAL_ADDR" +dnssec +time=1 +tries=1 MX dane-good.dane.test |
		grep -Eq 'flags: qr rd ra ad;|flags:[a-z ]* ad[ ;]'
}

# dnssec_start: start both servers (after the world's own), wait until the
# validator's answers are authenticated, print the env lines.
dnssec_start() {
	local a
	for a in "$DNSSEC_VAL_ADDR" "$DNSSEC_AUTH_ADDR"; do
		in_ns ip addr add "$a/32" dev lo
	done
	start_unbound dnssec-auth
	wait_for "signing unbound ($DNSSEC_AUTH_ADDR)" dnssec_auth_ready
	start_unbound dnssec-val
	wait_for "validating unbound ($DNSSEC_VAL_ADDR, AD bit)" dnssec_val_ready
}

dnssec_env() {
	echo "MTSW_DNSSEC_RESOLVER=$DNSSEC_VAL_ADDR:53"
	echo "MTSW_DNSSEC_AUTH=$DNSSEC_AUTH_ADDR:53"
}
