// A Thompson-NFA regular-expression engine for $regex: parse a PCRE-like subset, reject what the
// MongoDB back-end would run with catastrophic backtracking, and search in O(pattern x text) time
// with an explicit work list (no recursion over the input, unlike std::regex).
#include "query/regex.hpp"

#include "common/error.hpp"

#include <bitset>
#include <cctype>
#include <cstddef>

namespace meta_db::query {

namespace {

constexpr std::size_t kMaxProgram = 20000;
constexpr int kMaxRepeat = 1000;
constexpr int kMaxGroupDepth = 64;

using Bits = std::bitset<256>;

struct Node {
  enum class K { kEmpty, kSet, kBol, kEol, kWordB, kNotWordB, kCat, kAlt, kRep };
  K k = K::kEmpty;
  Bits set;
  std::vector<Node> kids;
  int min = 0;
  int max = -1;  // -1: unbounded
};

Node SetNode(const Bits& bits) {
  Node n;
  n.k = Node::K::kSet;
  n.set = bits;
  return n;
}

Node Range(unsigned lo, unsigned hi) {
  Bits b;
  for (unsigned c = lo; c <= hi; ++c) b.set(c);
  return SetNode(b);
}

Node Cat(std::vector<Node> kids) {
  Node n;
  n.k = Node::K::kCat;
  n.kids = std::move(kids);
  return n;
}

// Any one non-ASCII UTF-8 character (lenient about overlong forms; inputs come from valid JSON).
Node Utf8MultiByte() {
  Node alt;
  alt.k = Node::K::kAlt;
  alt.kids.push_back(Cat({Range(0xC0, 0xDF), Range(0x80, 0xBF)}));
  alt.kids.push_back(Cat({Range(0xE0, 0xEF), Range(0x80, 0xBF), Range(0x80, 0xBF)}));
  alt.kids.push_back(Cat({Range(0xF0, 0xF7), Range(0x80, 0xBF), Range(0x80, 0xBF), Range(0x80, 0xBF)}));
  return alt;
}

// An ASCII class, optionally negated; a negated class also matches every non-ASCII character whole.
Node ClassNode(const Bits& ascii, bool negate) {
  if (!negate) return SetNode(ascii);
  Bits b;
  for (unsigned c = 0; c < 0x80; ++c) b.set(c, !ascii.test(c));
  Node alt;
  alt.k = Node::K::kAlt;
  alt.kids.push_back(SetNode(b));
  alt.kids.push_back(Utf8MultiByte());
  return alt;
}

bool IsWordByte(unsigned char c) { return (std::isalnum(c) != 0 && c < 0x80) || c == '_'; }

Bits EscapeClass(char e) {
  Bits b;
  for (unsigned c = 0; c < 0x80; ++c) {
    const auto uc = static_cast<unsigned char>(c);
    const bool digit = uc >= '0' && uc <= '9';
    const bool space = uc == ' ' || (uc >= '\t' && uc <= '\r');
    switch (e) {
      case 'd': case 'D': b.set(c, digit); break;
      case 'w': case 'W': b.set(c, IsWordByte(uc)); break;
      default: b.set(c, space); break;  // s, S
    }
  }
  return b;
}

class Parser {
 public:
  Parser(std::string_view pattern, std::string_view options, std::string_view path)
      : p_(pattern), path_(path) {
    for (char o : options) {
      if (o == 'i') icase_ = true;
      else if (o == 's') dotall_ = true;
      else if (o == 'x') extended_ = true;
      else if (o != 'm') Fail("unsupported $options flag '" + std::string(1, o) + "' (allowed: i, m, s, x)");
    }
  }

  Node Parse() {
    Node n = ParseAlt();
    if (pos_ < p_.size()) Fail("unmatched ')'");
    return n;
  }

  [[noreturn]] void Fail(const std::string& why) const {
    throw Error(Errc::kBadRequest, "invalid $regex at '" + std::string(path_) + "': " + why,
                boost::json::object{{"path", path_}});
  }

 private:
  bool AtEnd() { SkipExtended(); return pos_ >= p_.size(); }
  char Peek() { return p_[pos_]; }

