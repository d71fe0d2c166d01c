// registry.cpp - the one table of stages (Exim's condition table): name, phases, options, factory.
// Must not: grow implicit registration; adding a stage means adding a row here.
#include "stages/registry.h"

#include "stages/behaviour/behaviour_stage.h"
#include "stages/callout/callout_stage.h"
#include "stages/dkim/dkim_stage.h"
#include "stages/dmarc/dmarc_stage.h"
#include "stages/greylist/greylist_stage.h"
#include "stages/headers/headers_stage.h"
#include "stages/helo/helo_stage.h"
#include "stages/ratelimit/ratelimit_stage.h"
#include "stages/rbl/rbl_stage.h"
#include "stages/rdns/rdns_stage.h"
#include "stages/spf/spf_stage.h"

namespace mxguard::stages {

const std::vector<StageFactory>& registry() {
  static const std::vector<StageFactory> table{
      {"rbl", PhaseSet{Phase::Connect}, &RblStage::options, &RblStage::create},
      {"helo", PhaseSet{Phase::Helo, Phase::Mail}, &HeloStage::options, &HeloStage::create},
      {"rdns", PhaseSet{Phase::Connect}, &RdnsStage::options, &RdnsStage::create},
      {"callout", PhaseSet{Phase::Mail}, &CalloutStage::options, &CalloutStage::create},
      {"spf", PhaseSet{Phase::Mail}, &SpfStage::options, &SpfStage::create},
      {"behaviour", PhaseSet{Phase::Helo, Phase::Mail, Phase::Rcpt}, &BehaviourStage::options,
       &BehaviourStage::create, true},
      {"ratelimit", PhaseSet{Phase::Connect, Phase::Mail, Phase::Rcpt, Phase::Eom},
       &RateLimitStage::options, &RateLimitStage::create, true},
      {"greylist", PhaseSet{Phase::Rcpt}, &GreylistStage::options, &GreylistStage::create},
      {"headers", PhaseSet{Phase::Header, Phase::Eoh}, &HeadersStage::options,
       &HeadersStage::create},
      {"dkim", PhaseSet{Phase::Header, Phase::Eoh, Phase::Body, Phase::Eom}, &DkimStage::options,
       &DkimStage::create},
      // Reads what spf and dkim recorded: they must run before it.
      {"dmarc",
       PhaseSet{Phase::Header, Phase::Eoh, Phase::Eom},
       &DmarcStage::options,
       &DmarcStage::create,
       false,
       {"spf", "dkim"}},
  };
  return table;
}

const StageFactory* findStage(std::string_view name) {
  for (const auto& f : registry())
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace mxguard::stages
