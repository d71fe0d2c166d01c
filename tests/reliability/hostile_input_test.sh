#!/usr/bin/env bash
# hostile_input_test.sh - outside text that ends up in our replies, through the real milter path
# (Postfix -> mxguard): a DNSBL TXT record with NUL, 8-bit bytes, printf directives, CR/LF, a
# fake reply line and 5 KB of text; a HELO name with printf directives and 8-bit bytes (and one
# with a NUL); a callout target whose RCPT reply is 5 KB over 26 lines with the same, a bare CR
# and a line with another reply code. Each time the client must see exactly one reply per
# command, every line printable ASCII of at most 510 octets with its reply's code, the reply we
# intend (exact first line), and a session that goes on normally (DATA, QUIT -> 221, closed).
# Must not: depend on what Postfix itself does with such bytes beyond "it passes them or
# refuses them"; the daemon must survive either way.
set -uo pipefail
MXGUARD=$1
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/testbed/testbed.sh"
tb_init
tb_require python3 postfix

# 192.0.2.6 is listed; its TXT is hostile and 20 x 255 octets long (nsd answers it over TCP).
long=""
for i in $(seq 20); do long+=" \"$(printf "%0255d" 0 | tr 0 "$(printf "\\x$(printf %x $((96 + i)))")")\""; done
cat > "$TB_DIR/records" <<EOF
6.2.0.192.dnsbl     A     127.0.0.2
6.2.0.192.dnsbl     TXT   "nul \\000 8bit \\200\\255 %s %n %% \\013\\010550 5.7.1 injected" $long
EOF
TB_EXTRA_RECORDS="$TB_DIR/records" start_nsd || exit 1
PROBE_PORT=$(free_port)
python3 "$here/testbed/scripted_smtp.py" --port "$PROBE_PORT" --mode hostile > /dev/null 2>&1 &
probe_pid=$!
stop_probe() { kill "$probe_pid" 2>/dev/null; }
TB_CLEANUP_HOOKS+=(stop_probe)
wait_port 127.0.0.1 "$PROBE_PORT" 10 || { bad "hostile SMTP server did not start"; exit 1; }
cat > "$TB_DIR/policy.conf" <<EOF
[engine]
stages = rbl helo callout
whitelist_clients =
[rbl]
zone = dnsbl.example.net=127.0.0.[2..11]*1
threshold = 1
[callout]
port = $PROBE_PORT
allow_private = yes
accept_all_probe = no
skip_domains = client.example.net
EOF
MILTER_PORT=$(free_port)
start_mxguard "$MXGUARD" "$TB_DIR/policy.conf" || exit 1
start_postfix || exit 1

# dialogue NAME: sends $TB_DIR/NAME.commands (bytes literals), judges the replies.
dialogue() {
  sed -i "s/@RCPT_DOMAIN/@$TB_MAIL_DOMAIN/" "$TB_DIR/$1.commands"
  python3 "$here/reliability/raw_dialogue.py" --port "$SMTP_PORT" \
    --commands "$TB_DIR/$1.commands" > "$TB_DIR/$1.json"
}
# check NAME INDEX EXPECTED_FIRST_LINE MAX_LINES: reply INDEX (0 = the first command's) begins
# with that line and has at most MAX_LINES lines; no problems; QUIT got 221 and the end.
check() {
  python3 - "$TB_DIR/$1.json" "$2" "$3" "$4" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
i, want, most = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
r = d["replies"]
errors = list(d["problems"])
if len(r) <= i:
    errors.append("only %d replies" % len(r))
else:
    if r[i][0] != want:
        errors.append("reply %d begins %r, expected %r" % (i, r[i][0][:300], want[:300]))
    if len(r[i]) > most:
        errors.append("reply %d has %d lines (at most %d)" % (i, len(r[i]), most))
    print("   reply: %d lines, the last: %r" % (len(r[i]), r[i][-1][:120]))
if not r or not r[-1][-1].startswith("221 ") or not d["closed"]:
    errors.append("the session did not end with 221 and a close: %r" % (r[-1:] if r else None))
for e in errors:
    print("   " + e)
sys.exit(1 if errors else 0)
EOF
}
alive() { kill -0 "$MXGUARD_PID" 2>/dev/null; }

