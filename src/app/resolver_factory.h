// resolver_factory.h - turns DnsOptions (--dns, [dns]) into the one shared Resolver.
// Must not: be called per connection; one resolver (and cache) serves the whole process.
#pragma once

#include "app/daemon_options.h"
#include "core/resolver.h"

namespace mxguard::app {

// Throws config::ConfigError (option "dns.forward") when libunbound refuses the settings.
dns::ResolverSharedPtr makeResolver(const DnsOptions& options, const std::string& configFile);

}  // namespace mxguard::app