  void SkipExtended() {
    if (!extended_) return;
    while (pos_ < p_.size()) {
      const char c = p_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < p_.size() && p_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  Node ParseAlt() {
    Node alt;
    alt.k = Node::K::kAlt;
    alt.kids.push_back(ParseCat());
    while (!AtEnd() && Peek() == '|') {
      ++pos_;
      alt.kids.push_back(ParseCat());
    }
    return alt.kids.size() == 1 ? std::move(alt.kids.front()) : alt;
  }

  Node ParseCat() {
    Node cat;
    cat.k = Node::K::kCat;
    while (!AtEnd() && Peek() != '|' && Peek() != ')') {
      Node atom = ParseAtom();
      while (!AtEnd() && ParseQuantifier(atom)) {
      }
      cat.kids.push_back(std::move(atom));
    }
    return cat;
  }

  bool ReadInt(int& out) {
    std::size_t start = pos_;
    long v = 0;
    while (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9') {
      v = v * 10 + (p_[pos_] - '0');
      if (v > kMaxRepeat) Fail("repetition count over " + std::to_string(kMaxRepeat));
      ++pos_;
    }
    out = static_cast<int>(v);
    return pos_ > start;
  }

  // {n}, {n,}, {n,m}; anything else starting with '{' is a literal brace, as in PCRE.
  bool ParseBraces(int& min, int& max) {
    const std::size_t save = pos_;
    ++pos_;
    if (!ReadInt(min)) { pos_ = save; return false; }
    max = min;
    if (pos_ < p_.size() && p_[pos_] == ',') {
      ++pos_;
      if (!ReadInt(max)) max = -1;
    }
    if (pos_ >= p_.size() || p_[pos_] != '}') { pos_ = save; return false; }
    ++pos_;
    if (max != -1 && max < min) Fail("repetition {n,m} with m < n");
    return true;
  }

  bool ParseQuantifier(Node& atom);
  Node ParseAtom();
  Node ParseEscape();
  Node ParseClass();
  void AddClassByte(Bits& b, unsigned char c) const {
    b.set(c);
    if (icase_ && std::isalpha(c) != 0 && c < 0x80) {
      b.set(static_cast<unsigned char>(std::tolower(c)));
      b.set(static_cast<unsigned char>(std::toupper(c)));
    }
  }
  Node Literal(unsigned char c) const {
    Bits b;
    AddClassByte(b, c);
    return SetNode(b);
  }

  std::string_view p_;
  std::string_view path_;
  std::size_t pos_ = 0;
  int depth_ = 0;
  bool icase_ = false, dotall_ = false, extended_ = false;
};

// Whether a subtree holds an unbounded repetition (the inner half of `(a+)+`).
bool HasUnboundedRep(const Node& n) {
  if (n.k == Node::K::kRep && n.max == -1) return true;
  for (const Node& k : n.kids) {
    if (HasUnboundedRep(k)) return true;
  }
  return false;
}

// First bytes a subtree can consume; sets nullable when it can match the empty string.
Bits FirstSet(const Node& n, bool& nullable) {
  switch (n.k) {
    case Node::K::kSet: nullable = false; return n.set;
    case Node::K::kCat: {
      Bits out;
      for (const Node& k : n.kids) {
        bool kn = false;
        out |= FirstSet(k, kn);
        if (!kn) { nullable = false; return out; }
      }
      nullable = true;
      return out;
    }
    case Node::K::kAlt: {
      Bits out;
      nullable = false;
      for (const Node& k : n.kids) {
        bool kn = false;
        out |= FirstSet(k, kn);
        nullable = nullable || kn;
      }
      return out;
    }
    case Node::K::kRep: {
      Bits out = FirstSet(n.kids.front(), nullable);
      nullable = nullable || n.min == 0;
      return out;
    }
    default: nullable = true; return {};
  }
}

// An alternation whose branches can start alike (`(a|a)*`, `(a|ab)*`): exponential for backtrackers.
bool HasAmbiguousAlt(const Node& n) {
  if (n.k == Node::K::kAlt) {
    std::vector<std::pair<Bits, bool>> firsts;
    for (const Node& k : n.kids) {
      bool nl = false;
      Bits f = FirstSet(k, nl);
      for (const auto& [g, gn] : firsts) {
        if ((f & g).any() || (nl && gn)) return true;
      }
      firsts.emplace_back(f, nl);
    }
  }
  for (const Node& k : n.kids) {
    if (HasAmbiguousAlt(k)) return true;
  }
  return false;
}

bool Parser::ParseQuantifier(Node& atom) {
  int min = 0, max = -1;
  const char c = Peek();
  if (c == '*') { ++pos_; }
  else if (c == '+') { ++pos_; min = 1; }
  else if (c == '?') { ++pos_; max = 1; }
  else if (c == '{') { if (!ParseBraces(min, max)) return false; }
  else return false;
  if (pos_ < p_.size() && p_[pos_] == '?') ++pos_;  // lazy: same set of matches for a yes/no search
  if (atom.k == Node::K::kBol || atom.k == Node::K::kEol || atom.k == Node::K::kWordB ||
      atom.k == Node::K::kNotWordB) {
    Fail("quantifier after an assertion");
  }
  if ((atom.k == Node::K::kRep && max == -1) || ((max == -1 || max > 1) && HasUnboundedRep(atom))) {
    Fail("nested quantifier (catastrophic backtracking)");
  }
  if ((max == -1 || max > 1) && HasAmbiguousAlt(atom)) {
    Fail("repeated alternation with overlapping branches (catastrophic backtracking)");
  }
  Node rep;
  rep.k = Node::K::kRep;
  rep.min = min;
  rep.max = max;
  rep.kids.push_back(std::move(atom));
  atom = std::move(rep);
  return true;
}

Node Parser::ParseAtom() {
  const auto c = static_cast<unsigned char>(p_[pos_++]);
  switch (c) {
    case '(': {
      if (pos_ < p_.size() && p_[pos_] == '?') {
        if (pos_ + 1 < p_.size() && p_[pos_ + 1] == ':') pos_ += 2;
        else Fail("unsupported group syntax '(?' (only '(?:' is allowed)");
      }
      if (++depth_ > kMaxGroupDepth) Fail("groups nested too deeply");
      Node inner = ParseAlt();
      --depth_;
      if (pos_ >= p_.size() || p_[pos_] != ')') Fail("missing ')'");
      ++pos_;
      return inner;
    }
    case '[': return ParseClass();
    case '.': {
      Bits b;
      for (unsigned x = 0; x < 0x80; ++x) b.set(x, dotall_ || x != '\n');
      Node alt;
      alt.k = Node::K::kAlt;
      alt.kids.push_back(SetNode(b));
      alt.kids.push_back(Utf8MultiByte());
      return alt;
    }
    case '^': { Node n; n.k = Node::K::kBol; return n; }
    case '$': { Node n; n.k = Node::K::kEol; return n; }
    case '\\': return ParseEscape();
    case '*': case '+': case '?': Fail("quantifier with nothing to repeat");
    default: break;
  }
  if (c < 0x80) return Literal(c);
  // A multi-byte UTF-8 literal is one atom, so a following quantifier repeats the whole character.
  std::vector<Node> bytes{Literal(c)};
  while (pos_ < p_.size() && (static_cast<unsigned char>(p_[pos_]) & 0xC0) == 0x80) {
    bytes.push_back(Literal(static_cast<unsigned char>(p_[pos_++])));
  }
  return bytes.size() == 1 ? std::move(bytes.front()) : Cat(std::move(bytes));
}

Node Parser::ParseEscape() {
  if (pos_ >= p_.size()) Fail("trailing backslash");
  const char e = p_[pos_++];
  switch (e) {
    case 'd': case 'w': case 's': return ClassNode(EscapeClass(e), false);
    case 'D': case 'W': case 'S': return ClassNode(EscapeClass(e), true);
    case 'b': { Node n; n.k = Node::K::kWordB; return n; }
    case 'B': { Node n; n.k = Node::K::kNotWordB; return n; }
    case 'n': return Literal('\n');
    case 't': return Literal('\t');
    case 'r': return Literal('\r');
    case 'f': return Literal('\f');
    case 'v': return Literal('\v');
    default: break;
  }
  if (e >= '1' && e <= '9') Fail("backreferences are not supported");
  if (std::isalnum(static_cast<unsigned char>(e)) != 0) Fail("unsupported escape '\\" + std::string(1, e) + "'");
  return Literal(static_cast<unsigned char>(e));
}

Node Parser::ParseClass() {
  bool negate = false;
  if (pos_ < p_.size() && p_[pos_] == '^') { negate = true; ++pos_; }
  Bits b;
  bool first = true;
  while (true) {
    if (pos_ >= p_.size()) Fail("missing ']'");
    auto c = static_cast<unsigned char>(p_[pos_++]);
    if (c == ']' && !first) break;
    first = false;
    if (c == '\\') {
      if (pos_ >= p_.size()) Fail("trailing backslash");
      const char e = p_[pos_++];
      if (e == 'd' || e == 'w' || e == 's') { b |= EscapeClass(e); continue; }
      if (e == 'D' || e == 'W' || e == 'S') Fail("negated class escape inside [...]");
      if (e == 'n') c = '\n';
      else if (e == 't') c = '\t';
      else if (e == 'r') c = '\r';
      else if (std::isalnum(static_cast<unsigned char>(e)) != 0) Fail("unsupported escape in [...]");
      else c = static_cast<unsigned char>(e);
    }
    if (c >= 0x80) Fail("non-ASCII characters inside [...] are not supported");
    unsigned hi = c;
    if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
      hi = static_cast<unsigned char>(p_[pos_ + 1]);
      if (hi == '\\' || hi >= 0x80 || hi < c) Fail("invalid range in [...]");
      pos_ += 2;
    }
    for (unsigned x = c; x <= hi; ++x) AddClassByte(b, static_cast<unsigned char>(x));
  }
  return ClassNode(b, negate);
}

std::size_t ProgramSize(const Node& n) {
  std::size_t size = 1;
  if (n.k == Node::K::kRep) {
    const std::size_t body = ProgramSize(n.kids.front()) + 2;
    const auto copies = static_cast<std::size_t>(n.max == -1 ? n.min + 1 : n.max);
    return body * (copies == 0 ? 1 : copies) + 1;
  }
  for (const Node& k : n.kids) {
    size += ProgramSize(k) + 2;
    if (size > kMaxProgram) return size;
  }
  return size;
}

// Emits Thompson-construction code for a subtree.
class Emitter {
 public:
  Emitter(std::vector<Regex::Inst>& prog, std::vector<Regex::ByteSet>& sets) : prog_(prog), sets_(sets) {}

