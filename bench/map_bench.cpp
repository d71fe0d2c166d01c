// map_bench.cpp - what loading and searching big map files costs: writes a cidr map of N random
// IPv4/IPv6 networks and an address map of N addresses to a temporary directory, loads each with
// Map::load, and prints load seconds, entries, memoryBytes(), VmRSS growth and lookups per second.
// Run: BUILD/mxguard-map-bench [N] (default 1000000). Must not: be a test (it measures, it
// asserts nothing), or leave its temporary directory behind.
#include <arpa/inet.h>
#include <malloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "maps/map.h"

using namespace mxguard;
using namespace mxguard::maps;

namespace {

constexpr size_t kLookups = 1000000;
const char* const kValues[] = {"REJECT", "OK", "DUNNO", "PERMIT", "550 5.7.1 not from here"};

// VmRSS or VmHWM (the peak) from /proc/self/status, in KiB.
long statusKiB(const char* field) {
  std::ifstream status("/proc/self/status");
  std::string line;
  size_t n = std::strlen(field);
  while (std::getline(status, line))
    if (line.compare(0, n, field) == 0) return std::atol(line.c_str() + n);
  return 0;
}

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string networkText(const uint8_t* bytes, bool v4, int prefix) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, bytes, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(prefix);
}

// A random network (IPv4 /16../32 or IPv6 /32../128) with its host bits cleared, and one address
// inside it.
std::pair<std::string, std::string> randomNetwork(std::mt19937_64& rng) {
  bool v4 = rng() % 2 == 0;
  int bytes = v4 ? 4 : 16;
  int prefix = v4 ? 16 + static_cast<int>(rng() % 17) : 32 + static_cast<int>(rng() % 97);
  uint8_t net[16] = {};
  for (int i = 0; i < bytes; ++i) net[i] = static_cast<uint8_t>(rng());
  if (!v4) net[0] = 0x20;  // global unicast, never ::ffff:0:0/96 (folded to IPv4)
  uint8_t inside[16];
  for (int i = 0; i < bytes; ++i) {
    int bitsHere = std::clamp(prefix - 8 * i, 0, 8);
    uint8_t mask = bitsHere == 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bitsHere));
    net[i] &= mask;
    inside[i] = static_cast<uint8_t>(net[i] | (rng() & ~mask));
  }
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, inside, buf, sizeof buf);
  return {networkText(net, v4, prefix), buf};
}

std::string randomAddress(std::mt19937_64& rng) {
  uint8_t b[16];
  bool v4 = rng() % 2 == 0;
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  if (!v4) b[0] = 0x20;
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(v4 ? AF_INET : AF_INET6, b, buf, sizeof buf);
  return buf;
}

struct Loaded {
  std::shared_ptr<const Map> map;
  double seconds;
  long rssGrowthKiB;
  long peakGrowthKiB;  // the file's text and the build's scratch included
};

Loaded timedLoad(MapKind kind, const std::string& path) {
  // Freed heap handed back first, so the growth is the map's and not memory malloc reuses.
  malloc_trim(0);
  std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM := VmRSS
  long before = statusKiB("VmRSS:");
  auto start = std::chrono::steady_clock::now();
  auto map = Map::load(kind, path);
  double s = seconds(std::chrono::steady_clock::now() - start);
  return {map, s, statusKiB("VmRSS:") - before, statusKiB("VmHWM:") - before};
}

void report(const char* what, const Loaded& l, size_t fileBytes, double lookupSeconds,
            size_t hits) {
  std::printf(
      "%-8s %zu entries (%.1f MB file): load %.3f s, memoryBytes %.1f MB, RSS +%.1f MB "
      "(peak +%.1f MB); %zu lookups %.3f s = %.2f M/s (%.0f %% hits)\n",
      what, l.map->size(), static_cast<double>(fileBytes) / 1e6, l.seconds,
      static_cast<double>(l.map->memoryBytes()) / 1e6,
      static_cast<double>(l.rssGrowthKiB) / 1e3 * 1.024,
      static_cast<double>(l.peakGrowthKiB) / 1e3 * 1.024, kLookups, lookupSeconds,
      static_cast<double>(kLookups) / lookupSeconds / 1e6,
      100.0 * static_cast<double>(hits) / kLookups);
}

