// Filter/query parsing and validation: JSON in, a typed Filter tree or Error(kBadRequest) out.
// Everything the back-ends may rely on (operator whitelist, path shape, sizes) is enforced here, once.
#include "query/filter_tree.hpp"
#include "query/query.hpp"

#include "common/error.hpp"

#include <boost/json/serialize.hpp>

#include <array>
#include <optional>
#include <utility>

namespace meta_db::query {

namespace json = boost::json;

namespace {

[[noreturn]] void Reject(std::string_view path, const std::string& why) {
  json::object details{{"path", path}};
  throw Error(Errc::kBadRequest, "invalid filter at '" + std::string(path) + "': " + why, std::move(details));
}

std::vector<std::string> SplitPath(std::string_view path, std::string_view where) {
  if (path.empty()) Reject(where, "empty field name");
  if (path.front() == '$') Reject(path, "field names may not start with '$'");
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    const std::string_view part = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (part.empty()) Reject(path, "empty path component");
    if (part.front() == '$') Reject(path, "path components may not start with '$'");
    if (part.find('\0') != std::string_view::npos) Reject(path, "NUL byte in field name");
    parts.emplace_back(part);
    if (parts.size() > kMaxPathComponents) {
      Reject(path, "path deeper than " + std::to_string(kMaxPathComponents) + " components");
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

// The code point at the start (or end) of a UTF-8 string; nullopt when empty or not UTF-8 there.
std::optional<char32_t> EdgeCodePoint(std::string_view s, bool last) {
  if (s.empty()) return std::nullopt;
  std::size_t at = 0;
  if (last) {
    at = s.size() - 1;
    while (at > 0 && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  }
  const auto lead = static_cast<unsigned char>(s[at]);
  const std::size_t n = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  if (at + n > s.size()) return std::nullopt;
  char32_t cp = n == 1 ? lead : lead & (0x7F >> n);
  for (std::size_t i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(s[at + i]) & 0x3F);
  return cp;
}

// Unicode White_Space (as Go's unicode.IsSpace, which FerretDB applies to sort and projection paths).
bool IsWhiteSpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Sort and projection paths: no component may begin or end with white space. No stored field has such a name,
// and MongoDB-compatible servers differ on them (FerretDB fails the whole find), so they are a 400 up front.
void RejectSurroundingSpace(std::string_view path, const std::vector<std::string>& parts) {
  for (const std::string& part : parts) {
    for (const bool last : {false, true}) {
      if (const auto cp = EdgeCodePoint(part, last); cp && IsWhiteSpace(*cp)) {
        Reject(path, "path components may not begin or end with white space");
      }
    }
  }
}

// Nesting of a JSON value, measured without recursion so hostile depth cannot exhaust the stack.
std::size_t JsonDepth(const json::value& root) {
  std::vector<std::pair<const json::value*, std::size_t>> stack{{&root, 1}};
  std::size_t deepest = 0;
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    deepest = std::max(deepest, d);
    if (deepest > kMaxFilterDepth) return deepest;
    if (const auto* o = v->if_object()) {
      for (const auto& kv : *o) stack.emplace_back(&kv.value(), d + 1);
    } else if (const auto* a = v->if_array()) {
      for (const auto& e : *a) stack.emplace_back(&e, d + 1);
    }
  }
  return deepest;
}

// Literal operands may not smuggle operators inside objects ({"a": {"b": {"$where": ...}}}).
void CheckLiteral(const json::value& v, std::string_view path) {
  std::vector<const json::value*> stack{&v};
  while (!stack.empty()) {
    const json::value* cur = stack.back();
    stack.pop_back();
    if (const auto* o = cur->if_object()) {
      for (const auto& kv : *o) {
        if (!kv.key().empty() && kv.key().front() == '$') {
          Reject(path, "operator '" + std::string(kv.key()) + "' not allowed inside a literal value");
        }
        stack.push_back(&kv.value());
      }
    } else if (const auto* a = cur->if_array()) {
      for (const auto& e : *a) stack.push_back(&e);
    }
  }
}

bool IsForbidden(std::string_view op) {
  static constexpr std::array<std::string_view, 6> kForbidden{"$where", "$expr", "$function",
                                                              "$accumulator", "$text", "$jsonSchema"};
  for (auto f : kForbidden) {
    if (f == op) return true;
  }
  return false;
}

std::optional<std::int64_t> AsInteger(const json::value& v) {
  if (v.is_int64()) return v.as_int64();
  if (v.is_uint64()) {
    if (v.as_uint64() > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(v.as_uint64());
  }
  if (v.is_double()) {
    const double d = v.as_double();
    if (d >= -9.0e18 && d <= 9.0e18 && static_cast<double>(static_cast<std::int64_t>(d)) == d) {
      return static_cast<std::int64_t>(d);
    }
  }
  return std::nullopt;
}

Filter Leaf(Op op, const std::string& path, const std::vector<std::string>& parts, json::value value = {}) {
  Filter f;
  f.op = op;
  f.path = path;
  f.parts = parts;
  f.value = std::move(value);
  return f;
}

class FilterParser {
 public:
  Filter ParseDocument(const json::object& obj, std::string_view where);

 private:
  void ParseField(const std::string& path, const json::value& val, std::vector<Filter>& out);
  void ParseOperators(const std::string& path, const std::vector<std::string>& parts, const json::object& ops,
                      std::vector<Filter>& out);
  void ParseOperator(const std::string& path, const std::vector<std::string>& parts, std::string_view op,
                     const json::value& operand, const json::object& ops, std::vector<Filter>& out);
  Filter ParseLogical(std::string_view op, const json::value& operand, std::string_view where);
  Filter ParseElemMatch(const std::string& path, const std::vector<std::string>& parts, const json::value& operand);
};

Filter FilterParser::ParseDocument(const json::object& obj, std::string_view where) {
  Filter all;
  all.op = Op::kAnd;
  for (const auto& kv : obj) {
    const std::string_view key = kv.key();
    if (!key.empty() && key.front() == '$') {
      if (key == "$and" || key == "$or" || key == "$nor") {
        all.children.push_back(ParseLogical(key, kv.value(), where));
      } else if (IsForbidden(key)) {
        Reject(where.empty() ? key : where, "operator '" + std::string(key) + "' is not allowed" +
                                                (key == "$text" ? " (use the q= parameter for free text)" : ""));
      } else {
        Reject(where.empty() ? key : where, "unknown top-level operator '" + std::string(key) + "'");
      }
      continue;
    }
    ParseField(std::string(key), kv.value(), all.children);
  }
  if (all.children.size() == 1) return std::move(all.children.front());
  return all;
}

Filter FilterParser::ParseLogical(std::string_view op, const json::value& operand, std::string_view where) {
  const std::string at = where.empty() ? std::string(op) : std::string(where);
  const auto* arr = operand.if_array();
  if (arr == nullptr || arr->empty()) Reject(at, std::string(op) + " needs a non-empty array of filters");
  Filter f;
  f.op = op == "$and" ? Op::kAnd : op == "$or" ? Op::kOr : Op::kNor;
  for (const auto& item : *arr) {
    const auto* sub = item.if_object();
    if (sub == nullptr) Reject(at, std::string(op) + " items must be objects");
    f.children.push_back(ParseDocument(*sub, where));
  }
  return f;
}

void FilterParser::ParseField(const std::string& path, const json::value& val, std::vector<Filter>& out) {
  const std::vector<std::string> parts = SplitPath(path, path);
  if (const auto* obj = val.if_object(); obj != nullptr && !obj->empty() && !obj->begin()->key().empty() &&
                                         obj->begin()->key().front() == '$') {
    ParseOperators(path, parts, *obj, out);
    return;
  }
  CheckLiteral(val, path);
  out.push_back(Leaf(Op::kEq, path, parts, val));
}

void FilterParser::ParseOperators(const std::string& path, const std::vector<std::string>& parts,
                                  const json::object& ops, std::vector<Filter>& out) {
  for (const auto& kv : ops) {
    const std::string_view op = kv.key();
    if (op.empty() || op.front() != '$') {
      Reject(path, "cannot mix operators and field names ('" + std::string(op) + "')");
    }
    ParseOperator(path, parts, op, kv.value(), ops, out);
  }
}

Filter FilterParser::ParseElemMatch(const std::string& path, const std::vector<std::string>& parts,
                                    const json::value& operand) {
  const auto* obj = operand.if_object();
  if (obj == nullptr) Reject(path, "$elemMatch needs an object");
  Filter f = Leaf(Op::kElemMatch, path, parts);
  bool operator_form = !obj->empty();
  for (const auto& kv : *obj) {
    const std::string_view k = kv.key();
    if (k.empty() || k.front() != '$' || k == "$and" || k == "$or" || k == "$nor") operator_form = false;
  }
  f.elem_match_values = operator_form;
  if (operator_form) {
    ParseOperators(path, {}, *obj, f.children);
    for (Filter& c : f.children) c.path = path;  // error messages and SQL keep the outer path name
  } else {
    f.children.push_back(ParseDocument(*obj, path));
  }
  return f;
}

void FilterParser::ParseOperator(const std::string& path, const std::vector<std::string>& parts, std::string_view op,
                                 const json::value& operand, const json::object& ops, std::vector<Filter>& out) {
  static constexpr std::array<std::pair<std::string_view, Op>, 6> kCompare{
      {{"$eq", Op::kEq}, {"$ne", Op::kNe}, {"$gt", Op::kGt}, {"$gte", Op::kGte}, {"$lt", Op::kLt}, {"$lte", Op::kLte}}};
  for (const auto& [name, code] : kCompare) {
    if (op == name) {
      CheckLiteral(operand, path);
      out.push_back(Leaf(code, path, parts, operand));
      return;
    }
  }
  if (op == "$in" || op == "$nin" || op == "$all") {
    const auto* arr = operand.if_array();
    if (arr == nullptr) Reject(path, std::string(op) + " needs an array");
    if (arr->size() > kMaxListItems) {
      Reject(path, std::string(op) + " list longer than " + std::to_string(kMaxListItems));
    }
    CheckLiteral(operand, path);
    out.push_back(Leaf(op == "$in" ? Op::kIn : op == "$nin" ? Op::kNin : Op::kAll, path, parts, operand));
  } else if (op == "$exists") {
    if (!operand.is_bool() && !operand.is_number()) Reject(path, "$exists needs true or false");
    const bool want = operand.is_bool() ? operand.as_bool() : operand.to_number<double>() != 0.0;
    out.push_back(Leaf(Op::kExists, path, parts, want));
  } else if (op == "$regex") {
    if (!operand.is_string()) Reject(path, "$regex needs a string");
    std::string_view options;
    if (const auto* o = ops.if_contains("$options")) {
      if (!o->is_string()) Reject(path, "$options needs a string");
      options = o->as_string();
    }
    Filter f = Leaf(Op::kRegex, path, parts);
    f.regex = std::make_shared<const Regex>(Regex::Compile(operand.as_string(), options, path));
    out.push_back(std::move(f));
  } else if (op == "$options") {
    if (ops.if_contains("$regex") == nullptr) Reject(path, "$options without $regex");
  } else if (op == "$size") {
    const auto n = AsInteger(operand);
    if (!n || *n < 0) Reject(path, "$size needs a non-negative integer");
    out.push_back(Leaf(Op::kSize, path, parts, *n));
  } else if (op == "$elemMatch") {
    out.push_back(ParseElemMatch(path, parts, operand));
  } else if (op == "$not") {
    const auto* obj = operand.if_object();
    if (obj == nullptr || obj->empty()) Reject(path, "$not needs an operator expression");
    Filter f = Leaf(Op::kNot, path, parts);
    ParseOperators(path, parts, *obj, f.children);
    out.push_back(std::move(f));
  } else if (IsForbidden(op)) {
    Reject(path, "operator '" + std::string(op) + "' is not allowed");
  } else {
    Reject(path, "unknown operator '" + std::string(op) + "'");
  }
}

}  // namespace

std::shared_ptr<const Filter> ParseFilter(const json::value& filter) {
  if (filter.is_null()) return nullptr;
  const auto* obj = filter.if_object();
  if (obj == nullptr) Reject("", "the filter must be a JSON object");
  if (JsonDepth(filter) > kMaxFilterDepth) {
    Reject("", "filter nested deeper than " + std::to_string(kMaxFilterDepth));
  }
  if (json::serialize(filter).size() > kMaxFilterBytes) {
    Reject("", "filter larger than " + std::to_string(kMaxFilterBytes / 1024) + " KiB");
  }
  return std::make_shared<const Filter>(FilterParser().ParseDocument(*obj, ""));
}

std::vector<SortKey> ParseSort(const json::value& sort) {
  std::vector<SortKey> keys;
  auto add = [&keys](std::string_view path, const json::value& dir) {
    RejectSurroundingSpace(path, SplitPath(path, "sort"));
    const auto d = AsInteger(dir);
    if (!d || (*d != 1 && *d != -1)) Reject(path, "sort direction must be 1 or -1");
    keys.push_back({std::string(path), static_cast<int>(*d)});
  };
  if (sort.is_null()) return keys;
  if (const auto* o = sort.if_object()) {
    for (const auto& kv : *o) add(kv.key(), kv.value());
  } else if (const auto* a = sort.if_array()) {
    for (const auto& item : *a) {
      const auto* pair = item.if_array();
      if (pair == nullptr || pair->size() != 2 || !(*pair)[0].is_string()) {
        Reject("sort", "sort items must be [field, 1|-1]");
      }
      add((*pair)[0].as_string(), (*pair)[1]);
    }
  } else if (const auto* s = sort.if_string()) {
    std::string_view rest = *s;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      int dir = 1;
      if (!item.empty() && (item.front() == '-' || item.front() == '+')) {
        dir = item.front() == '-' ? -1 : 1;
        item.remove_prefix(1);
      }
      add(item, dir);
    }
  } else {
    Reject("sort", "sort must be an object, an array of pairs or \"field,-field\"");
  }
  if (keys.size() > kMaxPathComponents) Reject("sort", "too many sort keys");
  return keys;
}

Projection ParseProjection(const json::value& projection) {
  const auto* o = projection.if_object();
  if (o == nullptr) Reject("projection", "projection must be an object");
  Projection p;
  std::optional<bool> mode;
  for (const auto& kv : *o) {
    const json::value& v = kv.value();
    if (!v.is_bool() && !v.is_number()) Reject(kv.key(), "projection values must be 0/1 or true/false");
    const bool on = v.is_bool() ? v.as_bool() : v.to_number<double>() != 0.0;
    if (kv.key() == "_id") {
      p.exclude_id = !on;
      continue;
    }
    RejectSurroundingSpace(kv.key(), SplitPath(kv.key(), "projection"));
    if (mode && *mode != on) Reject(kv.key(), "projection cannot mix inclusion and exclusion");
    mode = on;
    p.paths.emplace_back(kv.key());
  }
  p.include = mode.value_or(false);
  return p;
}

Query ParseQueryRequest(const json::object& body) {
  Query q;
  bool have_filter = false;
  for (const auto& kv : body) {
    const std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key == "collection") continue;
    if (key == "query" || key == "filter") {
      if (have_filter) Reject(key, "give either \"query\" or \"filter\", not both");
      have_filter = true;
      q.filter = ParseFilter(v);
    } else if (key == "sort") {
      q.sort = ParseSort(v);
    } else if (key == "skip" || key == "limit") {
      if (v.is_null()) continue;
      const auto n = AsInteger(v);
      if (!n || *n < 0) Reject(key, std::string(key) + " must be a non-negative integer");
      if (key == "skip") q.skip = *n;
      else q.limit = std::min(*n, kMaxLimit);
    } else if (key == "projection") {
      if (!v.is_null()) q.projection = ParseProjection(v);
    } else if (key == "q") {
      if (!v.is_string()) Reject(key, "q must be a string");
      q.text = v.as_string();
    } else {
      throw Error(Errc::kBadRequest, "unknown key '" + std::string(key) + "' in query request",
                  json::object{{"path", key}});
    }
  }
  return q;
}

std::string NormalizeDicomDate(std::string_view date) {
  std::string digits;
  if (date.size() == 8) {
    digits = date;
  } else if (date.size() == 10 && date[4] == '-' && date[7] == '-') {
    digits = std::string(date.substr(0, 4)) + std::string(date.substr(5, 2)) + std::string(date.substr(8, 2));
  }
  bool ok = digits.size() == 8;
  for (char c : digits) ok = ok && c >= '0' && c <= '9';
  if (ok) {
    const int month = std::stoi(digits.substr(4, 2));
    const int day = std::stoi(digits.substr(6, 2));
    ok = month >= 1 && month <= 12 && day >= 1 && day <= 31;
  }
  if (!ok) {
    throw Error(Errc::kBadRequest, "invalid date '" + std::string(date) + "' (expected YYYYMMDD or YYYY-MM-DD)",
                json::object{{"value", date}});
  }
  return digits.substr(0, 4) + "-" + digits.substr(4, 2) + "-" + digits.substr(6, 2);
}

std::string WildcardToRegex(std::string_view wildcard) {
  static constexpr std::string_view kSpecial = "\\^$.|?*+()[]{}";
  std::string out = "^";
  for (char c : wildcard) {
    if (c == '*') {
      out += ".*";
    } else if (c == '?') {
      out += '.';
    } else {
      if (kSpecial.find(c) != std::string_view::npos) out += '\\';
      out += c;
    }
  }
  out += '$';
  return out;
}

}  // namespace meta_db::query
