// spf_record_syntax.cpp - a hand-written recursive check of RFC 7208 section 12, term by term.
// libspf2 has no validating parser of its own that follows RFC 7208, and no Debian package
// offers one, so the ABNF lives here (about a page of it).
// Must not: accept anything the ABNF rejects; a record that is not valid is a permerror.
#include "stages/spf/spf_record_syntax.h"

#include <arpa/inet.h>

#include <cctype>
#include <optional>
#include <vector>

#include "base/strings.h"

namespace mxguard::stages {
namespace {

// A term quoted in an error: bounded, so a 5 KB record cannot make a 5 KB reply.
std::string shown(std::string_view s) {
  return s.size() > 64 ? std::string(s.substr(0, 64)) + "..." : std::string(s);
}

bool isAlpha(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0;
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isAlnum(char c) {
  return isAlpha(c) || isDigit(c);
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool isTopLabel(std::string_view l) {
  if (l.empty()) return false;
  bool allAlnum = true, anyAlpha = false;
  for (char c : l) {
    allAlnum = allAlnum && isAlnum(c);
    anyAlpha = anyAlpha || isAlpha(c);
  }
  if (allAlnum) return anyAlpha;
  if (!isAlnum(l.front()) || !isAlnum(l.back())) return false;
  for (char c : l)
    if (!isAlnum(c) && c != '-') return false;
  return true;
}

// macro-string; in exp text the letters c, r and t are allowed too (7.2). Sets *endsInMacro
// when the last element is a macro-expand. Returns an error or "".
std::string checkMacroString(std::string_view s, bool expText, bool* endsInMacro) {
  *endsInMacro = false;
  for (size_t i = 0; i < s.size();) {
    char c = s[i];
    if (c != '%') {
      if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e)
        return "invalid character in '" + shown(s) + "'";
      *endsInMacro = false;
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) return "'%' at the end of '" + shown(s) + "'";
    char n = s[i + 1];
    if (n == '%' || n == '_' || n == '-') {
      *endsInMacro = true;
      i += 2;
      continue;
    }
    if (n != '{') return "invalid macro escape '%" + std::string(1, n) + "'";
    size_t close = s.find('}', i);
    if (close == std::string_view::npos) return "unterminated macro in '" + shown(s) + "'";
    std::string_view body = s.substr(i + 2, close - i - 2);
    if (body.empty()) return "empty macro '%{}'";
    char letter = static_cast<char>(std::tolower(static_cast<unsigned char>(body[0])));
    static const std::string_view letters = "slodiphv";
    if (letters.find(letter) == std::string_view::npos &&
        !(expText && (letter == 'c' || letter == 'r' || letter == 't')))
      return "invalid macro letter '" + std::string(1, body[0]) + "'";
    size_t j = 1;
    while (j < body.size() && isDigit(body[j])) ++j;
    if (j < body.size() && (body[j] == 'r' || body[j] == 'R')) ++j;
    for (; j < body.size(); ++j)
      if (std::string_view(".-+,/_=").find(body[j]) == std::string_view::npos)
        return "invalid macro delimiter in '%{" + shown(body) + "}'";
    *endsInMacro = true;
    i = close + 1;
  }
  return "";
}

// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand
std::string checkDomainSpec(std::string_view d) {
  if (d.empty()) return "empty domain-spec";
  bool endsInMacro = false;
  if (auto e = checkMacroString(d, false, &endsInMacro); !e.empty()) return e;
  if (endsInMacro) return "";
  std::string_view lit = d;
  if (lit.back() == '.') lit.remove_suffix(1);
  size_t dot = lit.rfind('.');
  if (dot == std::string_view::npos)
    return "domain-spec '" + shown(d) + "' has no top-level label after a dot";
  if (!isTopLabel(lit.substr(dot + 1))) return "invalid top-level label in '" + shown(d) + "'";
  return "";
}

// "/" ("0" / %x31-39 0*nDIGIT), value <= max
std::optional<int> parseCidr(std::string_view s, int max) {
  if (s.empty() || s.size() > 3) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (!isDigit(c)) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

bool isIp4Network(std::string_view s) {
  int parts = 0;
  size_t i = 0;
  while (i <= s.size()) {
    size_t dot = s.find('.', i);
    std::string_view q =
        s.substr(i, dot == std::string_view::npos ? std::string_view::npos : dot - i);
    if (q.empty() || q.size() > 3 || (q.size() > 1 && q[0] == '0')) return false;
    int v = 0;
    for (char c : q) {
      if (!isDigit(c)) return false;
      v = v * 10 + (c - '0');
    }
    if (v > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    i = dot + 1;
  }
  return parts == 4;
}

bool isIp6Network(std::string_view s) {
  in6_addr a{};
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

struct Cidrs {
  std::optional<int> v4, v6;
};

// Splits a trailing dual-cidr-length ("/24", "//64", "/24//64") off `arg`.
std::string splitDualCidr(std::string_view& arg, Cidrs& out) {
  size_t dbl = arg.find("//");
  std::string_view v6;
  if (dbl != std::string_view::npos) {
    v6 = arg.substr(dbl + 2);
    arg = arg.substr(0, dbl);
    out.v6 = parseCidr(v6, 128);
    if (!out.v6) return "invalid IPv6 prefix length '/" + std::string(v6) + "'";
  }
  // An IPv4 length: the last "/" followed by digits only.
  size_t slash = arg.rfind('/');
  if (slash != std::string_view::npos) {
    std::string_view v4 = arg.substr(slash + 1);
    bool digits = !v4.empty();
    for (char c : v4) digits = digits && isDigit(c);
    if (digits || slash + 1 == arg.size()) {
      out.v4 = parseCidr(v4, 32);
      if (!out.v4) return "invalid IPv4 prefix length '/" + std::string(v4) + "'";
      arg = arg.substr(0, slash);
    }
  }
  return "";
}

struct Term {
  std::string text;  // rewritten
  bool isAll = false, isRedirect = false;
};

// The record's terms, in order (after "v=spf1"; any number of spaces between them).
std::vector<std::string_view> termsOf(std::string_view record) {
  std::vector<std::string_view> terms;
  size_t pos = 6;
  while (pos < record.size()) {
    while (pos < record.size() && record[pos] == ' ') ++pos;
    if (pos >= record.size()) break;
    size_t end = record.find(' ', pos);
    if (end == std::string_view::npos) end = record.size();
    terms.push_back(record.substr(pos, end - pos));
    pos = end;
  }
  return terms;
}

// modifier = name "=" ...; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
bool isModifier(std::string_view term) {
  size_t eq = term.find('=');
  size_t nameEnd = 0;
  while (nameEnd < term.size() && (isAlnum(term[nameEnd]) || term[nameEnd] == '-' ||
                                   term[nameEnd] == '_' || term[nameEnd] == '.'))
    ++nameEnd;
  return eq != std::string_view::npos && eq == nameEnd;
}

struct Modifiers {
  std::string redirect, exp;  // the terms as written; "" when absent
  bool sawRedirect = false, sawExp = false;
};

// Each check below returns what is wrong with its term, "" when nothing is.
std::string checkModifier(std::string_view term, Modifiers& m) {
  size_t eq = term.find('=');
  std::string_view name = term.substr(0, eq), value = term.substr(eq + 1);
  if (name.empty() || !isAlpha(name[0])) return "invalid modifier name in '" + shown(term) + "'";
  if (equalsIgnoreCase(name, "redirect") || equalsIgnoreCase(name, "exp")) {
    bool& seen = equalsIgnoreCase(name, "redirect") ? m.sawRedirect : m.sawExp;
    if (seen) return "more than one " + std::string(name) + "= modifier";
    seen = true;
    if (auto e = checkDomainSpec(value); !e.empty()) return std::string(name) + "=: " + e;
    (equalsIgnoreCase(name, "redirect") ? m.redirect : m.exp) = std::string(term);
    return "";
  }
  bool endsInMacro = false;  // unknown-modifier = name "=" macro-string: checked, dropped
  if (auto e = checkMacroString(value, false, &endsInMacro); !e.empty())
    return "modifier " + std::string(name) + "=: " + e;
  return "";
}

// directive = [ qualifier ] mechanism, split up: mechanism name and what follows it.
struct Directive {
  std::string_view term;
  std::string qualifier;  // "", "+", "-", "?" or "~"
  std::string_view name, rest;
};

Directive directiveOf(std::string_view term) {
  Directive d{term, "", {}, {}};
  std::string_view mech = term;
  if (!mech.empty() && std::string_view("+-?~").find(mech[0]) != std::string_view::npos) {
    d.qualifier = std::string(1, mech[0]);
    mech.remove_prefix(1);
  }
  size_t nameLen = 0;
  while (nameLen < mech.size() && isAlnum(mech[nameLen])) ++nameLen;
  d.name = mech.substr(0, nameLen);
  d.rest = mech.substr(nameLen);
  return d;
}

// include:domain, exists:domain
std::string checkDomainMechanism(const Directive& d, Term& t) {
  if (d.rest.empty() || d.rest[0] != ':')
    return "'" + std::string(d.name) + "' needs ':domain': '" + shown(d.term) + "'";
  if (auto e = checkDomainSpec(d.rest.substr(1)); !e.empty()) return std::string(d.name) + ": " + e;
  t.text = std::string(d.term);
  return "";
}

// a[:domain][dual-cidr], mx[:domain][dual-cidr]
std::string checkAddressMechanism(const Directive& d, bool clientIsV4, Term& t) {
  std::string_view arg = d.rest;
  Cidrs cidrs;
  if (auto e = splitDualCidr(arg, cidrs); !e.empty()) return e;
  std::string domain;
  if (!arg.empty()) {
    if (arg[0] != ':') return "unknown mechanism '" + shown(d.term) + "'";
    domain = std::string(arg.substr(1));
    if (auto e = checkDomainSpec(domain); !e.empty()) return std::string(d.name) + ": " + e;
  }
  std::optional<int> own = clientIsV4 ? cidrs.v4 : cidrs.v6;
  if (own && *own == 0) {
    // "/0": any address of the name matches; the DNS layer resolves the marked name.
    t.text = d.qualifier + std::string(d.name) + ":" + (domain.empty() ? "%{d}" : domain) +
             std::string(kCidrZeroMarker);
  } else {
    // Only the client's family's length is used; the other may be a /0 libspf2 refuses.
    t.text = d.qualifier + std::string(d.name) + (domain.empty() ? "" : ":" + domain);
    if (own) t.text += (clientIsV4 ? "/" : "//") + std::to_string(*own);
  }
  return "";
}

// ptr[:domain]
std::string checkPtrMechanism(const Directive& d, Term& t) {
  if (!d.rest.empty()) {
    if (d.rest[0] != ':') return "invalid ptr mechanism '" + shown(d.term) + "'";
    if (auto e = checkDomainSpec(d.rest.substr(1)); !e.empty()) return "ptr: " + e;
  }
  t.text = std::string(d.term);
  return "";
}

// ip4:network[/len], ip6:network[/len]
std::string checkNetworkMechanism(const Directive& d, Term& t) {
  bool v4 = equalsIgnoreCase(d.name, "ip4");
  if (d.rest.empty() || d.rest[0] != ':')
    return "'" + std::string(d.name) + "' needs ':address': '" + shown(d.term) + "'";
  std::string_view net = d.rest.substr(1);
  std::optional<int> len;
  if (size_t slash = net.find('/'); slash != std::string_view::npos) {
    len = parseCidr(net.substr(slash + 1), v4 ? 32 : 128);
    if (!len) return "invalid prefix length in '" + shown(d.term) + "'";
    net = net.substr(0, slash);
  }
  if (v4 ? !isIp4Network(net) : !isIp6Network(net))
    return "invalid address in '" + shown(d.term) + "'";
  if (len && *len == 0) {
    // libspf2 cannot compile /0; two halves cover the whole family.
    t.text = v4 ? d.qualifier + "ip4:0.0.0.0/1 " + d.qualifier + "ip4:128.0.0.0/1"
                : d.qualifier + "ip6:::/1 " + d.qualifier + "ip6:8000::/1";
  } else {
    t.text = std::string(d.term);
  }
  return "";
}

std::string checkDirective(std::string_view term, bool clientIsV4, Term& t) {
  Directive d = directiveOf(term);
  auto is = [&](std::string_view name) { return equalsIgnoreCase(d.name, name); };
  if (is("all")) {
    if (!d.rest.empty()) return "'all' takes no argument: '" + shown(term) + "'";
    t.text = d.qualifier + "all";
    t.isAll = true;
    return "";
  }
  if (is("include") || is("exists")) return checkDomainMechanism(d, t);
  if (is("a") || is("mx")) return checkAddressMechanism(d, clientIsV4, t);
  if (is("ptr")) return checkPtrMechanism(d, t);
  if (is("ip4") || is("ip6")) return checkNetworkMechanism(d, t);
  return "unknown mechanism '" + shown(term) + "'";
}

}  // namespace

bool isSpfRecord(std::string_view txt) {
  return txt.size() >= 6 && equalsIgnoreCase(txt.substr(0, 6), "v=spf1") &&
         (txt.size() == 6 || txt[6] == ' ');
}

SpfRecordCheck checkSpfRecord(std::string_view record, bool clientIsV4) {
  SpfRecordCheck out;
  auto fail = [&](std::string why) {
    out.valid = false;
    out.error = std::move(why);
    return out;
  };
  for (unsigned char c : record)
    if (c < 0x20 || c > 0x7e) return fail("the record contains a control or non-ASCII character");

  std::vector<Term> terms;
  Modifiers modifiers;
  bool sawAll = false;
  for (std::string_view term : termsOf(record)) {
    if (isModifier(term)) {
      if (auto e = checkModifier(term, modifiers); !e.empty()) return fail(e);
      continue;
    }
    Term t;
    if (auto e = checkDirective(term, clientIsV4, t); !e.empty()) return fail(e);
    sawAll = sawAll || t.isAll;
    terms.push_back(std::move(t));
  }

  out.valid = true;
  out.rewritten = "v=spf1";
  for (const auto& t : terms) out.rewritten += " " + t.text;
  if (!modifiers.redirect.empty() && !sawAll) out.rewritten += " " + modifiers.redirect;
  if (!modifiers.exp.empty()) out.rewritten += " " + modifiers.exp;
  return out;
}

}  // namespace mxguard::stages
