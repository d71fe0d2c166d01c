// dkim_stage.cpp - header fields, end of headers, body chunks and end of message go into one
// libopendkim verify handle per message; at end of message each signature is classified
// (dkim_result.h), recorded for Authentication-Results, and checked against
// require_signature_from and bad_signature.
// Must not: throw or crash on the data plane: every libopendkim status is checked, and resource
// or internal errors become temperror results, never exceptions.
#include "stages/dkim/dkim_stage.h"

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "config/config_error.h"
#include "stages/dkim/dkim_alignment.h"
#include "stages/dkim/dkim_bad_signature.h"
#include "stages/dkim/dkim_key_lookup.h"
#include "stages/dkim/dkim_public_key_cache.h"
#include "stages/dkim/dkim_result.h"
#include "stages/dkim/dkim_tags.h"
#include "stages/host_name_syntax.h"

namespace mxguard::stages {
namespace {

const std::set<std::string> kVars{"domain", "dkim_problem", "client_address", "sender"};

// Bare LF becomes CRLF. Postfix hands us CRLF already; mxguard-check may read LF-only files.
// Done here rather than with DKIM_LIBFLAGS_FIXCRLF: `last` carries a CR across body chunk
// boundaries, and the behaviour does not depend on the libopendkim version (later versions apply
// FIXCRLF to signing only).
// Copies runs between bare LFs whole (memchr, memcpy): byte by byte this cost ~58,000
// instructions per 3 KB message, more than libopendkim's header handling.
void appendCrlf(std::string& out, std::string_view in, char& last) {
  if (in.empty()) return;
  size_t start = 0;
  for (size_t nl = in.find('\n'); nl != std::string_view::npos; nl = in.find('\n', nl + 1)) {
    char before = nl > 0 ? in[nl - 1] : last;
    if (before == '\r') continue;
    out.append(in.data() + start, nl - start);
    out.push_back('\r');
    start = nl;
  }
  out.append(in.data() + start, in.size() - start);
  last = in.back();
}

std::string statusText(DKIM_STAT s) {
  const char* t = dkim_getresultstr(s);
  return t ? t : "status " + std::to_string(s);
}

std::string cstr(const unsigned char* p) {
  return p ? reinterpret_cast<const char*>(p) : "";
}

u_char* tagName(const char* t) {
  return reinterpret_cast<u_char*>(const_cast<char*>(t));
}

bool isResourceError(DKIM_STAT s) {
  return s == DKIM_STAT_NORESOURCE || s == DKIM_STAT_INTERNAL;
}

std::string describe(const SignatureOutcome& o) {
  std::string out =
      o.result + " d=" + (o.d.empty() ? "(none)" : o.d) + " s=" + (o.s.empty() ? "(none)" : o.s);
  if (!o.reason.empty()) out += ": " + o.reason;
  return out;
}

// What libopendkim and our key lookup found about one signature. libopendkim stops at the first
// passing signature; the others are processed here so that each gets its own result (RFC 6376
// 6.1: each signature is evaluated on its own).
SignatureFacts factsOf(DKIM* handle, DKIM_SIGINFO* sig, const KeyLookupContext& lookup) {
  SignatureFacts f;
  unsigned flags = dkim_sig_getflags(sig);
  if (!(flags & DKIM_SIGFLAG_PROCESSED) && !(flags & DKIM_SIGFLAG_IGNORE) &&
      dkim_sig_geterror(sig) == DKIM_SIGERROR_UNKNOWN) {
    DKIM_STAT ps = dkim_sig_process(handle, sig);
    f.internalError = isResourceError(ps);
    flags = dkim_sig_getflags(sig);
  }
  f.flags = flags;
  f.bodyHash = dkim_sig_getbh(sig);
  f.error = dkim_sig_geterror(sig);
  const char* es = dkim_sig_geterrorstr(f.error);
  f.errorText = es ? es : "";
  dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
  if (dkim_sig_getsignalg(sig, &alg) == DKIM_STAT_OK) f.algorithm = alg;
  unsigned int bits = 0;
  if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK) f.keyBits = bits;
  const u_char* q = dkim_sig_gettagvalue(sig, false, tagName("q"));
  f.queryMethodUsable = hasUsableQueryMethod(cstr(q), q != nullptr);
  if (auto it = lookup.outcomes.find(sig); it != lookup.outcomes.end()) f.lookup = it->second;
  return f;
}

// d=, s= and b= as libopendkim parsed them, else as we did (`tags`: when the signature list
// lines up with the fields we saw).
SignatureOutcome outcomeOf(DKIM_SIGINFO* sig, SignatureResult r, const SignatureTags* tags) {
  SignatureOutcome o{cstr(dkim_sig_getdomain(sig)), cstr(dkim_sig_getselector(sig)), "",
                     std::move(r.result), std::move(r.reason)};
  const u_char* b = dkim_sig_gettagvalue(sig, false, tagName("b"));
  if (b) o.b8 = parseSignatureTags("b=" + cstr(b)).b8;
  if (tags) {
    if (o.d.empty()) o.d = tags->d;
    if (o.s.empty()) o.s = tags->s;
    if (o.b8.empty()) o.b8 = tags->b8;
  }
  return o;
}

// The trace detail: every signature's result, and those not verified.
std::string summarise(const std::vector<SignatureOutcome>& outcomes, const std::string& skipped) {
  std::string summary;
  for (const auto& o : outcomes) summary += (summary.empty() ? "" : "; ") + describe(o);
  if (!skipped.empty()) summary += (summary.empty() ? "" : "; ") + skipped;
  return summary.empty() ? "no signature" : summary;
}

// The outcome the trace names: pass when any signature passed, else the first signature's.
std::string overallOutcome(const std::vector<SignatureOutcome>& outcomes, bool signed_) {
  std::string outcome = outcomes.empty() ? (signed_ ? "neutral" : "none") : outcomes.front().result;
  for (const auto& o : outcomes)
    if (o.result == "pass") outcome = "pass";
  return outcome;
}

// How the signatures stand for one From domain that must be signed, within `boundary`.
struct AuthorCoverage {
  bool valid = false, temporary = false;
  const SignatureOutcome* aligned = nullptr;  // the first aligned signature that did not pass
  std::vector<std::string> others;            // up to 3 other signing domains

