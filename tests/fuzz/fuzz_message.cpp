// fuzz_message.cpp - libFuzzer target: a whole message (header block + body) through a Policy
// with the headers and dkim stages, via harness::runDialogue, as mxguard-check would replay it.
// DNS answers NXDOMAIN at once (DKIM key lookups fail fast). The policy is loaded once.
// Invariants: every reply line the client would see fits 512 octets and is printable ASCII; every
// header mxguard would add has no CR or NUL and folds only with LF + TAB.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/policy_loader.h"
#include "core/resolver.h"
#include "fuzz/fuzz_check.h"
#include "harness/dialogue.h"
#include "store/memory_store.h"

using namespace mxguard;

namespace {

class NxdomainResolver : public dns::Resolver {
 public:
  std::vector<dns::LookupResult> lookupAll(const std::vector<dns::Query>& queries,
                                           std::chrono::milliseconds) override {
    return std::vector<dns::LookupResult>(
        queries.size(), dns::LookupResult{dns::LookupStatus::NotFound, {}, 60, ""});
  }
};

PolicySharedPtr makePolicy() {
  app::PolicyLoadOptions o;
  o.resolver = std::make_shared<NxdomainResolver>();
  o.store = std::make_shared<store::MemoryStore>();
  o.ourHostname = "mx.example.net";
  return app::loadPolicyText("[engine]\nstages = headers dkim\nwhitelist_clients =\n", "fuzz.conf",
                             o);
}

using fuzz::fail;
using fuzz::printable;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const PolicySharedPtr policy = makePolicy();
  harness::Transcript t;
  t.clientIp = "192.0.2.10";
  t.clientName = "mail.example.org";
  t.helo = "mail.example.org";
  t.sender = "a@example.org";
  t.recipients = {"b@example.net"};
  t.message = std::string(reinterpret_cast<const char*>(data), size);
  t.ourHostname = "mx.example.net";
  harness::Outcome o = harness::runDialogue(policy, t);
  for (const auto& step : o.steps)
    for (const auto& line : step.lines) {
      if (line.size() + 2 > 512) fail("reply line over 512 octets", line);
      if (!printable(line)) fail("reply line not printable ASCII", line);
    }
  for (const auto& h : o.addedHeaders) {
    if (!printable(h.name)) fail("added header name not printable", h.name);
    for (size_t i = 0; i < h.value.size(); ++i) {
      unsigned char c = h.value[i];
      bool fold = c == '\n' && i + 1 < h.value.size() && h.value[i + 1] == '\t';
      bool tab = c == '\t';
      if ((c < 0x20 || c == 0x7f) && !fold && !tab)
        fail("added header value holds a control byte", h.value);
    }
  }
  return 0;
}
