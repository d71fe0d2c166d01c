// engine_summary.cpp - the Engine's one line per transaction (Haraka's collated results), bounded
// by Engine::kMaxSummaryLineBytes however many recipients, forgeries or trace entries there were.
// Must not: change any state; it only reads what the Engine kept.
#include <algorithm>
#include <array>

#include "base/strings.h"
#include "core/engine.h"

namespace mxguard {
namespace {

// An outside value in the summary line: sanitised and, past `max` bytes, cut with "...".
std::string clip(std::string_view s, size_t max) {
  return s.size() > max ? sanitize(s.substr(0, max)) + "..." : sanitize(s);
}

// One list of the summary line (to=, rejected=, stages=): its items as kept, how many there were
// (kept or not), and what separates them.
struct LogList {
  std::vector<std::string> items;
  size_t total = 0;
  std::string_view sep;
  bool keepLast = false;  // the stages list: the decision is its last entry
  size_t bytes() const {
    size_t n = items.empty() ? 0 : sep.size() * (items.size() - 1);
    for (const auto& i : items) n += i.size();
    return n;
  }
};

// Room the "... (N more)" marker may take beyond a list's budget.
constexpr size_t kMarkerBytes = 48;

// The list in `budget` bytes: as many first items as fit (and with keepLast, as many last ones
// in the other half), and "... (N more)" for the rest.
std::string fitList(const LogList& l, size_t budget) {
  auto join = [&](size_t from, size_t to) {
    std::string out;
    for (size_t i = from; i < to; ++i) out += (i > from ? std::string(l.sep) : "") + l.items[i];
    return out;
  };
  if (l.total == l.items.size() && l.bytes() <= budget) return join(0, l.items.size());
  size_t headBudget = l.keepLast ? budget / 2 : budget;
  size_t head = 0, used = 0;
  for (; head < l.items.size(); ++head) {
    size_t need = l.items[head].size() + (head ? l.sep.size() : 0);
    if (used + need > headBudget) break;
    used += need;
  }
  size_t tail = l.items.size();  // the first of the last items shown
  while (l.keepLast && tail > head && used + l.sep.size() + l.items[tail - 1].size() <= budget) {
    used += l.sep.size() + l.items[tail - 1].size();
    --tail;
  }
  size_t shown = head + (l.items.size() - tail);
  std::string out = join(0, head) + (head ? std::string(l.sep) : "") + "... (" +
                    std::to_string(l.total - shown) + " more)";
  if (tail < l.items.size()) out += std::string(l.sep) + join(tail, l.items.size());
  return out;
}

// Shares `room` among lists needing `need` bytes each: a short list gets all it needs, and
// what it leaves goes to the longer ones.
std::array<size_t, 3> shareRoom(const std::array<size_t, 3>& need, size_t room) {
  std::array<size_t, 3> order{0, 1, 2}, out{};
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return need[a] < need[b]; });
  size_t left = order.size();
  for (size_t k : order) {
    out[k] = std::min(need[k], room / left--);
    room -= out[k];
  }
  return out;
}

}  // namespace

std::string Engine::summaryHead() const {
  const auto& c = tx_.client;
  const auto& e = tx_.message;
  std::string line = e.queueId.empty() ? "NOQUEUE" : clip(e.queueId, 64);
  line += ": client=" + clip(c.clientName, 255) + "[" + clip(c.clientAddress, 64) + "]";
  line += " helo=<" + clip(c.helo, 100) + ">";
  if (!c.authUser.empty()) line += " sasl_username=" + clip(c.authUser, 255);
  if (e.senderSeen) line += " from=<" + clip(e.sender, 512) + ">";
  return line;
}

std::string Engine::summaryTail() const {
  std::string line = " action=" + finalAction_;
  if (!finalReason_.empty()) line += " reason=" + clip(finalReason_, 128);
  if (!finalReply_.empty()) line += " reply=\"" + clip(finalReply_, 1500) + "\"";
  return line;
}

// Bounded by kMaxSummaryLineBytes: the head and tail fields are cut to fixed sizes, and the three
// lists share what is left.
std::string Engine::summaryLine() const {
  std::array<LogList, 3> lists;
  LogList& to = lists[0];
  to.sep = ",";
  for (const auto& r : tx_.message.recipients) to.items.push_back("<" + sanitize(r) + ">");
  to.total = std::max(acceptedRcpts_, to.items.size());
  LogList& rejected = lists[1];
  rejected.sep = " rejected=";
  rejected.items = rejectedRcpts_;
  rejected.total = std::max(refusedRcpts_, rejected.items.size());
  LogList& stages = lists[2];
  stages.sep = ",";
  stages.keepLast = true;
  for (const auto& t : tx_.trace)
    stages.items.push_back(t.stage + ":" + t.outcome + (t.effect == "none" ? "" : "/" + t.effect) +
                           (t.lane.empty() ? "" : "@" + t.lane));
  stages.total = stages.items.size() + traceDropped_;

  std::string head = summaryHead(), tail = summaryTail();
  const std::array<std::string_view, 3> prefixes{" to=", " rejected=", " stages="};
  size_t fixed = head.size() + tail.size() + std::string_view(" stages=none").size();
  for (size_t k = 0; k < lists.size(); ++k) fixed += prefixes[k].size() + kMarkerBytes;
  size_t room = fixed < kMaxSummaryLineBytes ? kMaxSummaryLineBytes - fixed : 0;
  auto budget = shareRoom({to.bytes(), rejected.bytes(), stages.bytes()}, room);

  std::string line = head;
  if (to.total > 0) line += " to=" + fitList(to, budget[0]);
  if (rejected.total > 0) line += " rejected=" + fitList(rejected, budget[1]);
  line += " stages=" + (stages.total == 0 ? std::string("none") : fitList(stages, budget[2]));
  // The field caps above keep within the bound; this only keeps the promise if they change.
  if (line.size() + tail.size() > kMaxSummaryLineBytes)
    line.resize(kMaxSummaryLineBytes > tail.size() ? kMaxSummaryLineBytes - tail.size() : 0);
  return line + tail;
}

}  // namespace mxguard