  // The ${dkim_problem} of the reply.
  std::string problem() const {
    if (aligned)
      return aligned->result + ": " + aligned->reason + " (d=" + aligned->d + " s=" + aligned->s +
             ")";
    if (others.empty()) return "no signature";
    std::string p = std::string(others.size() == 1 ? "signature" : "signatures") + " by ";
    for (size_t i = 0; i < others.size(); ++i) p += (i ? ", " : "") + others[i];
    return p + " only";
  }
};

AuthorCoverage coverageOf(const std::vector<SignatureOutcome>& outcomes,
                          const std::string& fromDomain, const std::string& boundary) {
  AuthorCoverage c;
  for (const auto& o : outcomes) {
    if (signsFor(o.d, fromDomain, boundary)) {
      if (o.result == "pass") c.valid = true;
      if (o.result == "temperror") c.temporary = true;
      if (o.result != "pass" && !c.aligned) c.aligned = &o;
    } else {
      std::string d = o.d.empty() ? "(no d=)" : canonicalHostName(o.d);
      if (c.others.size() < 3 && std::find(c.others.begin(), c.others.end(), d) == c.others.end())
        c.others.push_back(d);
    }
  }
  return c;
}

// A list option of domain names, canonical. A top-level domain is refused where it would let
// any domain under it stand in for the one meant (require_signature_from).
std::vector<std::string> parseDomains(const config::Section& section, const std::string& option,
                                      bool allowTopLevel) {
  std::vector<std::string> out;
  for (const auto& text : section.getList(option)) {
    std::string d = canonicalHostName(text);
    if (auto problem = hostNameProblem(d))
      section.fail(option, "'" + text + "' is not a domain name: " + *problem);
    if (!allowTopLevel && d.find('.') == std::string::npos)
      section.fail(option, "'" + text + "' is a top-level domain: name the sender domain itself");
    out.push_back(d);
  }
  return out;
}

}  // namespace

struct DkimStage::MessageState : StageState {
  std::shared_ptr<DKIM_LIB> lib;  // kept alive for the handle, even across a policy reload
  DKIM* handle = nullptr;
  KeyLookupContext lookup;
  std::string id;  // libopendkim keeps this pointer, not a copy
  bool started = false, eohDone = false;
  bool broken = false, brokenTemporary = false;
  std::string brokenWhy, eohError;
  size_t signatureFields = 0, skippedSignatures = 0;
  std::vector<SignatureTags> tags;  // of the signature fields given to libopendkim
  std::string from;
  bool fromSeen = false;
  size_t headerFields = 0, headerBytes = 0;
  char lastBodyByte = 0;
  std::string buffer;  // reused for each field / chunk converted to CRLF

