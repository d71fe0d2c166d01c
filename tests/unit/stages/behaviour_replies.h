// behaviour_replies.h - the behaviour stage's replies at the small limits its tests configure,
// shared by the stage's own tests and the loaded-policy tests in tests/unit/app.
#pragma once

#include <string>

namespace mxguard::testing {

inline const std::string kRsets =
    "421 4.7.0 mx.example.net Error: too many RSET commands from 192.0.2.10 (limit 3); closing "
    "connection\r\n";
inline const std::string kRejected =
    "421 4.7.0 mx.example.net Error: too many rejected recipients from 192.0.2.10 (limit 3); "
    "closing connection\r\n";
inline const std::string kMessages =
    "421 4.7.0 mx.example.net Error: too many messages in one connection from 192.0.2.10 (limit "
    "3); closing connection\r\n";
inline const std::string kSmallLimits =
    "max_rsets = 3\nmax_rejected_recipients = 3\nmax_messages_per_connection = 3\n";

}  // namespace mxguard::testing