  void Emit(const Node& n) {
    using IK = Regex::Inst::Kind;
    switch (n.k) {
      case Node::K::kEmpty: return;
      case Node::K::kSet: {
        Regex::ByteSet s(256);
        for (unsigned c = 0; c < 256; ++c) s[c] = n.set.test(c);
        sets_.push_back(std::move(s));
        Push({IK::kByte, static_cast<std::uint16_t>(sets_.size() - 1), 0, 0});
        return;
      }
      case Node::K::kBol: Push({IK::kBol}); return;
      case Node::K::kEol: Push({IK::kEol}); return;
      case Node::K::kWordB: Push({IK::kWordB}); return;
      case Node::K::kNotWordB: Push({IK::kNotWordB}); return;
      case Node::K::kCat:
        for (const Node& k : n.kids) Emit(k);
        return;
      case Node::K::kAlt: EmitAlt(n); return;
      case Node::K::kRep: EmitRep(n); return;
    }
  }

 private:
  std::int32_t Push(Regex::Inst inst) {
    prog_.push_back(inst);
    return static_cast<std::int32_t>(prog_.size() - 1);
  }
  std::int32_t Here() const { return static_cast<std::int32_t>(prog_.size()); }

  void EmitAlt(const Node& n) {
    std::vector<std::int32_t> jumps;
    for (std::size_t i = 0; i < n.kids.size(); ++i) {
      if (i + 1 == n.kids.size()) { Emit(n.kids[i]); break; }
      const std::int32_t split = Push({Regex::Inst::Kind::kSplit});
      prog_[split].x = Here();
      Emit(n.kids[i]);
      jumps.push_back(Push({Regex::Inst::Kind::kJmp}));
      prog_[split].y = Here();
    }
    for (std::int32_t j : jumps) prog_[j].x = Here();
  }