  ~MessageState() override { release(); }
  void release() {
    if (handle) dkim_free(handle);
    handle = nullptr;
  }
  void fail(bool temporary, std::string why) {
    if (broken) return;
    broken = true;
    brokenTemporary = temporary;
    brokenWhy = std::move(why);
  }
};

std::vector<config::OptionSpec> DkimStage::options() {
  std::vector<config::OptionSpec> s;
  s.push_back({"max_signatures", config::OptionKind::Int, "10", false, 1, 50,
               "signatures verified per message, in header order; the rest are reported as not "
               "verified (neutral), so a message with 1,000 signatures costs no more than 10"});
  s.push_back({"require_signature_from", config::OptionKind::List, "", false, 0, 0,
               "From domains (and their subdomains) whose mail must carry a valid DKIM signature "
               "by that domain or a parent within it; empty = none"});
  // RFC 7372 3.3: X.7.20 "no passing DKIM signature found" when nothing passed at all; X.7.22
  // "no valid author-matched DKIM signature" when only other domains' signatures passed.
  declareCheck(s, "no_valid_signature", "reject",
               "550 5.7.20 Message rejected: no valid DKIM signature for ${domain} (RFC 7372; "
               "${dkim_problem})",
               "a require_signature_from domain without a valid signature");
  s.push_back({"reply_no_author_signature", config::OptionKind::String,
               "550 5.7.22 Message rejected: no valid DKIM signature for ${domain} (RFC 7372; "
               "${dkim_problem})",
               false, 0, 0, "no_valid_signature's reply when another domain's signature did pass"});
  s.push_back({"reply_temperror", config::OptionKind::String,
               "451 4.7.5 Message deferred: the DKIM signature for ${domain} could not be "
               "verified (${dkim_problem}); try again later",
               false, 0, 0,
               "reply (4xx) when a required signature could not be verified because its key "
               "lookup failed temporarily; on_failure applies"});
  // OpenDKIM's On-BadSignature: every signature failed verification. RFC 7372 3.3: X.7.20, no
  // passing DKIM signature. A temperror or permerror signature (On-DNSError, On-KeyNotFound
  // there) keeps the message out of it.
  declareCheck(s, "bad_signature", "off",
               "550 5.7.20 Message rejected: every DKIM signature failed verification "
               "(${dkim_problem}); the message was changed in transit or the signature is forged",
               "a signed message whose every signature failed verification (body hash mismatch or "
               "bad signature)");
  s.push_back({"bad_signature_domains", config::OptionKind::List, "", false, 0, 0,
               "bad_signature applies only when a failed signature's d= is one of these domains "
               "or under one; empty = every domain"});
  return s;
}

StageSharedPtr DkimStage::create(const config::Section& section, const StageContext& context) {
  auto st = std::make_shared<DkimStage>();
  st->resolver_ = context.resolver;
  st->timeout_ = context.dnsTimeout;
  st->maxSignatures_ = static_cast<size_t>(section.getInt("max_signatures"));
  st->requireFrom_ = parseDomains(section, "require_signature_from", false);
  st->badSignatureDomains_ = parseDomains(section, "bad_signature_domains", true);
  st->noValidSignature_ = parseCheck(section, "no_valid_signature", kVars);
  st->noAuthorSignature_ = st->noValidSignature_;
  st->noAuthorSignature_.reply = parseTemplate(section, "reply_no_author_signature", kVars);
  st->badSignature_ = parseCheck(section, "bad_signature", kVars);
  st->temperrorReply_ = parseTempfailTemplate(
      section, "reply_temperror", kVars, "must be a 4xx reply: a failed key lookup is temporary");

  auto initError = [&](const std::string& what) {
    throw config::ConfigError(section.file(), 0, "dkim", "libopendkim: " + what);
  };
  // Nothing else refers to dkim_public_key_cache.cpp, whose d2i_PUBKEY_bio libopendkim calls;
  // this keeps the linker from leaving it out of the executable (see its header).
  (void)cachedDkimKeyCount();
  DKIM_LIB* lib = dkim_init(nullptr, nullptr);
  if (!lib) initError("dkim_init failed");
  st->lib_.reset(lib, dkim_close);
  // BADSIGHANDLES: a malformed signature gets its own error instead of failing the others.
  // No FIXCRLF: line endings are fixed by appendCrlf above.
  uint32_t flags = DKIM_LIBFLAGS_BADSIGHANDLES;
  if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK)
    initError("cannot set library flags");
  unsigned int minBits = kMinRsaBits;  // RFC 8301 3.2
  if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minBits, sizeof minBits) !=
      DKIM_STAT_OK)
    initError("cannot set the minimum key size");
  if (dkim_set_key_lookup(lib, &dkimKeyLookup) != DKIM_STAT_OK)
    initError("cannot install the key lookup callback");
  return st;
}

