// Filter tree -> SQLite WHERE: one translation per operator, values and JSON paths always bound,
// column names only from IndexedFields. Every node is either exact or a superset marked inexact, in
// which case the store re-checks rows with the matcher (FerretDB/Pongo's pushdown model, STYLE.md).
#include "store/sqlite/sql_compile.hpp"

#include "query/filter_tree.hpp"
#include "store/sqlite/sqlite_columns.hpp"

#include <algorithm>

namespace meta_db::sqlite {

namespace json = boost::json;
using query::Filter;
using query::Op;
using query::SortKey;

namespace {

struct Part {
  Part(std::string s = "1", bool e = true, std::vector<std::string> r = {}, std::string rc = {})
      : sql(std::move(s)), exact(e), rowid_sets(std::move(r)), recheck(rc.empty() ? (e ? "0" : "1") : std::move(rc)) {}
  std::string sql;
  bool exact = true;
  // When set: SELECTs of rowid sets whose intersection is exactly the matching rows (indexes only).
  std::vector<std::string> rowid_sets;
  // True for the rows where `sql` may be wrong (only those need the matcher); "0" when exact.
  std::string recheck;
};

const Part kTrueInexact{"1", false};

// Every table's `id` column holds the document's `_id` (24-hex text) under a unique index: `_id` filters
// and sorts use it like a promoted field.
constexpr IndexedField kIdColumn{"_id", FieldType::kText, true};

const IndexedField* ColumnFor(Kind kind, std::string_view path) {
  return path == "_id" ? &kIdColumn : FindIndexedField(kind, path);
}

// The JSON type of an indexed field's value, as SQL: its stored "<column>_t" column (json_type() kept at write
// time), or the constant 'text' for _id, which the store only accepts as a 24-hex string.
std::string TypeColumn(const IndexedField& field) {
  return &field == &kIdColumn ? std::string("'text'") : ColumnName(field) + "_t";
}

std::string Join(const std::vector<std::string>& terms, std::string_view op, std::size_t lo, std::size_t hi) {
  // Balanced, so thousands of terms stay far below SQLite's expression depth limit (1000).
  if (hi - lo == 1) return terms[lo];
  const std::size_t mid = lo + (hi - lo) / 2;
  return "(" + Join(terms, op, lo, mid) + " " + std::string(op) + " " + Join(terms, op, mid, hi) + ")";
}

std::string Join(const std::vector<std::string>& terms, std::string_view op, std::string_view empty) {
  return terms.empty() ? std::string(empty) : Join(terms, op, 0, terms.size());
}

bool IsIndexLike(const std::string& part) {
  return !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// How one path is reached in SQL: the value and JSON-type expressions, and how to iterate its array.
struct Access {
  std::string value;  // SQL value: generated column, json_extract(base, ?p) or jeN.value
  std::string type;   // JSON type name: json_type(base, ?p) or jeN.type
  std::string base;   // JSON text the path is relative to ("doc" or "jeN.value")
  std::string path;   // placeholder of the bound JSON path
  bool column = false;
  bool whole = false;  // the subject is the json_each element itself (path empty)
};

bool StartsJsonLike(const std::string& s) { return !s.empty() && (s.front() == '[' || s.front() == '{'); }

class Compiler {
 public:
  Compiler(Kind kind, std::vector<SqlValue>& params) : kind_(kind), params_(params) {}

  Part Tree(const Filter& f, const std::string& base);

 private:
  std::string P(SqlValue v) { return AddParam(params_, std::move(v)); }
  std::string Alias() { return "je" + std::to_string(++aliases_); }

  Part Leaf(const Filter& f, const std::string& base);
  std::optional<Part> QcFlagMembership(const Filter& f);
  Part TopAnd(const Filter& f);
  Part RangeGroup(const std::vector<const Filter*>& group);
  Access ColumnAccess(const Filter& f, const IndexedField& field);
  Part LeafOn(const Filter& f, const Access& a);
  Part AnyOf(const json::array& list, const Access& a);
  Part Compare(Op op, const json::value& v, const Access& a);
  Part ElemMatch(const Filter& f, const Access& a);
  std::optional<std::string> CleanColumnPredicate(const Filter& f, const Access& a);
  Part ViaIndex(const std::vector<const Filter*>& fs, const Access& a, const std::string& clean, const Part& full);
  std::string ArrayBranch(const Access& a, const std::vector<std::string>& element_terms);

  Kind kind_;
  std::vector<SqlValue>& params_;
  int aliases_ = 0;
};

Part Not(const Part& p) {
  const std::string negated = "NOT IFNULL(" + p.sql + ", 0)";
  if (p.exact) return {negated, true};
  // Where the part is exact its complement is too; the uncertain rows are all admitted and re-checked.
  return {"(" + negated + " OR " + p.recheck + ")", false, {}, p.recheck};
}

Part Combine(const std::vector<Part>& parts, std::string_view op, std::string_view empty) {
  std::vector<std::string> terms, rechecks;
  bool exact = true;
  for (const Part& p : parts) {
    terms.push_back(p.sql);
    exact = exact && p.exact;
    if (!p.exact) rechecks.push_back(p.recheck);
  }
  return {Join(terms, op, empty), exact, {}, exact ? std::string("0") : Join(rechecks, "OR", "0")};
}

Part Compiler::Tree(const Filter& f, const std::string& base) {
  std::vector<Part> parts;
  switch (f.op) {
    case Op::kAnd:
      if (base == "doc") return TopAnd(f);
      [[fallthrough]];
    case Op::kOr:
    case Op::kNor:
      for (const Filter& c : f.children) parts.push_back(Tree(c, base));
      if (f.op == Op::kAnd) return Combine(parts, "AND", "1");
      if (f.op == Op::kOr) return Combine(parts, "OR", "0");
      return Not(Combine(parts, "OR", "0"));
    default: return Leaf(f, base);
  }
}

// Equality or $in on series `qc.flags` with plain strings, from the side table (sqlite_schema.cpp, v9): exact, as
// the table holds every text element (or the text value itself) and `qc` is a derived object clients cannot write.
std::optional<Part> Compiler::QcFlagMembership(const Filter& f) {
  if (kind_ != Kind::kSeries || f.path != kQcFlagsPath || (f.op != Op::kEq && f.op != Op::kIn)) return std::nullopt;
  const json::array list = f.op == Op::kEq ? json::array{f.value} : f.value.get_array();
  if (list.empty()) return std::nullopt;
  std::string in;
  for (const json::value& x : list) {
    // U+0000 cuts SQLite's JSON strings: such a value is left to the general translation.
    if (!x.is_string() || std::string_view(x.get_string()).find('\0') != std::string_view::npos) return std::nullopt;
    in += (in.empty() ? "" : ", ") + P(std::string(x.get_string()));
  }
  const std::string rows = "SELECT series_rowid FROM " + std::string(kQcFlagsTable) + " WHERE flag IN (" + in + ")";
  return Part{"rowid IN (" + rows + ")", true, {rows}};
}

Part Compiler::Leaf(const Filter& f, const std::string& base) {
  const IndexedField* field = base == "doc" ? ColumnFor(kind_, f.path) : nullptr;
  if (base == "doc") {
    if (auto flags = QcFlagMembership(f)) return *flags;
  }
  const auto jp = SqlJsonPath(f.parts);
  if (!jp) return kTrueInexact;
  Access a;
  a.base = base;
  a.path = P(*jp);
  a.type = "json_type(" + base + ", " + a.path + ")";
  if (field != nullptr) {
    a.value = ColumnName(*field);
    // The stored type column, not json_type(doc): the rare-value arms of ViaIndex (0/1, arrays) then decide from the
    // index entry and the row, never by parsing the document (`min_nodules=1` met every one-nodule series' document).
    a.type = TypeColumn(*field);
    a.column = true;
  } else {
    a.value = "json_extract(" + base + ", " + a.path + ")";
  }
  Part leaf = LeafOn(f, a);
  // A column without an index of its own (instance-level fields) is tested in place: a rowid set of it would scan
  // the whole table, even where the statement reaches the rows through another index (series_id). So is `_id`: its
  // unique index serves a range and the `_id` order together, where a rowid set of `_id > last` (a keyset page of an
  // export) would list every later row for each page.
  if (field != nullptr && field->indexed && field != &kIdColumn && leaf.exact) {
    if (auto clean = CleanColumnPredicate(f, a)) return ViaIndex({&f}, a, *clean, leaf);
  }
  // Promoted paths rely on the schema (their parents, e.g. `metadata`, are objects). Elsewhere a parent
  // that is an array makes MongoDB look inside its elements: admit such rows and let the matcher decide.
  if (field == nullptr) {
    // SQLite's JSON functions cut strings at U+0000: documents holding one are decided by the matcher.
    std::vector<std::string> uncertain{"instr(" + base + ", " + P(std::string("\\u0000")) + ") > 0"};
    for (std::size_t n = 1; n < f.parts.size(); ++n) {
      const std::vector<std::string> prefix(f.parts.begin(), f.parts.begin() + static_cast<std::ptrdiff_t>(n));
      uncertain.push_back("json_type(" + base + ", " + P(*SqlJsonPath(prefix)) + ") = 'array'");
    }
    // Only those rows need the matcher: elsewhere the leaf's SQL is exact.
    if (!leaf.exact) uncertain.push_back(leaf.recheck);
    const std::string recheck = Join(uncertain, "OR", "0");
    return {"(" + leaf.sql + " OR " + recheck + ")", false, {}, recheck};
  }
  return leaf;
}

std::string Compiler::ArrayBranch(const Access& a, const std::vector<std::string>& element_terms) {
  if (element_terms.empty()) return "0";
  const std::string je = Alias();
  std::string cond = Join(element_terms, "OR", "0");
  for (std::size_t pos = 0; (pos = cond.find("$E", pos)) != std::string::npos;) cond.replace(pos, 2, je);
  // For a column, the range test lets the index find array-valued rows (JSON text starting with '[').
  const std::string is_array =
      a.column ? "(" + a.value + " >= '[' AND " + a.value + " < '\\' AND " + a.type + " = 'array')"
               : a.type + " = 'array'";
  return "(" + is_array + " AND EXISTS (SELECT 1 FROM json_each(" + a.base + ", " + a.path + ") AS " + je +
         " WHERE " + cond + "))";
}

// Scalar and element tests for equality with one literal; element tests use $E for the json_each alias.
struct EqTerms {
  std::string scalar;
  std::string element;
  bool exact = true;
};

EqTerms EqualTerms(const json::value& v, const Access& a, const std::string& param) {
  switch (v.kind()) {
    case json::kind::null: return {a.value + " IS NULL", "$E.type = 'null'"};
    case json::kind::bool_: {
      const std::string t = v.get_bool() ? "'true'" : "'false'";
      return {a.type + " = " + t, "$E.type = " + t};
    }
    case json::kind::string: {
      if (v.get_string().subview().find('\0') != std::string_view::npos) {
        // SQLite's JSON functions end strings at U+0000: compare the part before it (a superset).
        return {a.value + " = " + param, "$E.type = 'text' AND $E.value = " + param, false};
      }
      std::string scalar = a.value + " = " + param;
      if (StartsJsonLike(std::string(v.get_string()))) scalar += " AND " + a.type + " = 'text'";
      return {scalar, "$E.type = 'text' AND $E.value = " + param};
    }
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: {
      std::string scalar = a.value + " = " + param;
      const double d = v.to_number<double>();
      if (d == 0.0 || d == 1.0) scalar += " AND " + a.type + " IN ('integer', 'real')";  // true/false are 1/0
      return {scalar, "$E.type IN ('integer', 'real') AND $E.value = " + param};
    }
    default:  // arrays and objects: any array/object at the path may be equal; the matcher decides
      return {a.type + " IN ('array', 'object')", "", false};
  }
}

SqlValue ToSql(const json::value& v) {
  switch (v.kind()) {
    case json::kind::int64: return v.get_int64();
    case json::kind::uint64:
      if (v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v.get_uint64());
      return static_cast<double>(v.get_uint64());
    case json::kind::double_: return v.get_double();
    case json::kind::string: return std::string(v.get_string());
    default: return nullptr;
  }
}

// Equality with any of the listed values (implicit equality, $eq, $in; negated for $ne, $nin).
Part Compiler::AnyOf(const json::array& list, const Access& a) {
  std::vector<std::string> scalars, elements;
  bool exact = true;
  std::vector<std::string> strings, numbers;
  bool small_number = false;
  for (const json::value& v : list) {
    if (v.is_string() && !StartsJsonLike(std::string(v.get_string())) &&
        v.get_string().subview().find('\0') == std::string_view::npos) {
      strings.push_back(P(ToSql(v)));
    } else if (v.is_number()) {
      numbers.push_back(P(ToSql(v)));
      small_number = small_number || v.to_number<double>() == 0.0 || v.to_number<double>() == 1.0;
    } else {
      std::string param;
      if (v.is_string()) {
        const std::string_view sv = v.get_string();
        param = P(std::string(sv.substr(0, sv.find('\0'))));
      }
      const EqTerms t = EqualTerms(v, a, param);
      scalars.push_back("(" + t.scalar + ")");
      if (!t.element.empty()) elements.push_back("(" + t.element + ")");
      exact = exact && t.exact;
    }
  }
  auto in_list = [](const std::vector<std::string>& ps) {
    std::string s = "(";
    for (std::size_t i = 0; i < ps.size(); ++i) s += (i ? ", " : "") + ps[i];
    return s + ")";
  };
  if (!strings.empty()) {
    scalars.push_back(a.value + " IN " + in_list(strings));
    elements.push_back("($E.type = 'text' AND $E.value IN " + in_list(strings) + ")");
  }
  if (!numbers.empty()) {
    std::string s = a.value + " IN " + in_list(numbers);
    if (small_number) {
      s += " AND (typeof(" + a.value + ") <> 'integer' OR " + a.value + " NOT IN (0, 1) OR " + a.type +
           " IN ('integer', 'real'))";
    }
    scalars.push_back("(" + s + ")");
    elements.push_back("($E.type IN ('integer', 'real') AND $E.value IN " + in_list(numbers) + ")");
  }
  if (list.empty()) return {"0", true};
  std::vector<std::string> terms = scalars;
  if (!a.whole) terms.push_back(ArrayBranch(a, elements));
  return {Join(terms, "OR", "0"), exact};
}

Part Compiler::Compare(Op op, const json::value& v, const Access& a) {
  if (v.is_null()) {
    if (op == Op::kGt || op == Op::kLt) return {"0", true};
    return AnyOf(json::array{nullptr}, a);
  }
  if (!v.is_number() && !v.is_string()) return kTrueInexact;  // booleans, arrays, objects: rare; matcher
  if (v.is_string() && v.get_string().subview().find('\0') != std::string_view::npos) return kTrueInexact;
  const std::string sym = op == Op::kGt ? ">" : op == Op::kGte ? ">=" : op == Op::kLt ? "<" : "<=";
  const std::string p = P(ToSql(v));
  std::string scalar, element;
  if (v.is_number()) {
    scalar = a.value + " " + sym + " " + p + " AND typeof(" + a.value + ") IN ('integer', 'real') AND (typeof(" +
             a.value + ") <> 'integer' OR " + a.value + " NOT IN (0, 1) OR " + a.type + " IN ('integer', 'real'))";
    element = "$E.type IN ('integer', 'real') AND $E.value " + sym + " " + p;
  } else {
    scalar = a.value + " " + sym + " " + p + " AND typeof(" + a.value + ") = 'text' AND (substr(" + a.value +
             ", 1, 1) NOT IN ('[', '{') OR " + a.type + " = 'text')";
    element = "$E.type = 'text' AND $E.value " + sym + " " + p;
  }
  std::vector<std::string> terms{"(" + scalar + ")"};
  if (!a.whole) terms.push_back(ArrayBranch(a, {"(" + element + ")"}));
  return {Join(terms, "OR", "0"), true};
}

Part Compiler::ElemMatch(const Filter& f, const Access& a) {
  if (a.whole) return kTrueInexact;  // $elemMatch inside $elemMatch's operator form: leave to the matcher
  const std::string je = Alias();
  Part inner;
  if (f.elem_match_values) {
    Access e;
    e.value = je + ".value";
    e.type = je + ".type";
    e.base = je + ".value";
    e.whole = true;
    std::vector<Part> parts;
    for (const Filter& c : f.children) parts.push_back(LeafOn(c, e));
    inner = Combine(parts, "AND", "1");
    // An element that is itself an array is expanded by the matcher; admit it here.
    inner = {"CASE WHEN " + je + ".type = 'array' THEN 1 ELSE " + inner.sql + " END", false};
  } else {
    const Part sub = Tree(f.children.front(), je + ".value");
    inner = {"CASE WHEN " + je + ".type = 'object' THEN " + sub.sql + " ELSE 0 END", sub.exact};
  }
  return {"(" + a.type + " = 'array' AND EXISTS (SELECT 1 FROM json_each(" + a.base + ", " + a.path + ") AS " + je +
              " WHERE " + inner.sql + "))",
          inner.exact};
}

Part Compiler::LeafOn(const Filter& f, const Access& a) {
  switch (f.op) {
    case Op::kEq: return AnyOf(json::array{f.value}, a);
    case Op::kNe: return Not(AnyOf(json::array{f.value}, a));
    case Op::kIn: return AnyOf(f.value.get_array(), a);
    case Op::kNin: return Not(AnyOf(f.value.get_array(), a));
    case Op::kGt: case Op::kGte: case Op::kLt: case Op::kLte: return Compare(f.op, f.value, a);
    case Op::kAll: {
      std::vector<Part> parts;
      for (const json::value& v : f.value.get_array()) parts.push_back(AnyOf(json::array{v}, a));
      return Combine(parts, "AND", "0");
    }
    case Op::kExists: {
      const Part present{a.type + " IS NOT NULL", true};
      return f.value.get_bool() ? present : Not(present);
    }
    case Op::kRegex: {
      const std::string call = std::string(kRegexSqlFunction) + "(" + P(f.regex->pattern()) + ", " +
                               P(f.regex->options()) + ", ";
      const std::string scalar = "(typeof(" + a.value + ") = 'text' AND " + call + a.value + ") AND (substr(" +
                                 a.value + ", 1, 1) NOT IN ('[', '{') OR " + a.type + " = 'text'))";
      std::vector<std::string> terms{scalar};
      if (!a.whole) terms.push_back(ArrayBranch(a, {"($E.type = 'text' AND " + call + "$E.value))"}));
      return {Join(terms, "OR", "0"), true};
    }
    case Op::kSize:
      if (a.whole) return {"(" + a.type + " = 'array' AND json_array_length(" + a.value + ") = " +
                               P(f.value.get_int64()) + ")", true};
      return {"(" + a.type + " = 'array' AND json_array_length(" + a.base + ", " + a.path + ") = " +
                  P(f.value.get_int64()) + ")",
              true};
    case Op::kElemMatch: return ElemMatch(f, a);
    case Op::kNot: {
      std::vector<Part> parts;
      for (const Filter& c : f.children) parts.push_back(LeafOn(c, a));
      return Not(Combine(parts, "AND", "1"));
    }
    default: return kTrueInexact;
  }
}

// The predicate restricted to "clean" rows of a generated column: values that are plain numbers other
// than 0/1 or text not starting with '[' or '{', which SQL compares exactly like MongoDB without looking at
// the document. nullopt when the operator/operands need the document anyway.
std::optional<std::string> Compiler::CleanColumnPredicate(const Filter& f, const Access& a) {
  const std::string& v = a.value;
  auto plain = [](const json::value& x) {
    if (x.is_number()) return true;
    if (!x.is_string()) return false;
    const std::string_view s = x.get_string();
    return !StartsJsonLike(std::string(s)) && s.find('\0') == std::string_view::npos;
  };
  switch (f.op) {
    case Op::kEq:
    case Op::kIn: {
      const json::array list = f.op == Op::kEq ? json::array{f.value} : f.value.get_array();
      if (list.empty() || !std::all_of(list.begin(), list.end(), plain)) return std::nullopt;
      std::string in;
      for (const json::value& x : list) in += (in.empty() ? "" : ", ") + P(ToSql(x));
      return v + " IN (" + in + ")";
    }
    case Op::kGt: case Op::kGte: case Op::kLt: case Op::kLte: {
      if (!plain(f.value)) return std::nullopt;
      const std::string sym = f.op == Op::kGt ? ">" : f.op == Op::kGte ? ">=" : f.op == Op::kLt ? "<" : "<=";
      const std::string type = f.value.is_number() ? "IN ('integer', 'real')" : "= 'text'";
      return v + " " + sym + " " + P(ToSql(f.value)) + " AND typeof(" + v + ") " + type;
    }
    case Op::kRegex:
      // `>= ''` selects every text value through the index (a covering scan instead of parsing documents).
      return v + " >= '' AND typeof(" + v + ") = 'text' AND " + kRegexSqlFunction + "(" + P(f.regex->pattern()) + ", " +
             P(f.regex->options()) + ", " + v + ")";
    default: return std::nullopt;
  }
}

bool IsPlainRange(const Filter& f) {
  if (f.op != Op::kGt && f.op != Op::kGte && f.op != Op::kLt && f.op != Op::kLte) return false;
  if (f.value.is_number()) return true;
  if (!f.value.is_string()) return false;
  const std::string_view s = f.value.get_string();
  return !StartsJsonLike(std::string(s)) && s.find('\0') == std::string_view::npos;
}

// A top-level $and: range bounds on the same promoted field ({"$gte": a, "$lt": b}) become one index
// range instead of two rowid sets to intersect.
Part Compiler::TopAnd(const Filter& f) {
  std::vector<Part> parts;
  std::vector<std::pair<std::string, std::vector<const Filter*>>> groups;
  for (const Filter& c : f.children) {
    if (IsPlainRange(c) && ColumnFor(kind_, c.path) != nullptr && ColumnFor(kind_, c.path)->indexed) {
      auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == c.path; });
      if (it == groups.end()) groups.push_back({c.path, {&c}});
      else it->second.push_back(&c);
    } else {
      parts.push_back(Tree(c, "doc"));
    }
  }
  for (const auto& [path, group] : groups) {
    parts.push_back(group.size() == 1 ? Leaf(*group.front(), "doc") : RangeGroup(group));
  }
  Part all = Combine(parts, "AND", "1");
  // Only promoted-field conditions: their rowid sets intersect without reading the table at all.
  if (!parts.empty() && std::all_of(parts.begin(), parts.end(), [](const Part& p) { return !p.rowid_sets.empty(); })) {
    for (const Part& p : parts) all.rowid_sets.insert(all.rowid_sets.end(), p.rowid_sets.begin(), p.rowid_sets.end());
  }
  return all;
}

Access Compiler::ColumnAccess(const Filter& f, const IndexedField& field) {
  Access a;
  a.base = "doc";
  a.path = P(*SqlJsonPath(f.parts));
  a.type = TypeColumn(field);
  a.value = ColumnName(field);
  a.column = true;
  return a;
}

Part Compiler::RangeGroup(const std::vector<const Filter*>& group) {
  const Access a = ColumnAccess(*group.front(), *ColumnFor(kind_, group.front()->path));
  std::vector<Part> full;
  std::vector<std::string> clean;
  for (const Filter* f : group) {
    full.push_back(LeafOn(*f, a));
    clean.push_back(*CleanColumnPredicate(*f, a));
  }
  return ViaIndex(group, a, Join(clean, "AND", "1"), Combine(full, "AND", "1"));
}

// Whether a leaf on a column could be met by the number 0 or 1 (stored booleans look like those).
bool CouldMatchZeroOrOne(const Filter& f) {
  auto is01 = [](const json::value& x) { return x.is_number() && (x.to_number<double>() == 0.0 || x.to_number<double>() == 1.0); };
  switch (f.op) {
    case Op::kEq: return is01(f.value);
    case Op::kIn: return std::any_of(f.value.get_array().begin(), f.value.get_array().end(), is01);
    case Op::kGt: return f.value.is_number() && f.value.to_number<double>() < 1.0;
    case Op::kGte: return f.value.is_number() && f.value.to_number<double>() <= 1.0;
    case Op::kLt: return f.value.is_number() && f.value.to_number<double>() > 0.0;
    case Op::kLte: return f.value.is_number() && f.value.to_number<double>() >= 0.0;
    default: return false;
  }
}

// Filters on a promoted field as a set of rowids read from its index alone (no JSON parsing): the clean
// rows straight from the index, plus the rare rows that may match (arrays stored as JSON text, booleans
// stored as 0/1) found by index ranges and decided by the full predicate. Lets several conditions
// intersect their indexes and counts run without touching documents.
Part Compiler::ViaIndex(const std::vector<const Filter*>& fs, const Access& a, const std::string& clean,
                        const Part& full) {
  const std::string& v = a.value;
  const std::string arrays = "(" + v + " >= '[' AND " + v + " < '\\')";
  const std::string objects = "(" + v + " >= '{' AND " + v + " < '|')";
  const std::string zero_one = v + " IN (0, 1)";
  const std::string unclean = "(" + arrays + " OR " + objects + " OR (" + zero_one + " AND typeof(" + v + ") = 'integer'))";
  const std::string table(CollectionName(kind_));
  // coalesce() hides the full predicate from the planner so the rare index ranges drive those arms; one
  // arm per range keeps the typeof() test on the index entry, so real 1.0 values never parse a document.
  std::string sql = "rowid IN (SELECT rowid FROM " + table + " WHERE " + clean + " AND NOT " + unclean +
                    " UNION ALL SELECT rowid FROM " + table + " WHERE " + arrays + " AND coalesce(" + full.sql + ", 0)";
  // Ranges and regexes on text may also accept genuine strings that start with '{'.
  if (std::any_of(fs.begin(), fs.end(), [](const Filter* f) { return f->op != Op::kEq && f->op != Op::kIn; })) {
    sql += " UNION ALL SELECT rowid FROM " + table + " WHERE " + objects + " AND coalesce(" + full.sql + ", 0)";
  }
  // A stored 0/1 is a number or a boolean (its type column says which): a number meets the clean predicate as any
  // other, a boolean never meets a number's equality or range (MongoDB's type brackets). Deciding it so keeps these
  // rows in the index: the full predicate's array branch made SQLite parse each one's document (`min_nodules=1`).
  if (std::all_of(fs.begin(), fs.end(), [](const Filter* f) { return CouldMatchZeroOrOne(*f); })) {
    sql += " UNION ALL SELECT rowid FROM " + table + " WHERE " + zero_one + " AND typeof(" + v + ") = 'integer' AND " +
           a.type + " IN ('integer', 'real') AND " + clean;
  }
  return {sql + ")", true, {sql.substr(std::string("rowid IN (").size())}};
}

}  // namespace