// Writes the two maps and the subjects to look up (one a line) into `dir`.
void writeFiles(const std::string& dir, size_t n) {
  std::mt19937_64 rng(42);
  // cidr: N distinct networks; lookups half inside a listed network, half anywhere.
  {
    std::unordered_set<std::string> seen;
    seen.reserve(n);
    std::vector<std::string> inside;
    std::string text;
    while (seen.size() < n) {
      auto [network, address] = randomNetwork(rng);
      if (!seen.insert(network).second) continue;
      text += network + "\t" + kValues[rng() % 5] + "\n";
      if (inside.size() < kLookups / 2) inside.push_back(address);
    }
    std::ofstream(dir + "/clients.cidr") << text;
    std::ofstream lookups(dir + "/clients.lookups");
    for (size_t i = 0; i < kLookups; ++i)
      lookups << (i % 2 == 0 ? inside[rng() % inside.size()] : randomAddress(rng)) << "\n";
  }
  // address: N distinct addresses of about 25 bytes; lookups half listed, half not.
  {
    std::vector<std::string> listed;
    listed.reserve(n);
    std::string text;
    for (size_t i = 0; i < n; ++i) {
      listed.push_back("u" + std::to_string(i) + "x" + std::to_string(rng() % 1000) + "@d" +
                       std::to_string(rng() % 100000) + ".example");
      text += listed.back() + " " + kValues[rng() % 5] + "\n";
    }
    std::ofstream(dir + "/senders.address") << text;
    std::ofstream lookups(dir + "/senders.lookups");
    for (size_t i = 0; i < kLookups; ++i)
      lookups << (i % 2 == 0 ? listed[rng() % listed.size()]
                             : "nobody" + std::to_string(rng() % 1000000) + "@d" +
                                   std::to_string(rng() % 100000) + ".example")
              << "\n";
  }
}

std::vector<std::string> readLines(const std::string& path) {
  std::vector<std::string> lines;
  lines.reserve(kLookups);
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

size_t fileBytes(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<size_t>(st.st_size) : 0;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  char tmpl[] = "/tmp/mxguard-map-bench.XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  std::string dir = tmpl;
  // Written by a child: the generation's freed megabytes would otherwise sit in this process's
  // heap, and a load reusing them would show as RSS growth that is not the map's.
  pid_t child = fork();
  if (child == 0) {
    writeFiles(dir, n);
    _exit(0);
  }
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child || status != 0) {
    std::fprintf(stderr, "map_bench: writing the maps failed\n");
    return 1;
  }
  std::vector<IpAddress> ips;
  ips.reserve(kLookups);
  std::ifstream in(dir + "/clients.lookups");
  for (std::string line; std::getline(in, line);) ips.push_back(*IpAddress::parse(line));
  std::vector<std::string> subjects = readLines(dir + "/senders.lookups");

  {
    Loaded l = timedLoad(MapKind::Cidr, dir + "/clients.cidr");
    size_t hits = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& ip : ips) hits += l.map->findAddress(ip).has_value();
    report("cidr", l, fileBytes(dir + "/clients.cidr"),
           seconds(std::chrono::steady_clock::now() - start), hits);
  }
  {
    Loaded l = timedLoad(MapKind::Address, dir + "/senders.address");
    size_t hits = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& s : subjects) hits += l.map->find(s).has_value();
    report("address", l, fileBytes(dir + "/senders.address"),
           seconds(std::chrono::steady_clock::now() - start), hits);
  }
  for (const char* f : {"clients.cidr", "clients.lookups", "senders.address", "senders.lookups"})
    unlink((dir + "/" + f).c_str());
  rmdir(dir.c_str());
  return 0;
}