DkimStage::MessageState& DkimStage::state(Connection& tx) const {
  auto& st = tx.messageState<MessageState>(this);
  if (st.started) return st;
  st.started = true;
  st.lib = lib_;
  st.id = tx.message.queueId.empty() ? "mxguard" : tx.message.queueId;
  DKIM_STAT status = DKIM_STAT_OK;
  st.handle =
      dkim_verify(lib_.get(), reinterpret_cast<const u_char*>(st.id.c_str()), nullptr, &status);
  if (!st.handle) {
    st.fail(true, "cannot create a DKIM handle: " + statusText(status));
    return st;
  }
  st.lookup.resolver = resolver_.get();
  st.lookup.timeout = timeout_;
  if (dkim_set_user_context(st.handle, &st.lookup) != DKIM_STAT_OK) {
    st.release();
    st.fail(true, "cannot attach the key lookup context");
  }
  return st;
}

std::vector<dns::Query> DkimStage::prefetch(Phase phase, const Connection& tx) const {
  // All keys of the message asked together under the Engine's one deadline; the callback then
  // finds them in tx.dnsAnswers. Only the kept header fields are seen here (Engine keeps the
  // first 1000); anything else is resolved live by the callback.
  std::vector<dns::Query> out;
  if (phase != Phase::Eoh) return out;
  size_t seen = 0;
  for (const auto& h : tx.message.headers) {
    if (!equalsIgnoreCase(h.name, "DKIM-Signature")) continue;
    if (++seen > maxSignatures_) break;
    SignatureTags t = parseSignatureTags(h.value);
    std::string name = keyQueryName(t.s, t.d);
    if (name.empty() || !hasUsableQueryMethod(t.q, t.qPresent)) continue;
    dns::Query q{name, dns::RrType::TXT};
    if (std::find(out.begin(), out.end(), q) == out.end()) out.push_back(q);
  }
  return out;
}

Findings DkimStage::onHeader(Connection& tx, const Header& h) const {
  auto& st = state(tx);
  if (equalsIgnoreCase(h.name, "DKIM-Signature")) {
    // Fields past the cap are not even parsed by libopendkim: their cost stays zero. (A
    // signature that covers one of them with h= then fails, as it should on such a message.)
    if (++st.signatureFields > maxSignatures_) {
      ++st.skippedSignatures;
      return std::nullopt;
    }
    st.tags.push_back(parseSignatureTags(h.value));
  }
  if (!st.fromSeen && equalsIgnoreCase(h.name, "From")) {
    st.fromSeen = true;
    st.from = h.value.substr(0, 64 * 1024);
  }
  if (st.broken || !st.handle) return std::nullopt;

  ++st.headerFields;
  st.headerBytes += h.name.size() + 1 + h.leading.size() + h.value.size();
  if (st.headerFields > kMaxHeaderFields || st.headerBytes > kMaxHeaderBytes) {
    st.fail(false, "header section too large to verify (over " + std::to_string(kMaxHeaderFields) +
                       " fields or " + std::to_string(kMaxHeaderBytes / (1024 * 1024)) + " MB)");
    st.release();
    return std::nullopt;
  }
  st.buffer.clear();
  char last = 0;
  appendCrlf(st.buffer, h.name, last);
  appendCrlf(st.buffer, ":", last);
  appendCrlf(st.buffer, h.leading, last);
  appendCrlf(st.buffer, h.value, last);
  DKIM_STAT s =
      dkim_header(st.handle, reinterpret_cast<u_char*>(st.buffer.data()), st.buffer.size());
  // SYNTAX: a malformed signature field is reported with its own error (BADSIGHANDLES); any
  // other malformed field only fails the signatures that cover it.
  if (s != DKIM_STAT_OK && s != DKIM_STAT_SYNTAX)
    st.fail(isResourceError(s), "header field not accepted by libopendkim: " + statusText(s));
  return std::nullopt;
}

