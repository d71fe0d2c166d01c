// resolver_factory.cpp - libunbound behind the Resolver interface, mxguard's answer cache in front.
// Must not: query anything at construction (so --check-config works offline).
#include "app/resolver_factory.h"

#include "config/config_error.h"
#include "dns/caching_resolver.h"
#include "dns/unbound_resolver.h"

namespace mxguard::app {

dns::ResolverSharedPtr makeResolver(const DnsOptions& options, const std::string& configFile) {
  dns::UnboundOptions u;
  u.forwarders = options.forward;
  u.passLocalZones = options.passLocalZones;
  u.forwardPrivateReverse = options.forwardPrivateReverse;
  try {
    dns::ResolverSharedPtr unbound = dns::UnboundResolver::create(u);
    if (options.cacheEntries == 0) return unbound;
    return std::make_shared<dns::CachingResolver>(unbound, options.cacheEntries,
                                                  options.cacheMegabytes * 1024 * 1024);
  } catch (const std::exception& e) {
    throw config::ConfigError(configFile.empty() ? "--dns" : configFile, 0, "dns.forward",
                              e.what());
  }
}

}  // namespace mxguard::app
