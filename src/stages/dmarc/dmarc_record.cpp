// dmarc_record.cpp - libopendmarc parses; where it refuses a whole record for one bad optional
// tag (or reads pct=abc as 0), each tag is tried alone and the bad ones are dropped, as RFC 7489
// 6.3 asks ("syntax errors in the remainder of the record SHOULD be discarded").
// Must not: keep a libopendmarc context beyond one call.
#include "stages/dmarc/dmarc_record.h"

#include <opendmarc/dmarc.h>

#include <cctype>
#include <memory>

#include "base/strings.h"

namespace mxguard::stages {
namespace {

struct Tag {
  std::string name, value;  // name lowercase, both trimmed
};

// RFC 7489 defines 11 tags; a record with more is junk past them, and each tag may cost a
// libopendmarc parse below.
constexpr size_t kMaxTags = 32;

std::vector<Tag> tagsOf(std::string_view text) {
  std::vector<Tag> tags;
  for (const auto& field : splitFields(text, ';')) {
    if (tags.size() >= kMaxTags) break;
    auto eq = field.find('=');
    if (eq == std::string::npos) continue;
    Tag t{lower(trim(std::string_view(field).substr(0, eq))),
          std::string(trim(std::string_view(field).substr(eq + 1)))};
    if (!t.name.empty()) tags.push_back(std::move(t));
  }
  return tags;
}

const char* policyWord(int p) {
  switch (p) {
    case DMARC_RECORD_P_NONE:
      return "none";
    case DMARC_RECORD_P_QUARANTINE:
      return "quarantine";
    case DMARC_RECORD_P_REJECT:
      return "reject";
  }
  return "";
}

using PolicyContext = std::unique_ptr<DMARC_POLICY_T, DMARC_POLICY_T* (*)(DMARC_POLICY_T*)>;

// libopendmarc's parse of `text`; the context is null when it refused the record.
PolicyContext parsed(const std::string& text, int* status) {
  PolicyContext ctx(
      opendmarc_policy_connect_init(reinterpret_cast<u_char*>(const_cast<char*>("0.0.0.0")), 0),
      opendmarc_policy_connect_shutdown);
  if (!ctx) {
    *status = DMARC_PARSE_ERROR_NO_ALLOC;
    return ctx;
  }
  *status = opendmarc_policy_store_dmarc(
      ctx.get(), reinterpret_cast<u_char*>(const_cast<char*>(text.c_str())),
      reinterpret_cast<u_char*>(const_cast<char*>("dmarc.invalid")), nullptr);
  if (*status != DMARC_PARSE_OKAY) ctx.reset();
  return ctx;
}

bool pctValid(const std::string& v) {
  if (v.empty() || v.size() > 3) return false;
  for (unsigned char c : v)
    if (!std::isdigit(c)) return false;
  return std::stoi(v) <= 100;
}

// Whether libopendmarc accepts one tag on its own, next to a valid p=.
bool tagAccepted(const Tag& t) {
  if (t.name == "pct") return pctValid(t.value);  // libopendmarc reads "abc" as 0
  int status = 0;
  std::string probe =
      "v=DMARC1; " + std::string(t.name == "p" ? "" : "p=none; ") + t.name + "=" + t.value;
  return parsed(probe, &status) != nullptr;
}

bool hasMailtoReport(const std::vector<Tag>& tags) {
  for (const auto& t : tags)
    if (t.name == "rua")
      for (const auto& uri : splitFields(t.value, ','))
        if (lower(trim(uri)).rfind("mailto:", 0) == 0 && uri.find('@') != std::string::npos)
          return true;
  return false;
}

// The record rebuilt from the tags libopendmarc accepts; nullopt with `problem` when no valid
// policy remains.
std::optional<std::string> repaired(std::string_view text, std::vector<std::string>& notes,
                                    std::string& problem) {
  auto tags = tagsOf(text);
  std::string out = "v=DMARC1";
  bool policyValid = false, policyBroken = false;
  for (const auto& t : tags) {
    if (t.name == "v") continue;
    if (tagAccepted(t)) {
      out += "; " + t.name + "=" + t.value;
      policyValid = policyValid || t.name == "p";
      continue;
    }
    notes.push_back(t.name + "=" + t.value + " ignored (invalid value)");
    policyBroken = policyBroken || t.name == "p" || t.name == "sp";
  }
  if (policyValid && !policyBroken) return out;
  // 6.6.3 step 6: no valid p= (or an invalid sp=): with a report address, act as p=none.
  if (hasMailtoReport(tags)) {
    notes.push_back("treated as p=none (no valid policy, but rua= is given)");
    std::string rebuilt = "v=DMARC1; p=none";
    for (const auto& t : tags)
      if (t.name != "v" && t.name != "p" && t.name != "sp" && tagAccepted(t))
        rebuilt += "; " + t.name + "=" + t.value;
    return rebuilt;
  }
  problem = policyBroken ? "invalid p= or sp= tag and no rua= to report to"
                         : "no p= tag and no rua= to report to";
  return std::nullopt;
}

DmarcRecord recordOf(DMARC_POLICY_T* ctx) {
  DmarcRecord r;
  int p = 0, sp = 0, adkim = 0, aspf = 0, pct = 100;
  opendmarc_policy_fetch_p(ctx, &p);
  opendmarc_policy_fetch_sp(ctx, &sp);
  opendmarc_policy_fetch_adkim(ctx, &adkim);
  opendmarc_policy_fetch_aspf(ctx, &aspf);
  opendmarc_policy_fetch_pct(ctx, &pct);
  r.p = policyWord(p);
  r.sp = policyWord(sp);
  r.adkim = adkim == DMARC_RECORD_A_STRICT ? 's' : 'r';
  r.aspf = aspf == DMARC_RECORD_A_STRICT ? 's' : 'r';
  r.pct = pct < 0 || pct > 100 ? 100 : pct;
  u_char** rua = opendmarc_policy_fetch_rua(ctx, nullptr, 0, 1);  // no xdomain DNS check
  for (size_t i = 0; rua && rua[i]; ++i) r.rua.emplace_back(reinterpret_cast<char*>(rua[i]));
  return r;
}

// fo= as published (libopendmarc keeps it only as a bitmap): "0" when absent or invalid.
std::string foOf(std::string_view text) {
  std::string fo = "0";
  for (const auto& t : tagsOf(text))
    if (t.name == "fo" && tagAccepted(t)) fo = t.value;
  return fo;
}

}  // namespace

std::vector<std::string> dmarcRecordsOf(const std::vector<std::string>& txt) {
  std::vector<std::string> out;
  for (const auto& r : txt) {
    // "v" *WSP "=" *WSP "DMARC1", then the end or a separator (RFC 7489 6.4).
    size_t i = 0;
    if (i >= r.size() || (r[i] != 'v' && r[i] != 'V')) continue;
    ++i;
    while (i < r.size() && (r[i] == ' ' || r[i] == '\t')) ++i;
    if (i >= r.size() || r[i] != '=') continue;
    ++i;
    while (i < r.size() && (r[i] == ' ' || r[i] == '\t')) ++i;
    if (r.compare(i, 6, "DMARC1") != 0) continue;
    i += 6;
    while (i < r.size() && (r[i] == ' ' || r[i] == '\t')) ++i;
    if (i < r.size() && r[i] != ';') continue;
    out.push_back(r);
  }
  return out;
}

DmarcRecordParse parseDmarcRecord(std::string_view text) {
  DmarcRecordParse out;
  std::vector<std::string> notes;
  std::string whole(text.substr(0, 4096));  // libopendmarc copies into a BUFSIZ buffer
  int status = 0;
  PolicyContext ctx = parsed(whole, &status);
  bool pctFine = true;
  for (const auto& t : tagsOf(whole))
    if (t.name == "pct" && !pctValid(t.value)) pctFine = false;
  if (!ctx || !pctFine) {
    auto fixed = repaired(whole, notes, out.problem);
    if (!fixed) return out;
    ctx = parsed(*fixed, &status);
    if (!ctx) {
      out.problem = opendmarc_policy_status_to_str(status);
      return out;
    }
  }
  out.record = recordOf(ctx.get());
  out.record->fo = foOf(whole);
  out.record->notes = std::move(notes);
  return out;
}

std::shared_ptr<const DmarcRecordParse> DmarcRecordCache::parse(const std::string& text) const {
  {
    std::lock_guard guard(mutex_);
    if (auto it = memo_.find(text); it != memo_.end()) return it->second;
  }
  auto parsed = std::make_shared<const DmarcRecordParse>(parseDmarcRecord(text));
  std::lock_guard guard(mutex_);
  if (memo_.size() >= kSize) memo_.clear();
  memo_.emplace(text, parsed);
  return parsed;
}

}  // namespace mxguard::stages