void DkimStage::runEoh(Connection& tx, MessageState& st) const {
  if (st.eohDone) return;
  st.eohDone = true;
  if (st.broken || !st.handle) return;
  st.lookup.tx = &tx;
  DKIM_STAT s = dkim_eoh(st.handle);
  st.lookup.tx = nullptr;
  if (isResourceError(s)) {
    st.fail(true, "end of header not accepted by libopendkim: " + statusText(s));
  } else if (s != DKIM_STAT_OK && s != DKIM_STAT_NOSIG) {
    // A failed key lookup (CBTRYAGAIN, CBERROR) or a bad signature stops libopendkim's pass over
    // the signatures here; end of message resumes it, and each signature gets its own result.
    // SYNTAX may also mean the handle is unusable (no From field): the next call says so.
    const char* e = dkim_geterror(st.handle);
    st.eohError = e && *e ? e : statusText(s);
  }
}

Findings DkimStage::onEoh(Connection& tx) const {
  runEoh(tx, state(tx));
  return std::nullopt;
}

Findings DkimStage::onBody(Connection& tx, std::string_view chunk) const {
  auto& st = state(tx);
  runEoh(tx, st);
  // Unsigned mail is not hashed at all.
  if (st.broken || !st.handle || st.signatureFields == 0 || chunk.empty()) return std::nullopt;
  st.buffer.clear();
  appendCrlf(st.buffer, chunk, st.lastBodyByte);
  DKIM_STAT s = dkim_body(st.handle, reinterpret_cast<u_char*>(st.buffer.data()), st.buffer.size());
  if (s == DKIM_STAT_INVALID)
    st.fail(false, st.eohError.empty() ? "message not usable for DKIM" : st.eohError);
  else if (s != DKIM_STAT_OK)
    st.fail(isResourceError(s), "body not accepted by libopendkim: " + statusText(s));
  return std::nullopt;
}

Findings DkimStage::onEom(Connection& tx) const {
  auto& st = state(tx);
  runEoh(tx, st);
  std::vector<SignatureOutcome> outcomes = verifySignatures(tx, st);
  st.release();  // the handle's memory goes now, not at the next message
  std::string skipped = skippedSignatures(st);
  recordResults(tx, st.signatureFields > 0, outcomes, skipped);
  std::string summary = summarise(outcomes, skipped);
  Findings out;
  if (!requireFrom_.empty() && !noValidSignature_.off()) {
    for (const auto& fromDomain : fromDomains(st.from)) {
      if (auto refusal = checkAuthorDomain(tx, fromDomain, outcomes, summary)) {
        out = std::move(*refusal);
        break;
      }
    }
  }
  if (out.refused()) return out;
  // After require_signature_from: a warning there must not hide a bad_signature refusal.
  out.add(checkBadSignature(tx, outcomes, st.skippedSignatures, summary));
  if (!out.empty()) return out;
  return Decision::pass("dkim." + overallOutcome(outcomes, st.signatureFields > 0), summary);
}

std::vector<SignatureOutcome> DkimStage::verifySignatures(Connection& tx, MessageState& st) const {
  std::vector<SignatureOutcome> outcomes;
  if (st.signatureFields > 0 && !st.broken && st.handle) {
    st.lookup.tx = &tx;
    DKIM_SIGINFO** sigs = nullptr;
    int n = endOfMessage(st, &sigs);
    bool byIndex = !st.broken && static_cast<size_t>(n) == st.tags.size();
    for (int i = 0; !st.broken && i < n; ++i) {
      DKIM_SIGINFO* sig = sigs[i];
      if (!sig) continue;
      SignatureResult r = classifySignature(factsOf(st.handle, sig, st.lookup));
      outcomes.push_back(outcomeOf(sig, std::move(r), byIndex ? &st.tags[i] : nullptr));
    }
    st.lookup.tx = nullptr;
  }
  if (st.broken) {
    outcomes.clear();
    for (const auto& t : st.tags)
      outcomes.push_back(
          {t.d, t.s, t.b8, st.brokenTemporary ? "temperror" : "permerror", st.brokenWhy});
  }
  return outcomes;
}

