// The in-memory reference matcher, sort order and projection: MongoDB's semantics, defined once.
// Every back-end is tested against this file (tests/query/cases).
#include "query/filter_tree.hpp"
#include "query/query.hpp"

#include <algorithm>
#include <cmath>

namespace meta_db::query {

namespace json = boost::json;

namespace {

// One value a path resolves to. `value == nullptr` means missing; `element` marks values produced by
// expanding the array at the end of the path (they take part in equality/comparison, not $size etc.).
struct Candidate {
  const json::value* value = nullptr;
  bool element = false;
};

bool IsIndex(const std::string& part) {
  return !part.empty() && part.size() <= 9 && std::all_of(part.begin(), part.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

void Collect(const json::value* cur, const std::vector<std::string>& parts, std::size_t i,
             std::vector<Candidate>& out) {
  if (i == parts.size()) {
    out.push_back({cur, false});
    if (cur != nullptr && cur->is_array()) {
      for (const auto& e : cur->get_array()) out.push_back({&e, true});
    }
    return;
  }
  if (cur == nullptr) {
    out.push_back({});
    return;
  }
  if (const auto* o = cur->if_object()) {
    Collect(o->if_contains(parts[i]), parts, i + 1, out);
  } else if (const auto* a = cur->if_array()) {
    if (IsIndex(parts[i])) {  // numeric components index arrays, as in MongoDB
      const auto idx = static_cast<std::size_t>(std::stoul(parts[i]));
      Collect(idx < a->size() ? &(*a)[idx] : nullptr, parts, i + 1, out);
      return;
    }
    const std::size_t before = out.size();
    for (const auto& e : *a) {
      if (const auto* eo = e.if_object()) Collect(eo->if_contains(parts[i]), parts, i + 1, out);
    }
    if (out.size() == before) out.push_back({});  // no element had the field: missing
  } else {
    out.push_back({});
  }
}

// The root is either a document (first component looked up in it, no copy) or a bare value.
struct Root {
  const json::object* doc = nullptr;
  const json::value* value = nullptr;
};

std::vector<Candidate> Resolve(Root root, const std::vector<std::string>& parts) {
  std::vector<Candidate> out;
  if (root.doc != nullptr && !parts.empty()) {
    Collect(root.doc->if_contains(parts.front()), parts, 1, out);
  } else {
    Collect(root.value, parts, 0, out);
  }
  return out;
}

int Rank(const json::value* v) {
  if (v == nullptr) return 1;
  switch (v->kind()) {
    case json::kind::null: return 1;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return 2;
    case json::kind::string: return 3;
    case json::kind::object: return 4;
    case json::kind::array: return 5;
    case json::kind::bool_: return 6;
  }
  return 7;
}

int Sign(auto a, auto b) { return a < b ? -1 : (b < a ? 1 : 0); }

int CompareNumbers(const json::value& a, const json::value& b) {
  if (a.is_double() || b.is_double()) {
    return Sign(a.to_number<long double>(), b.to_number<long double>());
  }
  if (a.is_int64() && b.is_int64()) return Sign(a.as_int64(), b.as_int64());
  if (a.is_uint64() && b.is_uint64()) return Sign(a.as_uint64(), b.as_uint64());
  if (a.is_int64()) return a.as_int64() < 0 ? -1 : Sign(static_cast<std::uint64_t>(a.as_int64()), b.as_uint64());
  return b.as_int64() < 0 ? 1 : Sign(a.as_uint64(), static_cast<std::uint64_t>(b.as_int64()));
}

int CompareValues(const json::value* a, const json::value* b) {
  const int ra = Rank(a), rb = Rank(b);
  if (ra != rb) return Sign(ra, rb);
  if (ra == 1) return 0;
  switch (a->kind()) {
    case json::kind::string: {
      const int c = a->get_string().subview().compare(b->get_string().subview());
      return Sign(c, 0);
    }
    case json::kind::bool_: return Sign(a->get_bool(), b->get_bool());
    case json::kind::object: {
      const auto& oa = a->get_object();
      const auto& ob = b->get_object();
      auto ia = oa.begin(), ib = ob.begin();
      for (; ia != oa.end() && ib != ob.end(); ++ia, ++ib) {
        if (int c = Sign(Rank(&ia->value()), Rank(&ib->value()))) return c;
        if (int c = Sign(ia->key().compare(ib->key()), 0)) return c;
        if (int c = CompareValues(&ia->value(), &ib->value())) return c;
      }
      return Sign(oa.size(), ob.size());
    }
    case json::kind::array: {
      const auto& aa = a->get_array();
      const auto& ab = b->get_array();
      for (std::size_t i = 0; i < aa.size() && i < ab.size(); ++i) {
        if (int c = CompareValues(&aa[i], &ab[i])) return c;
      }
      return Sign(aa.size(), ab.size());
    }
    default: return CompareNumbers(*a, *b);
  }
}

bool Equal(const json::value* a, const json::value& b) {
  if (b.is_null()) return a == nullptr || a->is_null();
  return a != nullptr && Rank(a) == Rank(&b) && CompareValues(a, &b) == 0;
}

bool AnyEqual(const std::vector<Candidate>& cands, const json::value& v) {
  return std::any_of(cands.begin(), cands.end(), [&v](const Candidate& c) { return Equal(c.value, v); });
}

bool AnyCompare(const std::vector<Candidate>& cands, const json::value& v, Op op) {
  if (v.is_null()) {  // $gte/$lte null behave as equality with null; $gt/$lt null match nothing
    return (op == Op::kGte || op == Op::kLte) && AnyEqual(cands, v);
  }
  return std::any_of(cands.begin(), cands.end(), [&](const Candidate& c) {
    if (c.value == nullptr || Rank(c.value) != Rank(&v)) return false;  // type brackets
    const int cmp = CompareValues(c.value, &v);
    switch (op) {
      case Op::kGt: return cmp > 0;
      case Op::kGte: return cmp >= 0;
      case Op::kLt: return cmp < 0;
      default: return cmp <= 0;
    }
  });
}

bool MatchesValue(const Filter& f, Root root);

bool MatchesLeaf(const Filter& f, const std::vector<Candidate>& cands) {
  switch (f.op) {
    case Op::kEq: return AnyEqual(cands, f.value);
    case Op::kNe: return !AnyEqual(cands, f.value);
    case Op::kGt: case Op::kGte: case Op::kLt: case Op::kLte: return AnyCompare(cands, f.value, f.op);
    case Op::kIn:
    case Op::kNin: {
      const auto& list = f.value.get_array();
      const bool any = std::any_of(list.begin(), list.end(), [&](const json::value& v) { return AnyEqual(cands, v); });
      return f.op == Op::kIn ? any : !any;
    }
    case Op::kAll: {
      const auto& list = f.value.get_array();
      return !list.empty() &&
             std::all_of(list.begin(), list.end(), [&](const json::value& v) { return AnyEqual(cands, v); });
    }
    case Op::kExists: {
      const bool present = std::any_of(cands.begin(), cands.end(), [](const Candidate& c) { return c.value != nullptr; });
      return present == f.value.get_bool();
    }
    case Op::kRegex:
      return std::any_of(cands.begin(), cands.end(), [&](const Candidate& c) {
        return c.value != nullptr && c.value->is_string() && f.regex->Search(c.value->get_string());
      });
    case Op::kSize:
      return std::any_of(cands.begin(), cands.end(), [&](const Candidate& c) {
        return !c.element && c.value != nullptr && c.value->is_array() &&
               static_cast<std::int64_t>(c.value->get_array().size()) == f.value.get_int64();
      });
    case Op::kElemMatch:
      return std::any_of(cands.begin(), cands.end(), [&](const Candidate& c) {
        if (c.element || c.value == nullptr || !c.value->is_array()) return false;
        const auto& arr = c.value->get_array();
        return std::any_of(arr.begin(), arr.end(), [&](const json::value& e) {
          if (!f.elem_match_values) return e.is_object() && Matches(f.children.front(), e.get_object());
          return std::all_of(f.children.begin(), f.children.end(),
                             [&](const Filter& child) { return MatchesValue(child, Root{nullptr, &e}); });
        });
      });
    case Op::kNot:
      return !std::all_of(f.children.begin(), f.children.end(), [&](const Filter& child) {
        return MatchesLeaf(child, cands);
      });
    default: return false;
  }
}

// A leaf evaluated against an arbitrary root value (a document, or an array element in $elemMatch).
bool MatchesValue(const Filter& f, Root root) {
  return MatchesLeaf(f, Resolve(root, f.parts));
}

bool MatchesTree(const Filter& f, const json::object& doc) {
  switch (f.op) {
    case Op::kAnd:
      return std::all_of(f.children.begin(), f.children.end(), [&](const Filter& c) { return MatchesTree(c, doc); });
    case Op::kOr:
      return std::any_of(f.children.begin(), f.children.end(), [&](const Filter& c) { return MatchesTree(c, doc); });
    case Op::kNor:
      return std::none_of(f.children.begin(), f.children.end(), [&](const Filter& c) { return MatchesTree(c, doc); });
    default: return MatchesValue(f, Root{&doc, nullptr});
  }
}

std::vector<std::string> Split(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    parts.emplace_back(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) return parts;
    start = dot + 1;
  }
}

void ProjectInclude(const json::value& src, const std::vector<std::string>& parts, std::size_t i, json::value& dst);

void ProjectIncludeObject(const json::object& src, const std::vector<std::string>& parts, std::size_t i,
                          json::object& dst) {
  const json::value* v = src.if_contains(parts[i]);
  if (v == nullptr) return;
  if (i + 1 == parts.size()) {
    dst[parts[i]] = *v;
    return;
  }
  if (!v->is_object() && !v->is_array()) return;
  json::value& slot = dst[parts[i]];
  if (slot.is_null()) slot = v->is_object() ? json::value(json::object{}) : json::value(json::array(v->get_array().size()));
  ProjectInclude(*v, parts, i + 1, slot);
}

void ProjectInclude(const json::value& src, const std::vector<std::string>& parts, std::size_t i, json::value& dst) {
  if (const auto* o = src.if_object()) {
    if (dst.is_object()) ProjectIncludeObject(*o, parts, i, dst.get_object());
  } else if (const auto* a = src.if_array()) {
    if (!dst.is_array()) return;
    auto& out = dst.get_array();
    for (std::size_t k = 0; k < a->size() && k < out.size(); ++k) {
      if ((*a)[k].is_object()) {
        if (!out[k].is_object()) out[k] = json::object{};
        ProjectIncludeObject((*a)[k].get_object(), parts, i, out[k].get_object());
      }
    }
    // Non-object elements have nothing at a sub-path; drop the placeholders they left.
    json::array kept;
    for (std::size_t k = 0; k < out.size(); ++k) {
      if ((*a)[k].is_object()) kept.push_back(std::move(out[k]));
    }
    out = std::move(kept);
  }
}

void ProjectExclude(json::value& v, const std::vector<std::string>& parts, std::size_t i) {
  if (auto* o = v.if_object()) {
    if (i + 1 == parts.size()) {
      o->erase(parts[i]);
    } else if (auto* next = o->if_contains(parts[i])) {
      ProjectExclude(*next, parts, i + 1);
    }
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) ProjectExclude(e, parts, i);
  }
}

}  // namespace

bool Matches(const Filter& filter, const json::object& doc) {
  return MatchesTree(filter, doc);
}

int CompareForSort(const json::value* a, const json::value* b) { return CompareValues(a, b); }

const json::value* SortValue(const json::object& doc, const SortKey& key) {
  std::vector<Candidate> cands;
  const std::vector<std::string> parts = Split(key.path);
  const json::value* first = doc.if_contains(parts.front());
  Collect(first, parts, 1, cands);
  const json::value* best = nullptr;
  bool have = false;
  for (const Candidate& c : cands) {
    if (!c.element && c.value != nullptr && c.value->is_array()) continue;  // its elements stand for it
    if (!have) {
      best = c.value;
      have = true;
      continue;
    }
    const int cmp = CompareValues(c.value, best);
    if ((key.direction > 0 && cmp < 0) || (key.direction < 0 && cmp > 0)) best = c.value;
  }
  return best != nullptr && best->is_null() ? nullptr : best;
}

int CompareDocuments(const json::object& a, const json::object& b, const std::vector<SortKey>& sort) {
  for (const SortKey& key : sort) {
    const int c = CompareValues(SortValue(a, key), SortValue(b, key));
    if (c != 0) return key.direction < 0 ? -c : c;
  }
  return 0;
}

json::object Project(const json::object& doc, const Projection& projection) {
  json::value out;
  if (projection.include) {
    out = json::object{};
    if (!projection.exclude_id) {
      if (const auto* id = doc.if_contains("_id")) out.get_object()["_id"] = *id;
    }
    const json::value src(doc);
    for (const std::string& path : projection.paths) ProjectInclude(src, Split(path), 0, out);
  } else {
    out = doc;
    if (projection.exclude_id) out.get_object().erase("_id");
    for (const std::string& path : projection.paths) ProjectExclude(out, Split(path), 0);
  }
  return std::move(out.get_object());
}

}  // namespace meta_db::query
