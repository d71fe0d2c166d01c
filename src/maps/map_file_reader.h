// map_file_reader.h - the line syntax every map file shares (Postfix access(5) style): one entry
// a logical line "KEY VALUE...", '#' comment lines, blank lines, and lines starting with white
// space continuing the previous entry's value. Yields entries with their first line's number.
// Must not: interpret keys or values (the indexes do), or allocate per line (a map may have
// millions; only a continued value is copied, into one reused buffer).
#pragma once

#include <string>
#include <string_view>

namespace mxguard::maps {

// Where a key ends: at the first white space, or (regexp maps) after "/pattern/flags", where a
// '/' inside the pattern is written "\/" as in Postfix's regexp tables.
enum class KeySyntax { Word, Pattern };

struct MapLine {
  std::string_view key;    // as written: "192.0.2.0/24", ".example.com", "/^spam/i"
  std::string_view value;  // trimmed; continuation lines joined with one space; may be empty
  int line = 0;            // the line the key is on
};

class MapFileReader {
 public:
  // `text` and `fileName` must outlive the reader; errors are config::ConfigError(fileName, line).
  MapFileReader(std::string_view text, const std::string& fileName, KeySyntax syntax);

  // The next entry, its views valid until the next call; false at the end of the text.
  bool next(MapLine& out);

 private:
  // The next physical line without its line end; false at the end of the text.
  bool physicalLine(std::string_view& line);
  std::string_view splitKey(std::string_view content, int line, std::string_view& rest) const;

  std::string_view text_;
  const std::string& file_;
  KeySyntax syntax_;
  size_t pos_ = 0;
  int lineNo_ = 0;
  std::string joined_;  // a continued value
};

}  // namespace mxguard::maps