  void EmitRep(const Node& n) {
    const Node& body = n.kids.front();
    for (int i = 0; i < n.min; ++i) Emit(body);
    if (n.max == -1) {
      const std::int32_t split = Push({Regex::Inst::Kind::kSplit});
      prog_[split].x = Here();
      Emit(body);
      Push({Regex::Inst::Kind::kJmp, 0, split, 0});
      prog_[split].y = Here();
      return;
    }
    std::vector<std::int32_t> splits;
    for (int i = n.min; i < n.max; ++i) {
      const std::int32_t split = Push({Regex::Inst::Kind::kSplit});
      prog_[split].x = Here();
      splits.push_back(split);
      Emit(body);
    }
    for (std::int32_t s : splits) prog_[s].y = Here();
  }

  std::vector<Regex::Inst>& prog_;
  std::vector<Regex::ByteSet>& sets_;
};

}  // namespace

Regex Regex::Compile(std::string_view pattern, std::string_view options, std::string_view path) {
  Parser parser(pattern, options, path);
  if (pattern.size() > kMaxRegexLength) {
    parser.Fail("pattern longer than " + std::to_string(kMaxRegexLength) + " characters");
  }
  if (pattern.find('\0') != std::string_view::npos) parser.Fail("NUL byte in pattern");
  const Node root = parser.Parse();
  if (ProgramSize(root) > kMaxProgram) parser.Fail("pattern too large once repetitions are expanded");
  Regex re;
  re.pattern_ = std::string(pattern);
  re.options_ = std::string(options);
  re.multiline_ = options.find('m') != std::string_view::npos;
  Emitter(re.prog_, re.sets_).Emit(root);
  re.prog_.push_back({Inst::Kind::kMatch});
  if (re.sets_.size() > 0xFFFF) parser.Fail("pattern too large");
  return re;
}

void Regex::AddThread(std::vector<std::int32_t>& list, std::vector<std::uint32_t>& mark, std::uint32_t gen,
                      std::int32_t start, std::string_view text, std::size_t pos) const {
  std::vector<std::int32_t> stack{start};
  const auto word_before = pos > 0 && IsWordByte(static_cast<unsigned char>(text[pos - 1]));
  const auto word_after = pos < text.size() && IsWordByte(static_cast<unsigned char>(text[pos]));
  while (!stack.empty()) {
    const std::int32_t pc = stack.back();
    stack.pop_back();
    auto& m = mark[static_cast<std::size_t>(pc)];
    if (m == gen) continue;
    m = gen;
    const Inst& inst = prog_[static_cast<std::size_t>(pc)];
    switch (inst.kind) {
      case Inst::Kind::kJmp: stack.push_back(inst.x); break;
      case Inst::Kind::kSplit: stack.push_back(inst.y); stack.push_back(inst.x); break;
      case Inst::Kind::kBol:
        if (pos == 0 || (multiline_ && text[pos - 1] == '\n')) stack.push_back(pc + 1);
        break;
      case Inst::Kind::kEol:
        if (pos == text.size() || (pos + 1 == text.size() && text[pos] == '\n') ||
            (multiline_ && text[pos] == '\n')) {
          stack.push_back(pc + 1);
        }
        break;
      case Inst::Kind::kWordB: if (word_before != word_after) stack.push_back(pc + 1); break;
      case Inst::Kind::kNotWordB: if (word_before == word_after) stack.push_back(pc + 1); break;
      case Inst::Kind::kByte:
      case Inst::Kind::kMatch: list.push_back(pc); break;
    }
  }
}

bool Regex::Search(std::string_view text) const {
  std::vector<std::int32_t> current, next;
  std::vector<std::uint32_t> mark(prog_.size(), 0);
  std::uint32_t gen = 1;
  AddThread(current, mark, gen, 0, text, 0);
  for (std::size_t pos = 0;; ++pos) {
    for (std::int32_t pc : current) {
      if (prog_[static_cast<std::size_t>(pc)].kind == Inst::Kind::kMatch) return true;
    }
    if (pos == text.size()) return false;
    ++gen;
    next.clear();
    const auto byte = static_cast<unsigned char>(text[pos]);
    for (std::int32_t pc : current) {
      const Inst& inst = prog_[static_cast<std::size_t>(pc)];
      if (inst.kind == Inst::Kind::kByte && sets_[inst.set][byte]) {
        AddThread(next, mark, gen, pc + 1, text, pos + 1);
      }
    }
    AddThread(next, mark, gen, 0, text, pos + 1);  // unanchored: a match may start anywhere
    current.swap(next);
  }
}

}  // namespace meta_db::query
