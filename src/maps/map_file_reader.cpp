// map_file_reader.cpp - lines, comments and continuations of a map file, with views into the
// text wherever possible (a million-line map must load in well under a second).
// Must not: accept a line it cannot explain: a NUL byte, a continuation with no entry before it
// and a malformed regexp key are errors naming their line.
#include "maps/map_file_reader.h"

#include <cstring>

#include "config/config_error.h"
#include "maps/key_text.h"

namespace mxguard::maps {
namespace {

bool isBlank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

bool isFlagLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

MapFileReader::MapFileReader(std::string_view text, const std::string& fileName, KeySyntax syntax)
    : text_(text), file_(fileName), syntax_(syntax) {}

bool MapFileReader::physicalLine(std::string_view& line) {
  if (pos_ >= text_.size()) return false;
  const char* start = text_.data() + pos_;
  const void* nl = std::memchr(start, '\n', text_.size() - pos_);
  size_t length =
      nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) : text_.size() - pos_;
  line = std::string_view(start, length);
  pos_ += length + (nl ? 1 : 0);
  ++lineNo_;
  if (std::memchr(line.data(), '\0', line.size()))
    throw config::ConfigError(file_, lineNo_, "", "NUL byte in map line");
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

std::string_view MapFileReader::splitKey(std::string_view content, int line,
                                         std::string_view& rest) const {
  size_t end = 0;
  if (syntax_ == KeySyntax::Word) {
    while (end < content.size() && !isBlank(content[end])) ++end;
  } else {
    if (content.front() != '/')
      throw config::ConfigError(
          file_, line, "",
          "expected '/pattern/flags' at the start of the line, got '" + shownKey(content) + "'");
    // The first '/' not escaped by a backslash closes the pattern, as in Postfix: a value may
    // then hold any text, a URL with slashes included.
    size_t close = std::string_view::npos;
    for (size_t i = 1; i < content.size(); ++i) {
      if (content[i] == '\\') {
        ++i;
      } else if (content[i] == '/') {
        close = i;
        break;
      }
    }
    if (close == std::string_view::npos)
      throw config::ConfigError(file_, line, "",
                                "no closing '/' after the pattern '" + shownKey(content) +
                                    "' (write a '/' inside the pattern as \\/)");
    end = close + 1;
    while (end < content.size() && isFlagLetter(content[end])) ++end;
    if (end < content.size() && !isBlank(content[end]))
      throw config::ConfigError(file_, line, "",
                                "expected white space after '" + shownKey(content.substr(0, end)) +
                                    "', got '" + shownKey(content.substr(end, 1)) +
                                    "' (write a '/' inside the pattern as \\/)");
  }
  rest = trimmed(content.substr(end));
  return content.substr(0, end);
}

bool MapFileReader::next(MapLine& out) {
  std::string_view line;
  std::string_view content;
  while (true) {
    if (!physicalLine(line)) return false;
    content = trimmed(line);
    if (content.empty() || content.front() == '#') continue;
    if (isBlank(line.front()))
      throw config::ConfigError(file_, lineNo_, "",
                                "a line starting with white space continues an entry, but no "
                                "entry comes before it: '" +
                                    shownKey(content) + "'");
    break;
  }
  out.line = lineNo_;
  out.key = splitKey(content, lineNo_, out.value);
  // Continuations: blank and comment lines in between are skipped, as Postfix skips them.
  bool copied = false;
  while (true) {
    size_t savedPos = pos_;
    int savedLine = lineNo_;
    std::string_view next;
    if (!physicalLine(next)) break;
    std::string_view more = trimmed(next);
    if (more.empty() || more.front() == '#') continue;
    if (!isBlank(next.front())) {
      pos_ = savedPos;  // the next entry: read again by the next call
      lineNo_ = savedLine;
      break;
    }
    if (!copied) {
      joined_.assign(out.value);
      copied = true;
    }
    if (!joined_.empty()) joined_ += ' ';
    joined_.append(more);
  }
  if (copied) out.value = joined_;
  return true;
}

}  // namespace mxguard::maps
