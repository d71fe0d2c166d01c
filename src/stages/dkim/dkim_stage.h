// dkim_stage.h - DKIM verification (RFC 6376, RFC 8463 ed25519, RFC 8301 floor) with
// libopendkim: every signature of the message gets an RFC 8601 result in authResults, chosen
// sender domains can be required to carry a valid signature (RFC 7372 reply codes), and a
// message whose every signature failed can be refused (bad_signature, OpenDKIM's
// On-BadSignature).
// Must not: buffer the body (it streams into libopendkim), use libopendkim's resolver, or keep a
// DKIM handle beyond its message (state is dropped on abort, RSET and the next message).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config_file.h"
#include "core/stage.h"
#include "stages/check_action.h"
#include "stages/dkim/dkim_lib.h"
#include "stages/dkim/dkim_result.h"
#include "stages/registry.h"

namespace mxguard::stages {

class DkimStage : public Stage {
 public:
  static std::vector<config::OptionSpec> options();
  static StageSharedPtr create(const config::Section& section, const StageContext& context);

  std::string_view name() const override { return "dkim"; }
  std::vector<dns::Query> prefetch(Phase phase, const Connection& tx) const override;
  Findings onHeader(Connection& tx, const Header& header) const override;
  Findings onEoh(Connection& tx) const override;
  Findings onBody(Connection& tx, std::string_view chunk) const override;
  Findings onEom(Connection& tx) const override;
  void onAbort(Connection& tx) const override;
  void onClose(Connection& tx) const override;

  // Limits on what one message may make us keep or compute.
  static constexpr size_t kMaxHeaderBytes = 4 * 1024 * 1024;
  static constexpr size_t kMaxHeaderFields = 20000;

 private:
  struct MessageState;
  MessageState& state(Connection& tx) const;
  void runEoh(Connection& tx, MessageState& st) const;

  // The steps of onEom. One outcome per signature libopendkim verified, or (when the message
  // could not be verified at all) per signature field, each a temperror or permerror.
  std::vector<SignatureOutcome> verifySignatures(Connection& tx, MessageState& st) const;
  // libopendkim's end of message and its signature list (*sigs, the count returned); what fails
  // marks the message broken.
  int endOfMessage(MessageState& st, DKIM_SIGINFO*** sigs) const;
  std::string skippedSignatures(const MessageState& st) const;  // "" when none was skipped
  // RFC 8601 results: one per outcome, "none" for an unsigned message, "neutral" naming the
  // signatures past max_signatures.
  void recordResults(Connection& tx, bool signed_, const std::vector<SignatureOutcome>& outcomes,
                     const std::string& skipped) const;
  // require_signature_from for one From domain: nullopt when it is not required, or a valid
  // signature covers it; else what the stage reports.
  std::optional<Findings> checkAuthorDomain(Connection& tx, const std::string& fromDomain,
                                            const std::vector<SignatureOutcome>& outcomes,
                                            const std::string& summary) const;
  // bad_signature: nullopt unless every signature failed verification (dkim_bad_signature.h)
  // and bad_signature_domains concerns one of them.
  std::optional<Decision> checkBadSignature(const Connection& tx,
                                            const std::vector<SignatureOutcome>& outcomes,
                                            size_t skipped, const std::string& summary) const;

  std::shared_ptr<DKIM_LIB> lib_;
  dns::ResolverSharedPtr resolver_;
  std::chrono::milliseconds timeout_{5000};
  size_t maxSignatures_ = 10;
  std::vector<std::string> requireFrom_;  // normalised domains
  Check noValidSignature_;
  Check noAuthorSignature_;  // the same check, with the reply for "another domain passed"
  Check badSignature_;
  std::vector<std::string> badSignatureDomains_;  // normalised signing domains; empty = all
  ReplyTemplate temperrorReply_;
};

}  // namespace mxguard::stages
