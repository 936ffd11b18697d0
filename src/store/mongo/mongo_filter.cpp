// Filter tree -> MongoDB filter BSON, one case per operator.
#include "store/mongo/mongo_filter.hpp"

#include "query/filter_tree.hpp"
#include "store/mongo/mongo_codec.hpp"

#include <string>

namespace meta_db::mongo {

namespace {

using query::Filter;
using query::Op;

int Len(std::string_view key) { return static_cast<int>(key.size()); }

std::string_view OperatorName(Op op) {
  switch (op) {
    case Op::kEq: return "$eq";
    case Op::kNe: return "$ne";
    case Op::kGt: return "$gt";
    case Op::kGte: return "$gte";
    case Op::kLt: return "$lt";
    case Op::kLte: return "$lte";
    case Op::kIn: return "$in";
    case Op::kNin: return "$nin";
    case Op::kAll: return "$all";
    case Op::kExists: return "$exists";
    case Op::kSize: return "$size";
    case Op::kRegex: return "$regex";
    case Op::kElemMatch: return "$elemMatch";
    case Op::kNot: return "$not";
    case Op::kAnd: return "$and";
    case Op::kOr: return "$or";
    case Op::kNor: return "$nor";
  }
  return "";
}

std::string Join(std::string_view prefix, std::string_view path) {
  return prefix.empty() ? std::string(path) : std::string(prefix) + "." + std::string(path);
}

void AppendDocument(bson_t* out, const Filter& f, const std::string& prefix);

// Appends the operator expression of a leaf ("$gt": 5, "$regex": ..., "$elemMatch": {...}) into an open operand
// document; `full_path` (from the document root) types the operand.
void AppendOperator(bson_t* ops, const Filter& f, const std::string& full_path) {
  const std::string_view name = OperatorName(f.op);
  switch (f.op) {
    case Op::kRegex:
      bson_append_utf8(ops, "$regex", 6, f.regex->pattern().data(), static_cast<int>(f.regex->pattern().size()));
      if (!f.regex->options().empty()) {
        bson_append_utf8(ops, "$options", 8, f.regex->options().data(), static_cast<int>(f.regex->options().size()));
      }
      return;
    case Op::kElemMatch: {
      bson_t inner;
      bson_append_document_begin(ops, name.data(), Len(name), &inner);
      if (f.elem_match_values) {
        for (const Filter& c : f.children) AppendOperator(&inner, c, full_path);
      } else {
        // The object form's sub-filter reads each element as a document: its paths continue the array's.
        for (const Filter& c : f.children) AppendDocument(&inner, c, full_path);
      }
      bson_append_document_end(ops, &inner);
      return;
    }
    case Op::kNot: {
      bson_t inner;
      bson_append_document_begin(ops, name.data(), Len(name), &inner);
      for (const Filter& c : f.children) AppendOperator(&inner, c, full_path);
      bson_append_document_end(ops, &inner);
      return;
    }
    default: AppendFilterValue(ops, name, f.value, full_path); return;
  }
}

// Appends the fields of a filter document for `f` into `out` (an open document): a logical operator with its
// array of sub-documents, or "<path>": {<operator>: <operand>}.
void AppendDocument(bson_t* out, const Filter& f, const std::string& prefix) {
  if (f.op == Op::kAnd || f.op == Op::kOr || f.op == Op::kNor) {
    if (f.children.empty() && f.op == Op::kAnd) return;  // {} matches everything
    const std::string_view name = OperatorName(f.op);
    bson_t list;
    bson_append_array_begin(out, name.data(), Len(name), &list);
    char buffer[16];
    std::uint32_t index = 0;
    for (const Filter& c : f.children) {
      const char* key = nullptr;
      const auto length = bson_uint32_to_string(index++, &key, buffer, sizeof buffer);
      bson_t item;
      bson_append_document_begin(&list, key, static_cast<int>(length), &item);
      AppendDocument(&item, c, prefix);
      bson_append_document_end(&list, &item);
    }
    bson_append_array_end(out, &list);
    return;
  }
  const std::string full_path = Join(prefix, f.path);
  bson_t ops;
  bson_append_document_begin(out, f.path.data(), Len(f.path), &ops);
  AppendOperator(&ops, f, full_path);
  bson_append_document_end(out, &ops);
}

// Regex metacharacters escaped, so a typed word matches as itself.
std::string EscapeRegex(std::string_view word) {
  std::string out;
  for (char c : word) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"') {
      if (!word.empty()) words.push_back(std::exchange(word, {}));
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

}  // namespace

Bson EncodeFilter(const Filter* filter, std::string_view text, bool text_index) {
  Bson out;
  const std::vector<std::string> words = Words(text);
  if (words.empty()) {
    if (filter != nullptr) AppendDocument(out.get(), *filter, "");
    return out;
  }
  bson_t list;
  bson_append_array_begin(out.get(), "$and", 4, &list);
  std::uint32_t index = 0;
  char buffer[16];
  auto item = [&](auto&& fill) {
    const char* key = nullptr;
    const auto length = bson_uint32_to_string(index++, &key, buffer, sizeof buffer);
    bson_t doc;
    bson_append_document_begin(&list, key, static_cast<int>(length), &doc);
    fill(&doc);
    bson_append_document_end(&list, &doc);
  };
  if (filter != nullptr) item([&](bson_t* doc) { AppendDocument(doc, *filter, ""); });
  if (text_index) {
    std::string phrase;
    for (const std::string& word : words) phrase += "\"" + word + "\" ";  // every word required, as on SQLite
    item([&](bson_t* doc) {
      bson_t search;
      bson_append_document_begin(doc, "$text", 5, &search);
      bson_append_utf8(&search, "$search", 7, phrase.data(), static_cast<int>(phrase.size()));
      bson_append_document_end(doc, &search);
    });
  } else {
    for (const std::string& word : words) {
      item([&](bson_t* doc) {
        bson_t match;
        bson_append_document_begin(doc, "_search_text", 12, &match);
        const std::string pattern = EscapeRegex(word);
        bson_append_utf8(&match, "$regex", 6, pattern.data(), static_cast<int>(pattern.size()));
        bson_append_utf8(&match, "$options", 8, "i", 1);
        bson_append_document_end(doc, &match);
      });
    }
  }
  bson_append_array_end(out.get(), &list);
  return out;
}

Bson EncodeSort(const std::vector<query::SortKey>& sort) {
  Bson out;
  bool has_id = false;
  for (const query::SortKey& key : sort) {
    bson_append_int32(out.get(), key.path.data(), Len(key.path), key.direction);
    has_id = has_id || key.path == "_id";
  }
  if (!has_id) bson_append_int32(out.get(), "_id", 3, 1);
  return out;
}

}  // namespace meta_db::mongo