std::string AddParam(std::vector<SqlValue>& params, SqlValue value) {
  params.push_back(std::move(value));
  return "?" + std::to_string(params.size());
}

std::optional<std::string> SqlJsonPath(const std::vector<std::string>& parts) {
  std::string path = "$";
  for (const std::string& part : parts) {
    if (IsIndexLike(part)) return std::nullopt;
    for (unsigned char c : part) {
      if (c == '"' || c == '\\' || c < 0x20) return std::nullopt;
    }
    path += ".\"" + part + "\"";
  }
  return path;
}

SqlWhere CompileWhere(Kind kind, const Filter* filter) { return CompileWhere(kind, filter, {}); }

SqlWhere CompileWhere(Kind kind, const Filter* filter, std::vector<SqlValue> params) {
  SqlWhere where;
  where.params = std::move(params);
  if (filter == nullptr) return where;
  const std::size_t before = where.params.size();
  Compiler compiler(kind, where.params);
  Part p = compiler.Tree(*filter, "doc");
  if (where.params.size() - before > kMaxSqlParams) {
    where.params.resize(before);
    return {"1", std::move(where.params), false, "1", {}};
  }
  where.sql = std::move(p.sql);
  where.exact = p.exact;
  where.recheck = std::move(p.recheck);
  where.rowid_sets = std::move(p.rowid_sets);
  return where;
}

