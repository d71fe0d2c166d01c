#!/usr/bin/env bash
# miltertest_protocol_test.sh - milter protocol edges against the real daemon on a unix socket,
# with nsd for DNS: miltertest runs milter_protocol.lua (message sequences, aborts, missing macros,
# odd HELOs, abrupt disconnects); a small raw milter client checks what miltertest cannot see (the
# exact reply text, a 10 KB HELO); libmilter's malformed-macro crash out of other users' reach
# (the socket refuses them); then the daemon's log lines and a clean SIGTERM exit; last,
# max_connections = 2 answers the third connection 421 4.7.0 through libmilter.
# Must not: use any network beyond loopback, or leave a process or file behind (testbed traps EXIT).
set -uo pipefail
MXGUARD=${1:?usage: miltertest_protocol_test.sh MXGUARD MXGUARD-CHECK}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/testbed/testbed.sh
source "$here/../testbed/testbed.sh"

tb_require miltertest python3 nsd nsd-checkconf dig
[[ -x "$MXGUARD" ]] || { echo "FAIL: $MXGUARD is not executable"; exit 1; }
tb_init

start_nsd || { echo "FAIL: nsd did not start"; exit 1; }
MXGUARD_SOCKET="unix:$TB_DIR/mxguard.sock"
start_mxguard "$MXGUARD" "$here/policies/integration.conf" || { echo "FAIL: mxguard did not start"; exit 1; }

# 1. miltertest: every "ok:"/"FAIL:" line of the script counts.
miltertest -D "socket=$MXGUARD_SOCKET" -s "$here/milter_protocol.lua" > "$TB_DIR/miltertest.out" 2>&1
mt_rc=$?
cat "$TB_DIR/miltertest.out"
passed=$((passed + $(grep -c '^ok: ' "$TB_DIR/miltertest.out")))
failed=$((failed + $(grep -c '^FAIL: ' "$TB_DIR/miltertest.out")))
if [[ $mt_rc -eq 0 ]]; then ok "miltertest script completed"
else bad "miltertest exited $mt_rc"; fi

# 2. The raw client: the exact reply text at RCPT, and a 10 KB HELO (miltertest would overflow its
# own 1024-byte buffers). Speaks milter protocol 6 as Postfix does; prints ok:/FAIL: lines.
cat > "$TB_DIR/raw_milter_client.py" <<'PY'
import socket, struct, sys

path = sys.argv[1]
results = []

def report(ok, msg):
    print(("ok: " if ok else "FAIL: ") + msg)

