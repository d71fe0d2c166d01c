# fixtures.sh - what every benchmark shares, sourced after tests/testbed/testbed.sh and tb_init:
#   bench_fixtures  the test zones plus the blocklists the policies name, a DKIM key, the SPF
#                   records, nsd started on them; the DKIM-signed message smtp-source sends
#                   ($TB_DIR/message.eml, LF line ends) from $sender to $rcpt
#   start_callout_target  an SMTP server that accepts every recipient, on $PROBE_PORT (stopped
#                   at exit), for the callout stage
#   all_policy      the everything-on policy on stdout (uses $PROBE_PORT); greylist with delay 0
#                   and auto_allow_after 1, so the one client passes and is then auto-allowed
#   all_maps_policy [clients|recipients]  all_policy plus an [access] section: a cidr map of
#                   100,000 random networks for the client and an address map of 100,000 random
#                   addresses for the recipients (bench/access_maps.py, fixed seed, written once
#                   into $TB_DIR/maps/), neither matching the benchmark's client or recipient, so
#                   every message is looked up in both and still runs every stage; with an
#                   argument, only that map (to tell their costs apart); BENCH_MAP_ENTRIES sets
#                   another size (the reports still say 100,000)
# Must not: start anything but nsd and the callout target, or write outside $TB_DIR.

bench_fixtures() {
  # ---- zones: the test bed's, plus the blocklists the policies name (each lists 192.0.2.2 only) ----
  zones="$TB_DIR/zones"
  mkdir -p "$zones"
  cp "$here"/tests/testbed/zones/*.zone "$zones/"
  blocklist_zone() {  # NAME
    cat > "$zones/$1.zone" <<EOF
\$ORIGIN $1.
\$TTL 300
@          SOA  ns.example.net. hostmaster.example.net. 1 3600 600 86400 60
@          NS   ns.example.net.
2.2.0.192  A    127.0.0.2
2.2.0.192  TXT  "listed for the benchmark"
EOF
  }
  bench_zone_names="zen.spamhaus.org"
  for i in 1 2 3 4 5; do bench_zone_names+=" bl$i.bench.example"; done
  for z in $bench_zone_names; do blocklist_zone "$z"; done
  TB_ZONES_DIR="$zones"

  # A 2048-bit DKIM key for spfpass.example.net, and SPF for the callout sender's domain.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TB_DIR/dkim.key" 2>/dev/null
  pub=$(openssl pkey -in "$TB_DIR/dkim.key" -pubout 2>/dev/null | grep -v '^-----' | tr -d '\n')
  txt="v=DKIM1; k=rsa; p=$pub"
  record="bench._domainkey.spfpass  TXT "
  for ((i = 0; i < ${#txt}; i += 250)); do record+=" \"${txt:i:250}\""; done
  # The From domain publishes p=reject; its DKIM signature aligns, so every message passes DMARC.
  { echo "$record"; echo 'sender              TXT   "v=spf1 ip4:198.18.0.1 -all"'
    echo '_dmarc.spfpass      TXT   "v=DMARC1; p=reject"'; } > "$TB_DIR/extra.zone"
  export TB_EXTRA_RECORDS="$TB_DIR/extra.zone"
  start_nsd || return 1

  # The message smtp-source sends (-F: verbatim), signed by an independent signer (dkimpy).
  sender=bench@sender.example.net
  rcpt="user@$TB_MAIL_DOMAIN"
  {
    printf 'From: Bench <bench@spfpass.example.net>\r\nTo: <%s>\r\nSubject: benchmark\r\n' "$rcpt"
    printf 'Date: %s\r\nMessage-ID: <bench.%s@spfpass.example.net>\r\n' "$(date -R)" "$$"
    printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n'
    for i in $(seq 30); do printf 'Line %02d of a benchmark message body, about seventy characters.\r\n' "$i"; done
  } > "$TB_DIR/plain.eml"
  dkimsign --hcanon relaxed --bcanon relaxed bench spfpass.example.net "$TB_DIR/dkim.key" \
    < "$TB_DIR/plain.eml" | tr -d '\r' > "$TB_DIR/message.eml" || { echo "bench: dkimsign failed" >&2; return 1; }
}

start_callout_target() {
  PROBE_PORT=$(free_port)
  python3 "$here/tests/testbed/scripted_smtp.py" --port "$PROBE_PORT" --mode accept-all > /dev/null 2>&1 &
  probe_pid=$!
  stop_probe() { kill "$probe_pid" 2>/dev/null; }
  TB_CLEANUP_HOOKS+=(stop_probe)
}

all_policy() {  # the everything-on policy
  cat <<EOF
[engine]
stages = rbl helo rdns behaviour ratelimit spf callout greylist headers dkim dmarc
whitelist_clients =
[rbl]
$(for i in 1 2 3 4 5; do echo "zone = bl$i.bench.example=127.0.0.[2..11]"; done)
threshold = 1
[ratelimit]
limit = mail_per_ip key=client_ip count=messages rate=1000000/min burst=1000000
[callout]
port = $PROBE_PORT
allow_private = yes
[greylist]
# No wait, and the client network is auto-allowed after its first message: the benchmark's one
# client measures the steady state of a regular sender (one store call that finds it allowed).
delay = 0s
auto_allow_after = 1
EOF
}

all_maps_policy() {  # [clients|recipients]: the everything-on policy with access maps
  if [[ ! -s "$TB_DIR/maps/recipients" ]]; then
    mkdir -p "$TB_DIR/maps"
    python3 "$here/bench/access_maps.py" "$TB_DIR/maps" --entries "${BENCH_MAP_ENTRIES:-100000}" \
      --seed 23 --client 198.18.0.1 --recipient "$rcpt" > "$TB_DIR/maps/made.txt" || return 1
  fi
  all_policy
  echo "[access]"
  # Relative to the policy file, which is written into $TB_DIR.
  [[ ${1:-clients} == clients ]] && echo "clients = cidr:maps/clients.cidr"
  [[ ${1:-recipients} == recipients ]] && echo "recipients = address:maps/recipients"
  return 0
}
