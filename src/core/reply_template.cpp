// reply_template.cpp - a tiny recursive parser for Postfix-style ${name}, ${name?text},
// ${name:text}. Must not: evaluate anything but variable substitution; templates come from admins,
// values from the outside world (sanitised in Reply::make).
#include "core/reply_template.h"

#include <cctype>

namespace mxguard {

struct ReplyTemplate::Node {
  enum class Kind { Text, Var, IfSet, IfEmpty } kind = Kind::Text;
  std::string text;         // Text: literal; others: variable name
  std::vector<Node> inner;  // IfSet / IfEmpty: rendered when the condition holds
};

namespace {

using Node = ReplyTemplate::Node;

bool isNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Parses until `end` (an unmatched '}' when nested) and returns the position after it.
size_t parseNodes(std::string_view s, size_t pos, bool nested, std::vector<Node>& out,
                  const std::set<std::string>& allowed) {
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out.push_back(Node{Node::Kind::Text, std::move(literal), {}});
    literal.clear();
  };
  while (pos < s.size()) {
    char c = s[pos];
    if (nested && c == '}') {
      flush();
      return pos + 1;
    }
    if (c == '$' && pos + 1 < s.size() && s[pos + 1] == '{') {
      flush();
      size_t p = pos + 2;
      size_t nameStart = p;
      while (p < s.size() && isNameChar(s[p])) ++p;
      std::string name(s.substr(nameStart, p - nameStart));
      if (name.empty()) throw TemplateError("empty variable name at offset " + std::to_string(pos));
      if (!allowed.count(name)) {
        std::string known;
        for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
        throw TemplateError("unknown variable ${" + name + "}; known variables: " + known);
      }
      if (p >= s.size()) throw TemplateError("unterminated ${" + name);
      if (s[p] == '}') {
        out.push_back(Node{Node::Kind::Var, name, {}});
        pos = p + 1;
        continue;
      }
      if (s[p] == '?' || s[p] == ':') {
        Node n{s[p] == '?' ? Node::Kind::IfSet : Node::Kind::IfEmpty, name, {}};
        size_t after = parseNodes(s, p + 1, true, n.inner, allowed);  // throws if unclosed
        out.push_back(std::move(n));
        pos = after;
        continue;
      }
      throw TemplateError("unexpected '" + std::string(1, s[p]) + "' in ${" + name +
                          "...} (use ${name}, ${name?text} or ${name:text})");
    }
    if (c == '$') {
      // A lone '$' is literal, as in "costs $5"; "$$" is an escaped '$'.
      literal += '$';
      pos += (pos + 1 < s.size() && s[pos + 1] == '$') ? 2 : 1;
      continue;
    }
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      throw TemplateError("non-printable character at offset " + std::to_string(pos));
    literal += c;
    ++pos;
  }
  if (nested) throw TemplateError("unbalanced '{': missing '}'");
  flush();
  return pos;
}

void renderNodes(const std::vector<Node>& nodes, const TemplateVars& vars, std::string& out) {
  for (const auto& n : nodes) {
    if (n.kind == Node::Kind::Text) {
      out += n.text;
      continue;
    }
    auto it = vars.find(n.text);
    const std::string empty;
    const std::string& value = it == vars.end() ? empty : it->second;
    switch (n.kind) {
      case Node::Kind::Var:
        out += sanitize(value);
        break;
      case Node::Kind::IfSet:
        if (!value.empty()) renderNodes(n.inner, vars, out);
        break;
      case Node::Kind::IfEmpty:
        if (value.empty()) renderNodes(n.inner, vars, out);
        break;
      case Node::Kind::Text:
        break;
    }
  }
}

}  // namespace

ReplyTemplate ReplyTemplate::parse(std::string_view source, const std::set<std::string>& allowed) {
  ReplyTemplate t;
  t.source_ = std::string(source);
  // "554 5.7.1 text": the code and the enhanced code are part of the template.
  size_t sp1 = source.find(' ');
  if (sp1 != 3)
    throw TemplateError("must start with a reply code and an enhanced code, e.g. '554 5.7.1 text'");
  int code = 0;
  for (size_t i = 0; i < 3; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(source[i])))
      throw TemplateError("invalid reply code '" + sanitize(source.substr(0, 3)) + "'");
    code = code * 10 + (source[i] - '0');
  }
  size_t sp2 = source.find(' ', sp1 + 1);
  std::string_view enhanced = source.substr(
      sp1 + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp1 - 1);
  std::string error;
  if (!Reply::make(code, enhanced, "x", &error)) throw TemplateError(error);
  if (sp2 == std::string_view::npos) throw TemplateError("the reply text is missing");
  t.code_ = code;
  t.enhanced_ = std::string(enhanced);
  auto nodes = std::make_shared<std::vector<Node>>();
  parseNodes(source.substr(sp2 + 1), 0, false, *nodes, allowed);
  t.nodes_ = std::move(nodes);
  return t;
}

namespace {

bool anyUses(const std::vector<Node>& nodes, std::string_view name) {
  for (const auto& n : nodes)
    if ((n.kind != Node::Kind::Text && n.text == name) || anyUses(n.inner, name)) return true;
  return false;
}

}  // namespace

bool ReplyTemplate::uses(std::string_view name) const {
  return nodes_ && anyUses(*nodes_, name);
}

Reply ReplyTemplate::render(const TemplateVars& vars) const {
  std::string text;
  if (nodes_) renderNodes(*nodes_, vars, text);
  // code_ and enhanced_ were validated at parse time, so make() cannot fail here.
  return *Reply::make(code_, enhanced_, text);
}

}  // namespace mxguard