std::optional<std::string> CompileOrderBy(Kind kind, const std::vector<SortKey>& sort) {
  std::string order;
  for (const SortKey& key : sort) {
    const IndexedField* field = ColumnFor(kind, key.path);
    if (field == nullptr) return std::nullopt;
    order += ColumnName(*field) + (key.direction < 0 ? " DESC, " : " ASC, ");
  }
  return order + "rowid ASC";
}

std::vector<std::string> SortHazards(Kind kind, const std::vector<SortKey>& sort, std::vector<SqlValue>&) {
  std::vector<std::string> terms;
  for (const SortKey& key : sort) {
    const IndexedField* field = ColumnFor(kind, key.path);
    if (field == nullptr || field == &kIdColumn) continue;  // _id is always a 24-hex string (the store checks)
    const std::string c = ColumnName(*field);
    const std::string type = TypeColumn(*field);
    // Index ranges find the few candidate rows; their stored JSON type decides, no document is parsed.
    terms.push_back("(" + c + " >= '[' AND " + c + " < '\\' AND " + type + " IN ('array', 'object'))");
    terms.push_back("(" + c + " >= '{' AND " + c + " < '|' AND " + type + " IN ('array', 'object'))");
    terms.push_back("(" + c + " IN (0, 1) AND typeof(" + c + ") = 'integer' AND " + type + " IN ('true', 'false'))");
  }
  return terms;
}

std::string FtsMatchExpression(std::string_view text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
    std::size_t j = i;
    while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\n' && text[j] != '\r') ++j;
    if (j > i) {
      std::string word = "\"";
      for (char c : text.substr(i, j - i)) word += c == '"' ? std::string("\"\"") : std::string(1, c);
      out += (out.empty() ? "" : " AND ") + word + "\"";
    }
    i = j;
  }
  return out;
}

}  // namespace meta_db::sqlite
