// libspf2.h - the one place libspf2's headers are included: they lack extern "C" and need the
// resolver headers first.
// Must not: be included from headers other stages see (only the spf_* sources use it).
#pragma once

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/types.h>

extern "C" {
#include <spf2/spf.h>
#include <spf2/spf_dns.h>
#include <spf2/spf_dns_rr.h>
}
