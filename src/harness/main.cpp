// main.cpp - mxguard-check: replays one transaction through the same engine as the daemon.
// Exit 0 accepted, 1 rejected (5xx), 2 deferred (4xx), 64 usage error, 73 a --dmarc-report
// file not written, 78 config error.
// Must not: diverge from the daemon's policy loading (both use app/).
#include <boost/program_options.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "app/daemon_options.h"
#include "app/json_text.h"
#include "app/policy_loader.h"
#include "app/resolver_factory.h"
#include "app/store_factory.h"
#include "app/transaction_log.h"
#include "base/version.h"
#include "config/config_error.h"
#include "harness/dialogue.h"
#include "harness/dmarc_report.h"
#include "harness/explain.h"
#include "harness/replay.h"
#include "harness/report.h"

namespace po = boost::program_options;
using namespace mxguard;

namespace {

constexpr const char* kUsage =
    "usage: mxguard-check [--config FILE] [--policy FILE] [--dns HOST@PORT]... --client-ip IP\n"
    "                     [--client-name NAME] [--helo NAME] [--from ADDR] [--rcpt ADDR]...\n"
    "                     [--message FILE] [--hostname NAME] [--json] [--explain] [--repeat N]\n"
    "       mxguard-check --sender-check --client-ip IP --helo NAME --from ADDR [--policy FILE]\n"
    "                     [--config FILE] [--dns HOST@PORT]... [--message FILE] [--json]\n"
    "       mxguard-check --replay FILE --policy NEW [--policy OLD] [--config FILE] [--dns ...]\n"
    "       mxguard-check --dmarc-report FILE --org NAME --email ADDR [--day YYYY-MM-DD]\n"
    "                     [--output DIR]\n"
    "       mxguard-check --help | --version\n";

constexpr const char* kDefaultRecipient = "recipient@example.com";
constexpr int kExitCantCreate = 73;  // EX_CANTCREAT: --dmarc-report could not write a report

std::string stripBrackets(std::string s) {
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  return s;
}

po::options_description describeOptions() {
  po::options_description desc("Options");
  desc.add_options()("help,h", "show this help")("version", "show the version")(
      "config", po::value<std::string>(), "daemon configuration file (for policy and [dns])")(
      "policy", po::value<std::vector<std::string>>()->composing(),
      "policy file; with --replay: NEW, and optionally a second, OLD")(
      "replay", po::value<std::string>(),
      "run the transactions recorded in FILE (JSON lines, [record] in mxguard.conf) through "
      "--policy NEW (and --policy OLD) and show what would change")(
      "dmarc-report", po::value<std::string>(),
      "write RFC 7489 aggregate reports (XML, one per policy domain) from the transactions "
      "recorded in FILE")("org", po::value<std::string>(),
                          "with --dmarc-report: the reporting organisation (org_name)")(
      "email", po::value<std::string>(),
      "with --dmarc-report: the reports' contact address; its domain names the files")(
      "day", po::value<std::string>(),
      "with --dmarc-report: only that UTC day (YYYY-MM-DD), and the report covers all of it")(
      "output", po::value<std::string>(),
      "with --dmarc-report: the directory the reports go to (default: the current one)")(
      "dns", po::value<std::vector<std::string>>()->composing(), "forward DNS to HOST@PORT")(
      "client-ip", po::value<std::string>(), "the client's IP address (IPv4 or IPv6)")(
      "client-name", po::value<std::string>(),
      "the client's verified host name, as the MTA knows it")(
      "helo", po::value<std::string>(), "HELO/EHLO name; without it no HELO is sent")(
      "auth-user", po::value<std::string>(),
      "the client authenticated as this SASL user (the MTA's {auth_authen}, sent with MAIL)")(
      "from", po::value<std::string>(), "MAIL FROM address; '' or '<>' = null sender (default)")(
      "rcpt", po::value<std::vector<std::string>>()->composing(),
      "RCPT TO address (repeatable; default recipient@example.com)")(
      "message", po::value<std::string>(), "RFC 5322 message file to send as DATA")(
      "hostname", po::value<std::string>(), "this server's host name (default: system name)")(
      "json", po::bool_switch(), "print one JSON object instead of the dialogue")(
      "repeat", po::value<unsigned>()->default_value(1),
      "run the transaction N times through one engine (warm caches) and print the last "
      "outcome: per-transaction CPU for benchmarks (bench/callgrind.sh)")(
      "explain", po::bool_switch(),
      "for every check that failed or would fail: what it means, the evidence, what to do")(
      "sender-check", po::bool_switch(),
      "test a sending setup (outbound IP, HELO, sender): every check runs (observe mode), "
      "each problem explained");
  return desc;
}

// What the command line asks for, checked: usage errors are po::error.
struct Request {
  po::variables_map vm;
  std::string replayFile;  // --replay: the transactions come from it, not from the flags below
  std::string dmarcFile;   // --dmarc-report: reports from it; no policy, no transaction
  harness::DmarcReportOptions dmarc;
  std::string receiverDomain, outputDir;  // --email's domain (names the files), --output
  harness::Transcript transcript;
  bool json = false, explain = false, senderCheck = false;
  unsigned repeat = 1;