class Milter:
    def __init__(self):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(path)
        # Postfix 3.7 offers version 6, all actions, all protocol steps.
        self.send(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
        cmd, data = self.read()
        assert cmd == b"O", cmd
        self.proto = struct.unpack(">III", data[:12])[2]

    def send(self, cmd, data=b""):
        self.s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def readn(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError("milter closed the connection")
            b += c
        return b

    def read(self):
        n = struct.unpack(">I", self.readn(4))[0]
        body = self.readn(n)
        return body[:1], body[1:]

    def macros(self, stage, pairs):
        self.send(b"D", stage + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in pairs))

    def step(self, cmd, data):
        self.send(cmd, data)
        return self.read()

    def close(self):
        self.send(b"Q")
        self.s.close()

def connect(name, addr, helo):
    m = Milter()
    m.macros(b"C", [("j", "mx.example.net"), ("{client_addr}", addr), ("{client_name}", name),
                    ("{client_ptr}", name)])
    cmd, _ = m.step(b"C", name.encode() + b"\0" + b"4" + struct.pack(">H", 4321) + addr.encode() + b"\0")
    assert cmd == b"c", cmd
    cmd, _ = m.step(b"H", helo + b"\0")
    assert cmd == b"c", cmd
    cmd, _ = m.step(b"M", b"<sender@client.example.net>\0")
    assert cmd == b"c", cmd
    return m

def rcpt_reply(m, rcpt):
    cmd, data = m.step(b"R", rcpt + b"\0")
    return cmd, data.rstrip(b"\0")

def printable(b):
    return all(0x20 <= c < 0x7F or c in (0x0D, 0x0A) for c in b)

# (a) the listed client's exact reply
m = connect("listed.example.net", "192.0.2.2", b"listed.example.net")
cmd, text = rcpt_reply(m, b"<user@example.org>")
want = (b"554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using dnsbl.example.net; "
        b"Listed for spam, see https://dnsbl.example.net/lookup?ip=192.0.2.2")
report(cmd == b"y" and text == want,
       "raw: listed client RCPT reply is exactly %r (got %r %r)" % (want.decode(), cmd, text))
m.close()

# (b) a HELO with CR/LF inside: one sanitised line, no CR/LF from the HELO, code 501 5.5.2
m = connect("mail.client.example.net", "192.0.2.10", b"bad\r\nname.example.net")
cmd, text = rcpt_reply(m, b"<user@example.org>")
want = (b"501 5.5.2 <bad??name.example.net>: Helo command rejected: Invalid name "
        b"(character 0x0D is not allowed in a host name)")
report(cmd == b"y" and text == want and printable(text),
       "raw: CR/LF HELO reply is exactly %r (got %r)" % (want.decode(), text))
m.close()

# (c) a 10 KB HELO: rejected as invalid, every line <= 512 octets with CRLF, at most 32 lines
long_helo = ((b"x" * 63 + b".") * 160)[:-1] + b"x"  # 10240 octets, labels fine, no root dot
assert len(long_helo) == 10240
m = connect("mail.client.example.net", "192.0.2.10", long_helo)
cmd, text = rcpt_reply(m, b"<user@example.org>")
lines = text.split(b"\r\n")
long_lines = [len(l) + 2 for l in lines if len(l) + 2 > 512]
codes_ok = all(l[:3] == b"501" and l[4:9] == b"5.5.2" for l in lines)
conts_ok = all(l[3:4] == b"-" for l in lines[:-1]) and lines[-1][3:4] == b" "
report(cmd == b"y" and codes_ok and conts_ok and not long_lines and len(lines) <= 32 and printable(text),
       "raw: 10 KB HELO rejected with 501 5.5.2 in %d line(s), each <= 512 octets (too long: %s)"
       % (len(lines), long_lines))
# The reply quotes only the start of the name (64 octets and "..."); the problem names its size.
want = (b"501 5.5.2 <" + b"x" * 63 + b"....>: Helo command rejected: Invalid name "
        b"(name longer than 255 octets (10240))")
report(text == want, "raw: 10 KB HELO reply is exactly %r (got %r)" % (want.decode(), text))
m.close()

# (d) after all that the daemon still answers a clean client with continue
m = connect("mail.client.example.net", "192.0.2.10", b"mail.client.example.net")
cmd, text = rcpt_reply(m, b"<user@example.org>")
report(cmd == b"c", "raw: clean client still accepted afterwards (got %r %r)" % (cmd, text))
m.close()

# (e) DATA, header fields and body chunks go unanswered (SMFIP_NR_DATA, SMFIP_NR_HDR, SMFIP_NR_BODY,
# asked for because no stage decides at DATA and the client hears nothing before the final dot);
# end of headers and end of message are answered.
import select
def silent(m):
    return not select.select([m.s], [], [], 0.5)[0]
m = connect("mail.client.example.net", "192.0.2.10", b"mail.client.example.net")
report(m.proto & 0x90080 == 0x90080 and m.proto & 0x100000,
       "raw: negotiated no reply for DATA, headers and body, values with their leading space (0x%x)" % m.proto)
cmd, text = rcpt_reply(m, b"<user@example.org>")
m.send(b"T")  # DATA
report(silent(m), "raw: no reply to DATA")
for name, value in ((b"From", b" <sender@client.example.net>"), (b"Subject", b" unanswered")):
    m.send(b"L", name + b"\0" + value + b"\0")
report(silent(m), "raw: no reply to the header fields")
cmd, _ = m.step(b"N", b"")
report(cmd == b"c", "raw: end of headers answered continue (got %r)" % cmd)
m.send(b"B", b"first chunk\r\n")
m.send(b"B", b"second chunk\r\n")
report(silent(m), "raw: no reply to the body chunks")
m.send(b"E", b"")
replies = []
while not replies or replies[-1] not in (b"c", b"a", b"r", b"t", b"y", b"d"):
    replies.append(m.read()[0])
report(replies[-1] == b"c" and silent(m),
       "raw: end of message answered continue, nothing after it (got %r)" % replies)
m.close()
PY
python3 "$TB_DIR/raw_milter_client.py" "$TB_DIR/mxguard.sock" > "$TB_DIR/raw.out" 2>&1
raw_rc=$?
cat "$TB_DIR/raw.out"
passed=$((passed + $(grep -c '^ok: ' "$TB_DIR/raw.out")))
failed=$((failed + $(grep -c '^FAIL: ' "$TB_DIR/raw.out")))
[[ $raw_rc -eq 0 ]] || bad "raw milter client exited $raw_rc"

# 3. The transaction lines: one per message, envelope reset between messages, the right action.
expect_log() {
  local label=$1 regex=$2 i
  for ((i = 0; i < 60; i++)); do
    if grep -qE -- "$regex" "$MXGUARD_LOG"; then ok "log: $label"; return; fi
    sleep 0.05
  done
  bad "log: $label: no line matches /$regex/"
}
C10='client=mail\.client\.example\.net\[192\.0\.2\.10\] helo=<mail\.client\.example\.net>'
expect_log "two messages, first" "MTMULTI1: $C10 from=<a1@client\.example\.net> to=<user@example\.org>,<user2@example\.org> stages=.* action=accept"
expect_log "two messages, second has only its own envelope" "MTMULTI2: $C10 from=<a2@client\.example\.net> to=<user3@example\.org> stages=.* action=accept"
expect_log "abort after MAIL" "MTABORT1: $C10 from=<b1@client\.example\.net> stages=.* action=abort"
expect_log "accepted after abort 1" "MTAFTER1: $C10 from=<b2@client\.example\.net> to=<user@example\.org> stages=.* action=accept"
expect_log "abort after RCPT" "MTABORT2: $C10 from=<c1@client\.example\.net> to=<user@example\.org> stages=.* action=abort"
expect_log "accepted after abort 2" "MTAFTER2: .* from=<c2@client\.example\.net> .*action=accept"
expect_log "abort in DATA" "MTABORT3: .* from=<d1@client\.example\.net> .*action=abort"
expect_log "accepted after abort 3" "MTAFTER3: .* from=<d2@client\.example\.net> .*action=accept"
expect_log "listed client, postmaster accepted, user rejected" \
  "MTLISTED1: client=listed\.example\.net\[192\.0\.2\.2\] helo=<listed\.example\.net> from=<spam@listed\.example\.net> to=<postmaster@example\.org> rejected=<user@example\.org> 554 5\.7\.1 stages=.*rbl:listed.* action=accept"
# Its stages are the connection's (rbl at connect) only: the first message's postmaster exemption
# is not part of the second transaction.
expect_log "listed client, second transaction rejected, trace of this transaction only" \
  "MTLISTED2: client=listed\.example\.net\[192\.0\.2\.2\] helo=<listed\.example\.net> from=<spam2@listed\.example\.net> rejected=<user@example\.org> 554 5\.7\.1 stages=rbl:listed/delayed action=reject reason=rbl\.listed "
expect_log "no macros: address from conninfo, no queue id" \
  "NOQUEUE: $C10 from=<nomacro@client\.example\.net> to=<user@example\.org> stages=.* action=accept"
expect_log "no macros: forged HELO rejected through --hostname" \
  "NOQUEUE: client=mail\.client\.example\.net\[192\.0\.2\.10\] helo=<mx\.example\.net> from=<forger@client\.example\.net> rejected=<user@example\.org> 550 5\.7\.1 .*action=reject"
# Without an address the address-based stages skip (traced), the helo stage still runs, and the
# recipient is accepted (continue); the script disconnects after RCPT, hence action=abort.
expect_log "no address at all: rbl and rdns skip, recipient accepted" \
  "NOQUEUE: client=unknown-host\.example\.net\[unknown\] helo=<mail\.client\.example\.net> from=<noaddr@client\.example\.net> to=<user@example\.org> stages=rbl:skip,rdns:skip,helo:ok action=abort"
expect_log "re-HELO judged afresh" "MTREHELO: $C10 from=<rehelo@client\.example\.net> to=<user@example\.org> "
expect_log "CR/LF HELO sanitised in the log" \
  "MTCRLF: client=mail\.client\.example\.net\[192\.0\.2\.10\] helo=<bad\?\?name\.example\.net> .*rejected=<user@example\.org> 501 5\.5\.2 .*action=reject"
expect_log "abrupt disconnect still logged" "MTDROPPED: $C10 from=<dropped@client\.example\.net> .*action=(abort|disconnect)"
expect_log "served after abrupt disconnect" "MTAFTERDROP: $C10 from=<e@client\.example\.net> to=<user@example\.org> stages=.* action=accept"
expect_log "10 KB HELO cut to 100 characters in the log" \
  "helo=<(xxxxxxxxxx){6}xxx\.(x){36}\.\.\.> "
if grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$MXGUARD_LOG"; then bad "log: control characters in the mxguard log"
else ok "log: no control characters in the mxguard log"; fi

# 3b. libmilter reads past its macro array on a macro packet whose last name has no value, and
# the daemon dies (tests/reliability/libmilter_macro_crash.py; reported upstream). Nothing in
# mxguard can catch it, so the socket is the protection: a unix socket of mode 0660, which a
# local user outside its group cannot even connect to. Sent as user nobody: refused, still alive.
if [[ $(id -u) -eq 0 ]] && id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null \
   && [[ -x /usr/bin/python3 ]]; then
  mode=$(stat -c %a "$TB_DIR/mxguard.sock")
  out=$(setpriv --reuid nobody --regid "$(id -g nobody)" --clear-groups /usr/bin/python3 \
    "$here/../reliability/libmilter_macro_crash.py" "$MXGUARD_SOCKET" 2>&1); rc=$?
  if [[ $rc -eq 2 && "$out" == "refused: Permission denied" && "$mode" == 660 ]] && kill -0 "$MXGUARD_PID" 2>/dev/null; then
    ok "the malformed macro packet from another local user (nobody): socket mode $mode refuses the connection, daemon alive"
  else bad "malformed macro packet as nobody: rc=$rc, socket mode $mode: $out"; fi
else
  echo "skip: the other-user check needs root, a 'nobody' user, setpriv and /usr/bin/python3"
fi

# 4. Still alive after everything, then a clean SIGTERM exit.
if kill -0 "$MXGUARD_PID" 2>/dev/null; then ok "daemon alive after all protocol edges"
else bad "daemon died during the protocol edges; log tail:"; tail -20 "$MXGUARD_LOG" | sed 's/^/    /'; fi
stop_mxguard
rc=$?
if [[ $rc -eq 0 ]]; then ok "mxguard exited 0 on SIGTERM, no sanitizer report"
else bad "mxguard stop: exit status $rc; log tail:"; tail -20 "$MXGUARD_LOG" | sed 's/^/    /'; fi
[[ -S "$TB_DIR/mxguard.sock" ]] && echo "note: the unix socket $TB_DIR/mxguard.sock is left behind after exit"

# 5. max_connections through libmilter: with a limit of 2, the third connection hears 421 4.7.0
# at connect (the MTA closes the session), logged once; after one closes, a new one is served.
printf 'max_connections = 2\n' > "$TB_DIR/limit.conf"
MXGUARD_SOCKET="unix:$TB_DIR/limited.sock"
start_mxguard "$MXGUARD" "$here/policies/integration.conf" --config "$TB_DIR/limit.conf" \
  || { bad "mxguard with max_connections = 2 did not start"; tb_summary; exit 1; }
python3 - "$TB_DIR/limited.sock" > "$TB_DIR/limit.out" 2>&1 <<'PY'
import socket, struct, sys
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    return s
def send(s, cmd, data=b""):
    s.sendall(struct.pack(">I", len(data) + 1) + cmd + data)
def read(s):
    n = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))[0]
    b = s.recv(n, socket.MSG_WAITALL)
    return b[:1], b[1:].rstrip(b"\0")