int DkimStage::endOfMessage(MessageState& st, DKIM_SIGINFO*** sigs) const {
  bool testKey = false;
  DKIM_STAT s = dkim_eom(st.handle, &testKey);
  if (isResourceError(s))
    st.fail(true, "end of message not accepted by libopendkim: " + statusText(s));
  else if (s == DKIM_STAT_INVALID)
    st.fail(false, st.eohError.empty() ? "message not usable for DKIM" : st.eohError);
  int n = 0;
  if (!st.broken) {
    s = dkim_getsiglist(st.handle, sigs, &n);
    if (s != DKIM_STAT_OK || (n > 0 && *sigs == nullptr) || n < 0)
      st.fail(isResourceError(s), "no signature list from libopendkim: " + statusText(s));
  }
  return n;
}

std::string DkimStage::skippedSignatures(const MessageState& st) const {
  if (st.skippedSignatures == 0) return "";
  return std::to_string(st.skippedSignatures) + " more signature" +
         (st.skippedSignatures == 1 ? "" : "s") +
         " not verified (max_signatures = " + std::to_string(maxSignatures_) + ")";
}

void DkimStage::recordResults(Connection& tx, bool signed_,
                              const std::vector<SignatureOutcome>& outcomes,
                              const std::string& skipped) const {
  auto& results = tx.message.authResults;
  if (!signed_) results.push_back({"dkim", "none", "", {}});
  for (const auto& o : outcomes) {
    AuthResult a{"dkim", o.result, o.reason, {}};
    if (!o.d.empty()) a.properties.push_back({"header.d", o.d});
    if (!o.s.empty()) a.properties.push_back({"header.s", o.s});
    if (!o.b8.empty()) a.properties.push_back({"header.b", o.b8});
    results.push_back(std::move(a));
  }
  if (!skipped.empty()) results.push_back({"dkim", "neutral", skipped, {}});
}

std::optional<Findings> DkimStage::checkAuthorDomain(Connection& tx, const std::string& fromDomain,
                                                     const std::vector<SignatureOutcome>& outcomes,
                                                     const std::string& summary) const {
  auto boundary = coveringDomain(fromDomain, requireFrom_);
  if (!boundary) return std::nullopt;
  AuthorCoverage coverage = coverageOf(outcomes, fromDomain, *boundary);
  if (coverage.valid) return std::nullopt;
  TemplateVars vars{{"domain", fromDomain},
                    {"dkim_problem", coverage.problem()},
                    {"client_address", tx.client.clientAddress},
                    {"sender", tx.message.sender}};
  std::string detail = summary + "; " + fromDomain + " requires a valid signature";
  if (coverage.temporary) {
    // A key lookup that may succeed later: never a 5xx (the engine's on_failure applies).
    return undecided(
        Decision::dependencyTempfail(temperrorReply_.render(vars), "dkim.temperror", detail),
        {&noValidSignature_});
  }
  bool otherPassed = std::any_of(outcomes.begin(), outcomes.end(),
                                 [](const auto& o) { return o.result == "pass"; });
  return Findings(
      failCheck(otherPassed ? noAuthorSignature_ : noValidSignature_, "dkim", vars, detail));
}

std::optional<Decision> DkimStage::checkBadSignature(const Connection& tx,
                                                     const std::vector<SignatureOutcome>& outcomes,
                                                     size_t skipped,
                                                     const std::string& summary) const {
  if (badSignature_.off()) return std::nullopt;
  auto broken = brokenSignatures(outcomes, skipped, badSignatureDomains_);
  if (!broken) return std::nullopt;
  TemplateVars vars{{"domain", broken->domain},
                    {"dkim_problem", broken->problem},
                    {"client_address", tx.client.clientAddress},
                    {"sender", tx.message.sender}};
  return failCheck(badSignature_, "dkim", vars, summary + "; every signature failed verification");
}

void DkimStage::onAbort(Connection& tx) const {
  tx.messageState<MessageState>(this).release();
}

void DkimStage::onClose(Connection& tx) const {
  tx.messageState<MessageState>(this).release();
}

}  // namespace mxguard::stages