  std::vector<std::string> policies() const {
    return vm.count("policy") ? vm["policy"].as<std::vector<std::string>>()
                              : std::vector<std::string>{};
  }
};

std::string readMessageFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw po::error("cannot read --message file '" + path + "'");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void checkPolicyCount(const Request& r) {
  size_t n = r.policies().size();
  if (r.vm.count("replay")) {
    if (n == 0) throw po::error("--replay needs --policy NEW [--policy OLD]");
    if (n > 2) throw po::error("--replay takes at most two policies: NEW and OLD");
  } else if (n > 1) {
    throw po::error("--policy may be given once (twice only with --replay)");
  }
}

// The one transaction the flags describe (everything but --replay).
void readTranscript(Request& r) {
  const po::variables_map& vm = r.vm;
  harness::Transcript& t = r.transcript;
  if (!vm.count("client-ip")) throw po::error("--client-ip is required");
  r.senderCheck = vm["sender-check"].as<bool>();
  r.explain = r.senderCheck || vm["explain"].as<bool>();
  if (r.senderCheck && (!vm.count("helo") || !vm.count("from")))
    throw po::error("--sender-check needs --client-ip, --helo and --from (the sending setup)");
  t.clientIp = vm["client-ip"].as<std::string>();
  if (!IpAddress::parse(t.clientIp))
    throw po::error("--client-ip '" + t.clientIp + "' is not an IPv4 or IPv6 address");
  if (vm.count("client-name")) t.clientName = vm["client-name"].as<std::string>();
  if (vm.count("auth-user")) t.authUser = vm["auth-user"].as<std::string>();
  if (vm.count("helo")) t.helo = vm["helo"].as<std::string>();
  if (vm.count("rcpt"))
    for (const auto& rcpt : vm["rcpt"].as<std::vector<std::string>>())
      t.recipients.push_back(stripBrackets(rcpt));
  // Rejections are delayed to RCPT, so a dialogue always reaches RCPT: without --from it uses
  // the null sender, without --rcpt a placeholder recipient (both shown in the dialogue).
  t.sender = vm.count("from") ? stripBrackets(vm["from"].as<std::string>()) : "";
  if (t.recipients.empty()) t.recipients.push_back(kDefaultRecipient);
  r.json = vm["json"].as<bool>();
  r.repeat = vm["repeat"].as<unsigned>();
  if (r.repeat == 0) throw po::error("--repeat must be at least 1");
  if (r.repeat > 1 && r.senderCheck) throw po::error("--repeat does not go with --sender-check");
  if (vm.count("message")) t.message = readMessageFile(vm["message"].as<std::string>());
}

// --dmarc-report FILE --org NAME --email ADDR [--day YYYY-MM-DD] [--output DIR].
void readDmarcRequest(Request& r) {
  const po::variables_map& vm = r.vm;
  r.dmarcFile = vm["dmarc-report"].as<std::string>();
  if (!vm.count("org") || !vm.count("email"))
    throw po::error("--dmarc-report needs --org NAME and --email ADDR (report_metadata)");
  r.dmarc.orgName = vm["org"].as<std::string>();
  r.dmarc.email = vm["email"].as<std::string>();
  // RFC 7489 7.2.1.1 names the file after the receiver's domain: the one of the contact address.
  size_t at = r.dmarc.email.rfind('@');
  r.receiverDomain = at == std::string::npos ? "" : r.dmarc.email.substr(at + 1);
  if (r.receiverDomain.empty() || r.receiverDomain.find('/') != std::string::npos)
    throw po::error("--email '" + r.dmarc.email + "' is not an address with a domain");
  if (vm.count("day")) {
    r.dmarc.day = vm["day"].as<std::string>();
    if (!harness::parseUtcDay(r.dmarc.day))
      throw po::error("--day '" + r.dmarc.day + "' is not a day (YYYY-MM-DD)");
  }
  r.outputDir = vm.count("output") ? vm["output"].as<std::string>() : "";
}

// False when --help or --version was asked for (and printed).
bool parseRequest(int argc, char** argv, Request& r) {
  po::options_description desc = describeOptions();
  po::parsed_options parsed = po::command_line_parser(argc, argv).options(desc).run();
  // Without a positional description Boost keeps a stray word and store() drops it: a value
  // meant for an option ("--rcpt a@example.org b@example.org") would be ignored without a word.
  for (const auto& o : parsed.options)
    if (o.position_key >= 0)
      throw po::error("unexpected argument '" + o.value.front() +
                      "' (a value follows its option, as in --rcpt ADDR --rcpt ADDR)");
  po::store(parsed, r.vm);
  po::notify(r.vm);
  if (r.vm.count("help")) {
    std::cout << kUsage << "\n" << desc;
    return false;
  }
  if (r.vm.count("version")) {
    std::cout << "mxguard-check " << version() << "\n";
    return false;
  }
  if (r.vm.count("dmarc-report")) {
    if (r.vm.count("replay")) throw po::error("--dmarc-report does not go with --replay");
    readDmarcRequest(r);
    return true;
  }
  if (r.vm.count("replay")) r.replayFile = r.vm["replay"].as<std::string>();
  checkPolicyCount(r);
  if (r.replayFile.empty()) readTranscript(r);
  return true;
}

// The daemon's own loading (app/), from --config, --policy, --dns and --hostname. Throws
// config::ConfigError.
struct Loaded {
  app::DaemonOptions options;
  PolicySharedPtr policy, oldPolicy;  // oldPolicy: --replay's second --policy, if any
};

Loaded loadPolicies(const Request& r) {
  const po::variables_map& vm = r.vm;
  Loaded l;
  app::DaemonOptions& options = l.options;
  if (vm.count("config")) {
    options.configFile = vm["config"].as<std::string>();
    app::applyDaemonConfigFile(options.configFile, options);
  }
  std::vector<std::string> policies = r.policies();
  if (!policies.empty()) options.policyFile = policies[0];
  if (vm.count("dns")) options.dns.forward = vm["dns"].as<std::vector<std::string>>();
  options.hostname = vm.count("hostname")        ? vm["hostname"].as<std::string>()
                     : !options.hostname.empty() ? options.hostname
                                                 : app::defaultHostname();
  app::PolicyLoadOptions load;
  load.resolver = app::makeResolver(options.dns, options.configFile);
  load.store = app::makeStore(options.store);
  load.ourHostname = options.hostname;
  l.policy = app::loadPolicyFile(options.policyFile, load);
  if (!r.replayFile.empty() && policies.size() == 2)
    l.oldPolicy = app::loadPolicyFile(policies[1], load);
  return l;
}

int runReplay(const Request& r, const Loaded& l) {
  // Streamed: each record is replayed as it is read, so a recording of millions of
  // transactions needs no more memory than one of ten.
  size_t errors = 0;
  harness::Replayer replayer(l.policy, l.oldPolicy, l.options.hostname);
  size_t records = app::forEachTransaction(
      r.replayFile, [&](const MessageRecord& record) { replayer.add(record); },
      [&](const std::string& e) {
        ++errors;
        std::fprintf(stderr, "mxguard-check: %s\n", e.c_str());
      });
  if (records == 0 && errors > 0) return config::kExitUsage;
  auto names = r.policies();
  std::cout << harness::formatReplay(replayer.report(), r.replayFile, names[0],
                                     names.size() > 1 ? names[1] : "");
  return 0;
}

// Streams the record file into the report builder; each report to its own file, named on stdout.
int runDmarcReport(const Request& r) {
  size_t errors = 0, badTime = 0;
  harness::DmarcReportBuilder builder(r.dmarc);
  size_t records = app::forEachTransaction(
      r.dmarcFile,
      [&](const MessageRecord& record) {
        if (builder.add(record) == harness::DmarcRecordUse::BadTime) ++badTime;
      },
      [&](const std::string& e) {
        ++errors;
        std::fprintf(stderr, "mxguard-check: %s\n", e.c_str());
      });
  if (records == 0 && errors > 0) return config::kExitUsage;
  if (badTime > 0)
    std::fprintf(stderr,
                 "mxguard-check: %zu DMARC-evaluated record(s) in %s left out: no valid "
                 "time (RFC 3339 UTC)\n",
                 badTime, r.dmarcFile.c_str());
  std::vector<harness::DmarcReport> reports = builder.reports();
  if (reports.empty()) {
    std::fprintf(stderr, "mxguard-check: no DMARC-evaluated transactions in %s\n",
                 r.dmarcFile.c_str());
    return 0;
  }
  std::error_code ec;
  if (!r.outputDir.empty()) std::filesystem::create_directories(r.outputDir, ec);
  for (const auto& report : reports) {
    std::filesystem::path path =
        std::filesystem::path(r.outputDir) / harness::dmarcReportFileName(r.receiverDomain, report);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << report.xml;
    out.close();
    if (!out) {
      std::fprintf(stderr, "mxguard-check: cannot write %s\n", path.c_str());
      return kExitCantCreate;
    }
    std::cout << path.string() << "\n";
  }
  return 0;
}

void printOutcome(const Request& r, const Loaded& l, const harness::Outcome& outcome,
                  const std::vector<harness::Finding>& found) {
  const harness::Transcript& t = r.transcript;
  if (r.json) {
    std::string out = harness::formatJson(outcome);
    if (r.explain)
      out =
          out.substr(0, out.rfind('}')) + ",\"explain\":" + harness::formatFindingsJson(found) +
          ",\"applied\":" + app::dumpJson(nlohmann::ordered_json(harness::appliedRules(outcome))) +
          "}\n";
    std::cout << out;
    return;
  }
  if (r.senderCheck)
    std::cout << "sender check: mail from " << t.clientIp << " (HELO " << *t.helo << ", MAIL FROM <"
              << *t.sender << ">) against " << l.options.policyFile
              << ", every check in observe mode\n\n";
  std::cout << harness::formatText(outcome);
  if (r.explain)
    std::cout << harness::formatFindingsText(found)
              << harness::formatAppliedText(harness::appliedRules(outcome));
}

int runTranscript(Request& r, const Loaded& l) {
  r.transcript.ourHostname = l.options.hostname;
  PolicySharedPtr policy = l.policy;
  if (r.senderCheck) {
    // Every stage in observe mode: the first problem must not hide the others.
    auto all = std::make_shared<Policy>(*policy);
    for (auto& entry : all->stages) entry.mode = StageMode::Observe;
    for (auto& cls : all->classes) cls.judging.stageModes.clear();  // a class's enforce too
    policy = all;
  }
  harness::Outcome outcome = harness::runDialogue(policy, r.transcript);
  for (unsigned i = 1; i < r.repeat; ++i) outcome = harness::runDialogue(policy, r.transcript);
  std::vector<harness::Finding> found;
  if (r.explain) found = harness::findings(outcome, r.transcript);
  printOutcome(r, l, outcome, found);
  if (r.senderCheck) return found.empty() ? 0 : 1;
  if (outcome.action == "reject") return 1;
  if (outcome.action == "tempfail") return 2;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Request request;
  try {
    if (!parseRequest(argc, argv, request)) return 0;
  } catch (const po::error& e) {
    std::fprintf(stderr, "mxguard-check: %s\n%s", e.what(), kUsage);
    return config::kExitUsage;
  }
  if (!request.dmarcFile.empty()) return runDmarcReport(request);  // needs no policy
  Loaded loaded;
  try {
    loaded = loadPolicies(request);
  } catch (const config::ConfigError& e) {
    std::fprintf(stderr, "mxguard-check: %s\n", e.what());
    return config::kExitConfig;
  }
  return request.replayFile.empty() ? runTranscript(request, loaded) : runReplay(request, loaded);
}
