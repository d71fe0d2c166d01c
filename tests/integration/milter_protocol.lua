-- milter_protocol.lua - milter protocol edges against a running mxguard (run by
-- miltertest_protocol_test.sh): several messages per connection, aborts (RSET) between them,
-- missing macros, a re-sent HELO, a HELO with CR/LF, an abrupt disconnect, and the listed client's
-- recipient rejected while postmaster@ stays open. Globals from miltertest -D: socket.
-- Must not: send a HELO or read a reply longer than ~1000 bytes: miltertest copies both through
-- 1024-byte stack buffers (the 10 KB HELO is sent by the shell script's raw client instead).

local unpack = table.unpack or unpack
local failures = 0

local names = {
  [SMFIR_CONTINUE] = "continue", [SMFIR_ACCEPT] = "accept", [SMFIR_REJECT] = "reject",
  [SMFIR_TEMPFAIL] = "tempfail", [SMFIR_REPLYCODE] = "replycode", [SMFIR_DISCARD] = "discard",
}
local function name(r)
  if r == nil then return "nil" end
  return names[r] or ("'" .. string.char(math.floor(r)) .. "'")
end

local function check(cond, msg)
  if cond then
    mt.echo("ok: " .. msg)
  else
    mt.echo("FAIL: " .. msg)
    failures = failures + 1
  end
end

-- Every mt.* call returns nil on success or an error string; a protocol failure aborts the script.
local function must(err, what)
  if err ~= nil then error(what .. ": " .. tostring(err)) end
end

local function expect(conn, want, what)
  local got = mt.getreply(conn)
  check(got == want, what .. " -> " .. name(want) ..
        (got ~= want and (" (got " .. name(got) .. ")") or ""))
end

-- open(host, ip, connect_macros): a new milter connection with conninfo sent; connect macros
-- are name/value pairs as Postfix sends them (nil = none at all).
local function open(host, ip, macros)
  local conn = mt.connect(socket, 40, 0.25)
  if conn == nil then error("mt.connect(" .. socket .. ") failed") end
  if macros ~= nil then mt.macro(conn, SMFIC_CONNECT, unpack(macros)) end
  must(mt.conninfo(conn, host, ip), "conninfo " .. tostring(ip))
  return conn
end

local function postfix_macros(addr, name, ptr)
  return { "j", "mx.example.net", "{daemon_addr}", "127.0.0.1", "{client_addr}", addr,
           "{client_name}", name, "{client_ptr}", ptr }
end

-- message(conn, qid, from, rcpts, label): one whole message whose recipients are all accepted;
-- expects continue at every step including end of message.
local function message(conn, qid, from, rcpts, label)
  mt.macro(conn, SMFIC_MAIL, "i", qid)
  must(mt.mailfrom(conn, from), label .. " mailfrom")
  expect(conn, SMFIR_CONTINUE, label .. ": MAIL FROM " .. from)
  for _, r in ipairs(rcpts) do
    mt.macro(conn, SMFIC_RCPT, "i", qid)
    must(mt.rcptto(conn, r), label .. " rcptto")
    expect(conn, SMFIR_CONTINUE, label .. ": RCPT TO " .. r)
  end
  must(mt.header(conn, "From", from), label .. " header")
  must(mt.header(conn, "Subject", label), label .. " header")
  must(mt.eoh(conn), label .. " eoh")
  expect(conn, SMFIR_CONTINUE, label .. ": end of headers")
  must(mt.bodystring(conn, "body of " .. label .. "\r\n"), label .. " body")
  must(mt.eom(conn), label .. " eom")
  expect(conn, SMFIR_CONTINUE, label .. ": end of message")
end

mt.set_timeout(20)

-- 1. Several messages on one connection, and aborts (RSET) after MAIL, after RCPT and after the
-- headers, each followed by a message that must be accepted.
do
  local conn = open("mail.client.example.net", "192.0.2.10",
                    postfix_macros("192.0.2.10", "mail.client.example.net", "mail.client.example.net"))
  expect(conn, SMFIR_CONTINUE, "clean client: connect")
  must(mt.helo(conn, "mail.client.example.net"), "helo")
  expect(conn, SMFIR_CONTINUE, "clean client: HELO")
  message(conn, "MTMULTI1", "<a1@client.example.net>", { "<user@example.org>", "<user2@example.org>" }, "multi 1")
  message(conn, "MTMULTI2", "<a2@client.example.net>", { "<user3@example.org>" }, "multi 2")

  mt.macro(conn, SMFIC_MAIL, "i", "MTABORT1")
  must(mt.mailfrom(conn, "<b1@client.example.net>"), "mailfrom")
  expect(conn, SMFIR_CONTINUE, "abort after MAIL: MAIL FROM")
  must(mt.abort(conn), "abort")
  message(conn, "MTAFTER1", "<b2@client.example.net>", { "<user@example.org>" }, "after abort 1")

  mt.macro(conn, SMFIC_MAIL, "i", "MTABORT2")
  must(mt.mailfrom(conn, "<c1@client.example.net>"), "mailfrom")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  expect(conn, SMFIR_CONTINUE, "abort after RCPT: RCPT TO")
  must(mt.abort(conn), "abort")
  message(conn, "MTAFTER2", "<c2@client.example.net>", { "<user@example.org>" }, "after abort 2")

  mt.macro(conn, SMFIC_MAIL, "i", "MTABORT3")
  must(mt.mailfrom(conn, "<d1@client.example.net>"), "mailfrom")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  must(mt.header(conn, "Subject", "aborted in DATA"), "header")
  expect(conn, SMFIR_CONTINUE, "abort in DATA: header")
  must(mt.abort(conn), "abort")
  message(conn, "MTAFTER3", "<d2@client.example.net>", { "<user@example.org>" }, "after abort 3")
  must(mt.disconnect(conn), "disconnect")
end

-- 2. The listed client: user@ refused with a reply code (text checked by the shell script),
-- postmaster@ accepted in the same transaction, the message goes through; then, after RSET, a
-- new transaction is refused again (the held rejection belongs to the connection).
do
  local conn = open("listed.example.net", "192.0.2.2",
                    postfix_macros("192.0.2.2", "listed.example.net", "listed.example.net"))
  expect(conn, SMFIR_CONTINUE, "listed client: connect (rejection is delayed)")
  must(mt.helo(conn, "listed.example.net"), "helo")
  expect(conn, SMFIR_CONTINUE, "listed client: HELO (rejection is delayed)")
  mt.macro(conn, SMFIC_MAIL, "i", "MTLISTED1")
  must(mt.mailfrom(conn, "<spam@listed.example.net>"), "mailfrom")
  expect(conn, SMFIR_CONTINUE, "listed client: MAIL FROM (rejection is delayed)")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  expect(conn, SMFIR_REPLYCODE, "listed client: RCPT TO <user@example.org> rejected with a reply")
  must(mt.rcptto(conn, "<postmaster@example.org>"), "rcptto")
  expect(conn, SMFIR_CONTINUE, "listed client: RCPT TO <postmaster@example.org> (exempt)")
  must(mt.header(conn, "Subject", "to postmaster"), "header")
  must(mt.eom(conn), "eom")
  expect(conn, SMFIR_CONTINUE, "listed client: end of message to postmaster")
  mt.macro(conn, SMFIC_MAIL, "i", "MTLISTED2")
  must(mt.mailfrom(conn, "<spam2@listed.example.net>"), "mailfrom")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  expect(conn, SMFIR_REPLYCODE, "listed client: second transaction, RCPT TO rejected again")
  must(mt.abort(conn), "abort")
  must(mt.disconnect(conn), "disconnect")
end

-- 3. No macros at all (no {client_addr}, no j, no {i}); the address comes only from conninfo.
-- The client is the clean one: accepted; its HELO claims our name: the forged check must fall
-- back to --hostname (mx.example.net) and reject it.
do
  local conn = open("mail.client.example.net", "192.0.2.10", nil)
  expect(conn, SMFIR_CONTINUE, "no macros: connect")
  must(mt.helo(conn, "mail.client.example.net"), "helo")
  expect(conn, SMFIR_CONTINUE, "no macros: HELO")
  must(mt.mailfrom(conn, "<nomacro@client.example.net>"), "mailfrom")
  expect(conn, SMFIR_CONTINUE, "no macros: MAIL FROM")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  expect(conn, SMFIR_CONTINUE, "no macros: RCPT TO accepted")
  must(mt.eom(conn), "eom")
  expect(conn, SMFIR_CONTINUE, "no macros: end of message")
  must(mt.disconnect(conn), "disconnect")

  conn = open("mail.client.example.net", "192.0.2.10", nil)
  must(mt.helo(conn, "mx.example.net"), "helo")
  expect(conn, SMFIR_CONTINUE, "no macros, forged HELO: HELO (delayed)")
  must(mt.mailfrom(conn, "<forger@client.example.net>"), "mailfrom")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  expect(conn, SMFIR_REPLYCODE, "no macros, HELO mx.example.net: rejected via --hostname")
  must(mt.disconnect(conn), "disconnect")
end

-- 4. No address at all (conninfo family "unspec": libmilter passes no sockaddr) and no macros.
-- Neither the address-based stages nor the adapter may crash. Expected (see README): the address
-- checks cannot run, the message is accepted (continue), never a 5xx for a missing macro.
do
  local conn = open("unknown-host.example.net", "unspec", nil)
  expect(conn, SMFIR_CONTINUE, "no address: connect")
  must(mt.helo(conn, "mail.client.example.net"), "helo")
  expect(conn, SMFIR_CONTINUE, "no address: HELO")
  must(mt.mailfrom(conn, "<noaddr@client.example.net>"), "mailfrom")
  expect(conn, SMFIR_CONTINUE, "no address: MAIL FROM")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  expect(conn, SMFIR_CONTINUE, "no address: RCPT TO accepted (address checks cannot run)")
  must(mt.disconnect(conn), "disconnect")
end

-- 5. HELO sent twice: the second, valid one is judged afresh (a rejected first HELO must not
-- stick), then a HELO with CR/LF inside: rejected at RCPT, no crash (text checked by the script).
do
  local conn = open("mail.client.example.net", "192.0.2.10",
                    postfix_macros("192.0.2.10", "mail.client.example.net", "mail.client.example.net"))
  must(mt.helo(conn, "localhost"), "helo")
  expect(conn, SMFIR_CONTINUE, "re-HELO: first HELO localhost (delayed)")
  must(mt.helo(conn, "mail.client.example.net"), "helo")
  expect(conn, SMFIR_CONTINUE, "re-HELO: second HELO mail.client.example.net")
  mt.macro(conn, SMFIC_MAIL, "i", "MTREHELO")
  must(mt.mailfrom(conn, "<rehelo@client.example.net>"), "mailfrom")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  expect(conn, SMFIR_CONTINUE, "re-HELO: RCPT TO accepted (first HELO forgotten)")
  must(mt.disconnect(conn), "disconnect")

  conn = open("mail.client.example.net", "192.0.2.10",
              postfix_macros("192.0.2.10", "mail.client.example.net", "mail.client.example.net"))
  must(mt.helo(conn, "bad\r\nname.example.net"), "helo")
  expect(conn, SMFIR_CONTINUE, "CR/LF HELO: HELO (delayed)")
  mt.macro(conn, SMFIC_MAIL, "i", "MTCRLF")
  must(mt.mailfrom(conn, "<crlf@client.example.net>"), "mailfrom")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  expect(conn, SMFIR_REPLYCODE, "CR/LF HELO: RCPT TO rejected with a reply")
  must(mt.disconnect(conn), "disconnect")
end

-- 6. An abrupt disconnect in the middle of a message (no QUIT, no abort), then a new connection
-- is served normally.
do
  local conn = open("mail.client.example.net", "192.0.2.10",
                    postfix_macros("192.0.2.10", "mail.client.example.net", "mail.client.example.net"))
  must(mt.helo(conn, "mail.client.example.net"), "helo")
  mt.macro(conn, SMFIC_MAIL, "i", "MTDROPPED")
  must(mt.mailfrom(conn, "<dropped@client.example.net>"), "mailfrom")
  must(mt.rcptto(conn, "<user@example.org>"), "rcptto")
  must(mt.header(conn, "Subject", "dropped"), "header")
  must(mt.disconnect(conn, false), "abrupt disconnect")

  conn = open("mail.client.example.net", "192.0.2.10",
              postfix_macros("192.0.2.10", "mail.client.example.net", "mail.client.example.net"))
  must(mt.helo(conn, "mail.client.example.net"), "helo")
  message(conn, "MTAFTERDROP", "<e@client.example.net>", { "<user@example.org>" }, "after abrupt disconnect")
  must(mt.disconnect(conn), "disconnect")
end

if failures > 0 then error(failures .. " check(s) failed") end
mt.echo("milter_protocol.lua: all checks passed")