# 1. The TXT record.
cat > "$TB_DIR/txt.commands" <<'EOF'
b"EHLO mail.client.example.net"
b"XCLIENT ADDR=192.0.2.6 NAME=[UNAVAILABLE]"
b"EHLO mail.client.example.net"
b"MAIL FROM:<a@client.example.net>"
b"RCPT TO:<user@RCPT_DOMAIN>"
b"MESSAGE"
b"QUIT"
EOF
dialogue txt
if check txt 4 "554-5.7.1 Service unavailable; Client host [192.0.2.6] blocked using dnsbl.example.net; nul ? 8bit ?? %s %n %% ??550 5.7.1" 32; then
  ok "hostile TXT: one reply, printable, <= 510 octets a line, the fake reply stays text"
else bad "hostile TXT (see above)"; fi

# 2. HELO names: printf directives and 8-bit bytes; then a NUL.
cat > "$TB_DIR/helo.commands" <<'EOF'
b"EHLO mail.client.example.net"
b"XCLIENT ADDR=192.0.2.10 NAME=mail.client.example.net"
b"EHLO mail%s%n%%\xff\xfe.example.net"
b"MAIL FROM:<a@client.example.net>"
b"RCPT TO:<user@RCPT_DOMAIN>"
b"QUIT"
EOF
dialogue helo
if check helo 4 "501 5.5.2 <mail%s%n%%??.example.net>: Helo command rejected: Invalid name (character '%' is not allowed in a host name)" 1; then
  ok "hostile HELO: one line, bytes replaced, '%' kept as text"
else bad "hostile HELO (see above)"; fi
cat > "$TB_DIR/helo-nul.commands" <<'EOF'
b"EHLO mail.client.example.net"
b"XCLIENT ADDR=192.0.2.10 NAME=mail.client.example.net"
b"EHLO mail\x00evil.example.net"
b"MAIL FROM:<a@client.example.net>"
b"RCPT TO:<user@RCPT_DOMAIN>"
b"QUIT"
EOF
dialogue helo-nul
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("   NUL HELO replies:", [r[0][:100] for r in d["replies"]]); sys.exit(1 if d["problems"] else 0)' \
  "$TB_DIR/helo-nul.json" && ok "HELO with a NUL: every reply well-formed" || bad "HELO with a NUL: $(cat "$TB_DIR/helo-nul.json")"
alive && ok "daemon alive after the hostile HELOs" || bad "daemon died"

# 3. The callout target's hostile RCPT reply.
cat > "$TB_DIR/callout.commands" <<'EOF'
b"EHLO mail.client.example.net"
b"XCLIENT ADDR=192.0.2.10 NAME=mail.client.example.net"
b"EHLO mail.client.example.net"
b"MAIL FROM:<bob@sender.example.net>"
b"RCPT TO:<user@RCPT_DOMAIN>"
b"MESSAGE"
b"QUIT"
EOF
dialogue callout
want="550-5.1.7 <bob@sender.example.net>: Sender address rejected: undeliverable address: host smtp.sender.example.net[127.0.0.1] said: 550 5.1.1 evil %s %n %% ? ?? caf?? bare?CR 250 2.1.5 Ok xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx  5.1.1 evil %s %n %% ? ?? caf?? bare?CR 250 2.1.5 Ok"
if check callout 4 "$want" 32; then
  ok "hostile callout reply: one reply, printable, <= 510 octets a line, no injected reply"
else bad "hostile callout reply (see above)"; fi
# The same with a 250 line inside the 550 reply: a broken server's answer is no answer.
sed 's/bob@sender/mixed@sender/' "$TB_DIR/callout.commands" > "$TB_DIR/mixed.commands"
dialogue mixed
if check mixed 4 "450 4.1.7 <mixed@sender.example.net>: Sender address rejected: unverified address: host smtp.sender.example.net[127.0.0.1]: reply code changed within a multi-line reply (at RCPT TO)" 1; then
  ok "callout reply whose code changes mid-reply: unverified (4xx), never read as a 250"
else bad "mixed-code callout reply (see above)"; fi
alive && ok "daemon alive at the end" || bad "daemon died"
stop_mxguard || bad "mxguard did not stop cleanly (or a sanitizer report)"
tb_summary
