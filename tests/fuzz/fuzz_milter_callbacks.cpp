// fuzz_milter_callbacks.cpp - libFuzzer target: the libmilter callbacks as libmilter calls them
// after decoding the MTA's packets (the MilterCalls shim stands in for libmilter), in any order
// and with any arguments and macros, through the shipped default policy's stages (DNS answered by
// a FakeResolver: NXDOMAIN for everything). Invariants: every callback returns a valid SMFIS_*
// code; every reply set is a 4xx/5xx with a matching enhanced code and no CR, LF or NUL in it;
// every header edit names a field and holds no CR or LF outside folding.
#include <libmilter/mfapi.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "app/policy_holder.h"
#include "app/policy_loader.h"
#include "base/log.h"
#include "fakes/fake_resolver.h"
#include "milter/milter_adapter.h"
#include "store/memory_store.h"

using namespace mxguard;

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_milter_callbacks: %s\n", what.c_str());
  std::abort();
}

bool hasLineBreak(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

class FakeMilter : public milter::MilterCalls {
 public:
  void* getPriv(SMFICTX*) override { return priv; }
  int setPriv(SMFICTX*, void* p) override {
    priv = p;
    return MI_SUCCESS;
  }
  const char* getSymVal(SMFICTX*, const char* name) override {
    auto it = macros.find(name);
    return it == macros.end() ? nullptr : it->second.c_str();
  }
  int setReply(SMFICTX*, const char* code, const char* enhanced, const char* text) override {
    checkReply(code, enhanced, {&text, 1});
    return MI_SUCCESS;
  }
  int setMlReply(SMFICTX*, const char* code, const char* enhanced,
                 std::span<const char* const> lines) override {
    checkReply(code, enhanced, lines);
    return MI_SUCCESS;
  }
  int quarantine(SMFICTX*, const char* reason) override {
    if (!reason || hasLineBreak(reason)) fail("quarantine reason");
    return MI_SUCCESS;
  }
  int chgHeader(SMFICTX*, const char* name, int, const char* value) override {
    checkHeader(name, value ? value : "");
    return MI_SUCCESS;
  }
  int insHeader(SMFICTX*, int, const char* name, const char* value) override {
    checkHeader(name, value);
    return MI_SUCCESS;
  }
  void* priv = nullptr;
  std::map<std::string, std::string> macros;

 private:
  static void checkReply(const char* code, const char* enhanced,
                         std::span<const char* const> lines) {
    std::string c = code ? code : "", e = enhanced ? enhanced : "";
    if (c.size() != 3 || (c[0] != '4' && c[0] != '5')) fail("reply code '" + c + "'");
    if (e.empty() || e[0] != c[0]) fail("enhanced code '" + e + "' for " + c);
    for (const char* l : lines)
      if (!l || hasLineBreak(l)) fail("reply line with a line break");
  }
  static void checkHeader(const char* name, std::string_view value) {
    if (!name || !*name || hasLineBreak(name)) fail("header name");
    // libmilter folds "\n\t"; anything else would split the field.
    for (size_t i = 0; i < value.size(); ++i)
      if (value[i] == '\r' || (value[i] == '\n' && (i + 1 >= value.size() || value[i + 1] != '\t')))
        fail("header value with a bare line break");
  }
};

struct Fixture {
  Fixture() {
    setLogSink([](LogLevel, std::string_view) {});
    app::PolicyLoadOptions o;
    auto resolver = std::make_shared<testing::FakeResolver>();
    resolver->recordQueries = false;
    o.resolver = resolver;
    o.store = std::make_shared<store::MemoryStore>(1000);
    o.ourHostname = "mx.example.net";
    auto policy = app::loadPolicyFile(MXGUARD_SOURCE_DIR "/policies/default.conf", o);
    holder = std::make_unique<app::PolicyHolder>(policy);
    milter::setPolicyHolder(holder.get());
    milter::setMilterCallsForTests(&fake);
    milter::setDefaultHostname("mx.example.net");
  }
  std::unique_ptr<app::PolicyHolder> holder;
  FakeMilter fake;
  smfiDesc filter = milter::makeFilterDescription();
};

// The input, read as a stream of operations and length-prefixed strings.
class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : d_(d), n_(n) {}
  bool more() const { return i_ < n_; }
  uint8_t byte() { return i_ < n_ ? d_[i_++] : 0; }
  std::string text() {
    size_t len = byte();
    if (len == 255) len = 255 + byte() * 64;  // now and then a long one
    std::string s(reinterpret_cast<const char*>(d_ + i_), std::min(len, n_ - i_));
    i_ += s.size();
    return s;
  }

 private:
  const uint8_t* d_;
  size_t n_, i_ = 0;
};

