// explanations.cpp - the one table of texts for `mxguard-check --explain`: per check (the
// stage.outcome reason), what it means in plain words and what the sender must do about it.
// {client}, {helo}, {sender} and {domain} are filled in from the transaction.
// Must not: hold evidence (that comes from the trace) or any text another file repeats: a new
// check gets its row here and nowhere else.
#include "harness/explanations.h"

#include <array>

namespace mxguard::harness {
namespace {

struct Row {
  std::string_view reason;  // "helo.invalid"; "ratelimit.*" matches every limit
  Explanation text;
};

// clang-format off
const std::array kRows{
    Row{"rbl.listed", {
        "The receiving server looks up your sending address {client} in DNS blocklists. A list it "
        "trusts lists that address, so it refuses mail from it.",
        "Look {client} up on the list's web site: the reply quotes the list's reason, usually with "
        "a lookup or delisting address. Fix the cause first (a compromised machine or account "
        "sending spam, an open relay, a dynamic address, a bad neighbour on a shared address), then "
        "request delisting there. Until then, send through a relay that is not listed (your ISP's "
        "or mail provider's smarthost)."}},
    Row{"rbl.dns_failure", {
        "The receiving server could not look {client} up in a blocklist (the list's servers did "
        "not answer). This is the receiver's problem, not yours.",
        "Nothing: your server retries a deferred message by itself."}},
    Row{"helo.missing", {
        "Your server sent MAIL FROM without first greeting with HELO or EHLO (RFC 5321 4.1.4).",
        "Configure your mail software to send EHLO with its fully-qualified host name before "
        "MAIL FROM. Every standard MTA does this; a script or device that talks SMTP by hand "
        "must too."}},
    Row{"helo.invalid", {
        "The name your server gives in HELO/EHLO ({helo}) is not a valid host name or address "
        "literal (RFC 5321 4.1.2): host names hold only letters, digits, '-' and '.' (no '_', no "
        "spaces).",
        "Set your server's host name (Postfix: myhostname; Exchange: the FQDN of the send "
        "connector) to its real, fully-qualified DNS name, e.g. mail.example.com, with the bad "
        "character removed."}},
    Row{"helo.bare_ip", {
        "Your server greets with a bare IP address ({helo}) instead of a host name or an address "
        "literal such as [192.0.2.1].",
        "Set the HELO name to your server's fully-qualified host name, one that resolves to "
        "{client} and that {client}'s PTR record names."}},
    Row{"helo.non_fqdn", {
        "The HELO name {helo} is not fully qualified (no domain part), so it cannot identify your "
        "server on the Internet.",
        "Set the HELO name to a fully-qualified DNS name such as mail.example.com that resolves "
        "to {client}."}},
    Row{"helo.literal_mismatch", {
        "Your server greets with an address literal ({helo}) that is not the address it connects "
        "from ({client}).",
        "Use your real host name in HELO, or at least the literal of the address you connect "
        "from. Behind NAT, the public address is what counts."}},
    Row{"helo.forged", {
        "Your server claims to be the receiving server itself (or one of its addresses) in HELO "
        "({helo}), which only forged mail does.",
        "Set the HELO name to your own server's host name."}},
    Row{"helo.unresolvable", {
        "The HELO name {helo} does not resolve in DNS (no A or AAAA record).",
        "Publish an A (and/or AAAA) record for {helo} pointing at {client}, or use a HELO name "
        "that has one."}},
    Row{"helo.reverse_mismatch", {
        "The HELO name {helo} is not the name the reverse DNS (PTR) of {client} gives.",
        "Make them agree: set the HELO name to the PTR name of {client}, or ask whoever controls "
        "{client}'s reverse zone (usually your ISP or hosting provider) to set the PTR to {helo}."}},
    Row{"helo.dns_failure", {
        "The receiving server could not check your HELO name in DNS right now.",
        "Usually nothing: the message is deferred and retried. If it persists, check that the "
        "DNS servers of {helo}'s domain answer."}},
    Row{"access.reject", {
        "The receiving server's administrator listed your address, server, sender or this "
        "recipient in a local access list that refuses mail; the reply carries their reason.",
        "Read the reply: it is the administrator's own text, often with whom to write. No DNS or "
        "configuration change on your side lifts a local entry: ask the receiving site's "
        "postmaster (postmaster@ is always reachable) to remove it."}},
    Row{"access.tempfail", {
        "The receiving server's administrator asked, in a local access list, that mail like this "
        "be deferred for now.",
        "Nothing at first: your server retries by itself. If it keeps being deferred, ask the "
        "receiving site's postmaster."}},
    Row{"rdns.no_ptr", {
        "Your sending address {client} has no reverse DNS (PTR) record. Large providers refuse "
        "mail from such addresses: legitimate mail servers have one.",
        "Ask whoever owns {client} (your ISP, hosting or cloud provider: the 'reverse DNS' "
        "setting) to publish a PTR record naming your mail server, e.g. mail.example.com, and "
        "make that name resolve back to {client}. If you cannot, send through your provider's "
        "relay."}},
    Row{"rdns.not_confirmed", {
        "The reverse DNS of {client} names a host that does not resolve back to {client} "
        "(forward-confirmed reverse DNS fails), so the name cannot be trusted.",
        "Make the PTR name of {client} have an A/AAAA record pointing back to {client}, or change "
        "the PTR to a name that does."}},
    Row{"rdns.dynamic", {
        "The reverse DNS name of {client} looks like a dynamic or residential address (it "
        "contains words like 'dyn', 'dsl' or the address's digits). Mail servers are expected on "
        "static addresses with their own names.",
        "Send through your ISP's or mail provider's relay (smarthost), or get a static address "
        "with a PTR record naming your mail server."}},
    Row{"rdns.dns_failure", {
        "The receiving server could not look up the reverse DNS of {client} right now.",
        "Usually nothing: the message is retried. If it persists, check that the reverse zone's "
        "name servers (your provider's) answer."}},
    Row{"spf.fail", {
        "The SPF record of {domain} (the domain of {sender}, or of the HELO name for bounces) "
        "says that {client} may not send its mail: the receiver treats it as forged.",
        "If {client} is yours and legitimate, add it to {domain}'s SPF record (an ip4:/ip6: term "
        "or an include: of your provider), keeping within 10 DNS-querying terms. If it is not, "
        "send {domain}'s mail only through the servers the record lists."}},
    Row{"spf.softfail", {
        "The SPF record of {domain} says {client} is probably not authorised (~all). This policy "
        "accepts it, but stricter receivers may not.",
        "Add {client} to {domain}'s SPF record, or send through a listed server."}},
    Row{"spf.neutral", {
        "The SPF record of {domain} makes no statement about {client} (?all).",
        "List your sending servers in the record and end it with -all or ~all."}},
    Row{"spf.none", {
        "{domain} publishes no SPF record, so nothing tells receivers which servers may send "
        "its mail. Large providers increasingly require SPF (or DKIM) for delivery.",
        "Publish a TXT record at {domain}, e.g. \"v=spf1 ip4:{client} -all\" (with every server "
        "and provider that sends as {domain})."}},
    Row{"spf.permerror", {
        "The SPF record of {domain} is broken (a syntax error, two records, or too many DNS "
        "lookups), so it cannot be evaluated: receivers treat that as an error of the domain.",
        "Fix the record: exactly one TXT record starting \"v=spf1\", valid terms (see the problem "
        "quoted in the evidence), at most 10 terms that cause DNS lookups (include, a, mx, ptr, "
        "exists, redirect)."}},
    Row{"spf.temperror", {
        "The DNS servers of {domain} did not answer the SPF lookup in time.",
        "Check that {domain}'s name servers answer TXT queries from the Internet; the message "
        "itself is retried."}},
    Row{"callout.malformed", {
        "The sender address {sender} contains control characters (such as CR or LF) or is longer "
        "than SMTP allows (local part 64, domain 255, whole path 256 octets), so it cannot be "
        "verified or used for bounces.",
        "Send from a well-formed address of normal length; check the software that builds the "
        "envelope sender (a script must not pass user input into MAIL FROM unchecked)."}},
    Row{"dkim.no_valid_signature", {
        "Mail from {domain} must carry a valid DKIM signature by {domain} at this receiver, and "
        "this message has none that verifies.",
        "Sign all outgoing mail for {domain} with DKIM (d={domain}), with an RSA key of at least "
        "1024 bits (2048 recommended) or ed25519, and rsa-sha256, not rsa-sha1; publish the key "
        "at <selector>._domainkey.{domain}. Make sure nothing changes the message after signing."}},
    Row{"dkim.fail", {
        "A DKIM signature on the message does not verify: the signed header fields or the body "
        "changed after signing, or the key in DNS is not the one that signed.",
        "Check that the published key matches the signing key, and that nothing (a footer, a "
        "virus scanner, a mailing list) modifies the message after it was signed."}},
    Row{"dkim.policy", {
        "A DKIM signature uses what current standards refuse (rsa-sha1, or an RSA key under 1024 "
        "bits, RFC 8301), so it does not count as valid.",
        "Sign with rsa-sha256 (or ed25519-sha256) and an RSA key of at least 1024 bits; 2048 is "
        "the common choice."}},
    Row{"dkim.permerror", {
        "A DKIM signature cannot be used: its tags are malformed, it has expired, or its key "
        "record is missing or broken.",
        "Check the DKIM-Signature (v=1, d=, s=, b=, bh=) and publish the key record at "
        "<selector>._domainkey.<domain>."}},
    Row{"dkim.temperror", {
        "The receiver could not fetch the DKIM key right now.",
        "Check that the domain's name servers answer TXT queries for "
        "<selector>._domainkey.<domain>; the message is retried."}},
    Row{"dkim.bad_signature", {
        "Every DKIM signature on the message failed verification: the message was changed after "
        "it was signed, or the signature is forged.",
        "Find what modifies the message after signing (a footer, a virus scanner, a relay that "
        "rewrites headers) and sign after it, or stop it; check that the published key matches "
        "the signing key."}},
    Row{"dmarc.fail", {
        "The domain in the message's From field publishes a DMARC policy asking receivers to "
        "refuse mail that neither SPF nor DKIM authenticates for it, and this message is not "
        "authenticated for it: SPF did not pass for an envelope sender aligned with it, and no "
        "valid DKIM signature by it (or, relaxed, by its organisation) was found. The reply "
        "names the policy and what passed and failed.",
        "If you send for that domain: sign the mail with DKIM as that domain (d=), or send it "
        "with an envelope sender in that domain whose SPF record lists your servers. If you "
        "forward mail or run a mailing list: rewrite the From field to your own domain, or ask "
        "the receiver to trust your server as a forwarder."}},
    Row{"dmarc.temperror", {
        "The receiver could not look up the DMARC policy of the From field's domain "
        "(_dmarc.<domain>) right now.",
        "Check that the domain's name servers answer TXT queries; the message is retried."}},
    Row{"dmarc.no_from", {
        "The message has no From field with an address, so no domain's DMARC policy can be "
        "applied to it (RFC 7489 6.6.1).",
        "Add a From field with the author's address (RFC 5322 3.6 requires exactly one)."}},
    Row{"dmarc.multiple_from", {
        "The From field names addresses of several domains (or the message has several From "
        "fields), so a receiver cannot tell whose DMARC policy applies (RFC 7489 6.6.1).",
        "Put one author in From; name other authors elsewhere (e.g. in the body or Reply-To)."}},
    Row{"greylist.greylisted", {
        "The receiving server greylists: it defers the first delivery attempt from a sender it "
        "has not seen before (your server's network, your address, the recipient) and accepts "
        "the retry after a few minutes. Real mail servers retry by themselves; most spam "
        "software does not.",
        "Nothing, if your server queues and retries deferred mail (every standard MTA does, "
        "within minutes): the retry after the time the reply names is accepted. A script or "
        "device that sends mail directly must retry on a 4xx reply, or send through your "
        "provider's relay."}},
    Row{"greylist.store_failure", {
        "The receiving server could not reach its greylisting database. This is the receiver's "
        "problem, not yours.",
        "Nothing: your server retries a deferred message by itself."}},
    Row{"headers.missing_date", {
        "The message has no Date header field, which RFC 5322 3.6 requires.",
        "Let your mail client or server add a Date field; a script that writes mail by hand must "
        "add \"Date: <RFC 5322 date>\"."}},
    Row{"headers.missing_from", {
        "The message has no From header field, which RFC 5322 3.6 requires.",
        "Add a From field with the author's address."}},
    Row{"headers.duplicate", {
        "A header field that may appear only once (Date, From, Subject, Message-ID, To, ...) "
        "appears more than once.",
        "Fix the software that writes the message so each of those fields appears once."}},
    Row{"headers.date_syntax", {
        "The Date header field is not a valid RFC 5322 date.",
        "Write dates like \"Tue, 1 Dec 2026 10:00:00 +0000\" (RFC 5322 3.3)."}},
    Row{"headers.date_range", {
        "The Date header field is very old or in the future: often a wrong clock or spam.",
        "Set the sending machine's clock (NTP) and time zone."}},
    Row{"headers.message_id_syntax", {
        "The Message-ID header field is not of the form <id@domain>.",
        "Let the mail server generate Message-IDs, or write <unique-part@your-domain>."}},
    Row{"headers.field_name", {
        "A header field name holds characters RFC 5322 does not allow (only printable ASCII "
        "without ':' or spaces).",
        "Fix the software that writes the message header."}},
    Row{"headers.line_length", {
        "A header line is longer than 998 characters (RFC 5322 2.1.1).",
        "Fold long header fields (a line break followed by a space)."}},
    Row{"headers.eight_bit", {
        "A header field holds raw 8-bit (non-ASCII) bytes without SMTPUTF8.",
        "Encode non-ASCII header text as RFC 2047 encoded-words, or send with SMTPUTF8."}},
    Row{"headers.nul", {
        "The message header contains a NUL byte, which no valid message contains.",
        "Fix the software that writes the message."}},
    Row{"headers.from_syntax", {
        "The From header field does not hold a valid address (RFC 5322 3.6.2).",
        "Write From as \"Name <user@example.com>\" or just user@example.com."}},
    Row{"callout.reject", {
        "The receiver asked the mail server of {domain} whether {sender} exists, and that server "
        "said no: bounces to this sender could not be delivered.",
        "Send from an address that exists and accepts mail (bounces must be deliverable), or "
        "create the mailbox."}},
    Row{"callout.unverified", {
        "The receiver could not verify that {sender} accepts mail (the domain's mail server did "
        "not answer or deferred).",
        "Make sure {domain}'s MX servers are reachable on port 25 and accept RCPT TO for this "
        "address; the message is retried."}},
    Row{"callout.null_sender_refused", {
        "The mail server of {domain} refuses mail from the null sender <>, which RFC 5321 4.5.5 "
        "requires every server to accept (bounces come from it).",
        "Configure {domain}'s mail server to accept MAIL FROM:<>."}},
    Row{"callout.null_mx", {
        "{domain} publishes a null MX (RFC 7505): it declares that it receives no mail, so its "
        "addresses cannot be senders either.",
        "Send from a domain that receives mail, or remove the null MX."}},
    Row{"callout.domain_not_found", {
        "The sender's domain {domain} does not exist in DNS.",
        "Send from a registered domain that resolves."}},
    Row{"behaviour.too_many_rsets", {
        "Your server aborted many transactions (RSET) in one connection, which address-testing "
        "bots do.",
        "Send each message once, and do not probe addresses with MAIL/RCPT/RSET."}},
    Row{"behaviour.too_many_rejected_recipients", {
        "Many of the recipients your server tried in this connection were refused: this looks "
        "like address harvesting or a stale list.",
        "Clean your recipient list: remove addresses that bounce."}},
    Row{"behaviour.helo_changed", {
        "Your server changed its HELO name in the middle of the connection.",
        "Use one fixed HELO name (your server's host name)."}},
    Row{"behaviour.too_many_messages", {
        "Your server sent more messages over one connection than this receiver allows.",
        "Nothing is lost: the connection is closed with a 421 and your server continues on a new "
        "one. Lower the messages-per-connection setting of your MTA if you see this often."}},
    Row{"ratelimit.*", {
        "Your server sent more than this receiver's rate limit allows (the reply names the limit "
        "and when to come back).",
        "Nothing is lost: the message is deferred (4xx) and your server retries. Spread bulk "
        "sending over time; for regular high volume, ask the receiving admin."}},
    Row{"ratelimit.store_failure", {
        "The receiver could not check its rate limits right now.",
        "Nothing: the receiver's problem; the message is retried if deferred."}},
};
// clang-format on

}  // namespace

const Explanation* explanationFor(std::string_view reason) {
  std::string key(reason);
  if (key.rfind("callout.cached_", 0) == 0) key = "callout." + key.substr(15);
  for (const auto& row : kRows)
    if (row.reason == key) return &row.text;
  size_t dot = key.find('.');
  if (dot != std::string::npos) {
    std::string wildcard = key.substr(0, dot) + ".*";
    for (const auto& row : kRows)
      if (row.reason == wildcard) return &row.text;
  }
  return nullptr;
}

std::vector<std::string_view> explainedReasons() {
  std::vector<std::string_view> out;
  for (const auto& row : kRows) out.push_back(row.reason);
  return out;
}

}  // namespace mxguard::harness