def connect():
    s = conn()
    send(s, b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)); read(s)
    send(s, b"D", b"C" + b"\0".join([b"j", b"mx.example.net", b"{client_addr}", b"192.0.2.10"]) + b"\0")
    send(s, b"C", b"mail.client.example.net\0" + b"4" + struct.pack(">H", 4321) + b"192.0.2.10\0")
    return s, read(s)
a, ra = connect()
b, rb = connect()
c, rc = connect()
print("first:", ra[0].decode(), "second:", rb[0].decode())
print("third:", rc[0].decode(), rc[1].decode())
send(a, b"Q"); a.close()
import time; time.sleep(0.3)
d, rd = connect()
print("after one closed:", rd[0].decode())
PY
cat "$TB_DIR/limit.out"
grep -qx "first: c second: c" "$TB_DIR/limit.out" && ok "max_connections = 2: two connections served" \
  || bad "max_connections = 2: $(cat "$TB_DIR/limit.out")"
grep -qx "third: y 421 4.7.0 mx.example.net Error: too many connections; try again later" "$TB_DIR/limit.out" \
  && ok "max_connections = 2: the third hears '421 4.7.0 mx.example.net Error: too many connections; try again later'" \
  || bad "max_connections = 2, third connection: $(cat "$TB_DIR/limit.out")"
grep -qx "after one closed: c" "$TB_DIR/limit.out" && ok "max_connections = 2: after one closed, a new one is served" \
  || bad "max_connections = 2, after a close: $(cat "$TB_DIR/limit.out")"
grep -q "warning: connection from 192.0.2.10 refused with 421 4.7.0: 2 connections open, the limit (max_connections = 2)" "$MXGUARD_LOG" \
  && ok "max_connections = 2: the refusal is logged" || bad "no refusal line in the log: $(tail -5 "$MXGUARD_LOG")"
stop_mxguard || bad "mxguard (max_connections = 2) did not stop cleanly"

tb_summary