void checkStatus(sfsistat s) {
  switch (s) {
    case SMFIS_CONTINUE:
    case SMFIS_REJECT:
    case SMFIS_DISCARD:
    case SMFIS_ACCEPT:
    case SMFIS_TEMPFAIL:
    case SMFIS_NOREPLY:
    case SMFIS_SKIP:
    case SMFIS_ALL_OPTS:
      return;
  }
  fail("callback returned " + std::to_string(s));
}

sfsistat argvCall(sfsistat (*cb)(SMFICTX*, char**), SMFICTX* ctx, Reader& in) {
  std::vector<std::string> args{in.text()};
  for (int k = in.byte() % 4; k > 0; --k) args.push_back(in.text());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return cb(ctx, argv.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture f;
  int storage = 0;
  SMFICTX* ctx = reinterpret_cast<SMFICTX*>(&storage);
  Reader in(data, size);
  f.fake.macros.clear();
  f.fake.macros["j"] = "mx.example.net";
  f.fake.macros["{client_addr}"] = in.text();
  bool open = false;
  while (in.more()) {
    uint8_t op = in.byte() % 13;
    if (!open && op != 0 && op != 12) continue;  // libmilter starts every connection at connect
    sfsistat s = SMFIS_CONTINUE;
    switch (op) {
      case 0: {
        if (open) f.filter.xxfi_close(ctx);
        std::string host = in.text();
        s = f.filter.xxfi_connect(ctx, host.data(), nullptr);
        open = true;
        break;
      }
      case 1: {
        std::string h = in.text();
        s = f.filter.xxfi_helo(ctx, h.data());
        break;
      }
      case 2:
        s = argvCall(f.filter.xxfi_envfrom, ctx, in);
        break;
      case 3:
        s = argvCall(f.filter.xxfi_envrcpt, ctx, in);
        break;
      case 4: {
        std::string n = in.text(), v = in.text();
        s = f.filter.xxfi_header(ctx, n.data(), v.data());
        break;
      }
      case 5:
        s = f.filter.xxfi_eoh(ctx);
        break;
      case 6: {
        std::string b = in.text();
        s = f.filter.xxfi_body(ctx, reinterpret_cast<unsigned char*>(b.data()), b.size());
        break;
      }
      case 7:
        s = f.filter.xxfi_eom(ctx);
        break;
      case 8:
        s = f.filter.xxfi_abort(ctx);
        break;
      case 9:
        s = f.filter.xxfi_data ? f.filter.xxfi_data(ctx) : SMFIS_CONTINUE;
        break;
      case 10: {  // a macro the MTA sends (or withdraws) from here on
        std::string name = in.text(), value = in.text();
        if (value.empty())
          f.fake.macros.erase(name);
        else
          f.fake.macros[name] = value;
        break;
      }
      case 11: {
        std::string u = in.text();
        s = f.filter.xxfi_unknown ? f.filter.xxfi_unknown(ctx, u.data()) : SMFIS_CONTINUE;
        break;
      }
      case 12:
        if (open) f.filter.xxfi_close(ctx);
        open = false;
        break;
    }
    checkStatus(s);
  }
  if (open) f.filter.xxfi_close(ctx);
  if (f.fake.priv) fail("connection state left after close");
  return 0;
}
