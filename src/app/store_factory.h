// store_factory.h - turns StoreOptions ([store] in mxguard.conf) into the one shared Store.
// Must not: connect at construction (--check-config runs without Redis; Redis may start later).
#pragma once

#include "app/daemon_options.h"
#include "store/store.h"

namespace mxguard::app {

store::StoreSharedPtr makeStore(const StoreOptions& options);

}  // namespace mxguard::app
