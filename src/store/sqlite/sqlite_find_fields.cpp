// FieldPicker: a lazy scan of the stored JSON text (top-level members skipped as text, wanted ones decoded).
#include "store/sqlite/sqlite_find_fields.hpp"

#include "common/error.hpp"
#include "common/json_io.hpp"
#include "query/query.hpp"

#include <boost/json/string.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>

namespace meta_db::sqlite {

namespace {

namespace json = boost::json;

// The characters that matter when skipping a container: quotes and brackets.
constexpr std::array<bool, 256> kStructural = [] {
  std::array<bool, 256> table{};
  for (const unsigned char c : {'"', '{', '}', '[', ']'}) table[c] = true;
  return table;
}();

// A position in the stored text. Bounds are checked everywhere: stored text is ours, but a damaged file must give
// an error, never a read past the text.
class TextCursor {
 public:
  explicit TextCursor(std::string_view text) : text_(text) {}

  [[noreturn]] static void Malformed() { throw Error(Errc::kInternal, "stored document is not a JSON object"); }

  void SkipSpace() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\n' || text_[at_] == '\r' || text_[at_] == '\t')) {
      ++at_;
    }
  }
  char Peek() {
    SkipSpace();
    if (at_ >= text_.size()) Malformed();
    return text_[at_];
  }
  void Expect(char c) {
    if (Peek() != c) Malformed();
    ++at_;
  }
  std::size_t at() const { return at_; }
  std::string_view Slice(std::size_t from) const { return text_.substr(from, at_ - from); }

  // At a '"': the string's raw text between its quotes (escapes left as they are); leaves the cursor after it.
  std::string_view String() {
    const std::size_t start = ++at_;
    for (;;) {
      const void* quote = at_ < text_.size() ? std::memchr(text_.data() + at_, '"', text_.size() - at_) : nullptr;
      if (quote == nullptr) Malformed();
      const std::size_t end = static_cast<std::size_t>(static_cast<const char*>(quote) - text_.data());
      std::size_t backslashes = 0;
      while (end - backslashes > start && text_[end - backslashes - 1] == '\\') ++backslashes;
      at_ = end + 1;
      if (backslashes % 2 == 0) return text_.substr(start, end - start);
    }
  }

  // Moves past one value of any kind without decoding it (containers by their brackets, strings by their quotes).
  void SkipValue() {
    const char c = Peek();
    if (c == '"') {
      String();
      return;
    }
    if (c == '{' || c == '[') {
      std::size_t depth = 0;
      while (at_ < text_.size()) {
        const char d = text_[at_];
        if (!kStructural[static_cast<unsigned char>(d)]) {
          ++at_;
          continue;
        }
        if (d == '"') {
          String();
          continue;
        }
        if (d == '{' || d == '[') {
          ++depth;
        } else if (--depth == 0) {
          ++at_;
          return;
        }
        ++at_;
      }
      Malformed();
    }
    const std::size_t start = at_;
    while (at_ < text_.size() && std::strchr(",}] \t\r\n", text_[at_]) == nullptr) ++at_;
    if (at_ == start) Malformed();
  }

 private:
  std::string_view text_;
  std::size_t at_ = 0;
};

// A member's value from its text, as ParseJson would decode it: the common scalars directly, the rest parsed.
json::value DecodeValue(std::string_view text, const json::storage_ptr& storage) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"' && text.find('\\') == std::string_view::npos) {
    return json::string(text.substr(1, text.size() - 2), storage);
  }
  if (text == "true") return json::value(true, storage);
  if (text == "false") return json::value(false, storage);
  if (text == "null") return json::value(nullptr, storage);
  const bool negative = !text.empty() && text.front() == '-';
  const std::string_view digits = text.substr(negative ? 1 : 0);
  // Up to 18 digits always fit an int64, where ParseJson puts them; longer ones (uint64, doubles) go to the parser.
  if (!digits.empty() && digits.size() <= 18 && (digits.size() == 1 ? !(negative && digits == "0") : digits.front() != '0') &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    std::int64_t value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    return json::value(value, storage);
  }
  return json::value(ParseJson(text), storage);
}

// A key's text as its string: raw unless it holds an escape.
std::string KeyOf(std::string_view raw) {
  if (raw.find('\\') == std::string_view::npos) return std::string(raw);
  const json::value decoded = ParseJson("\"" + std::string(raw) + "\"");
  return std::string(decoded.as_string());
}

}  // namespace

FieldPicker::FieldPicker(std::vector<std::string> paths) : paths_(std::move(paths)) {
  heads_.emplace_back("_id");
  for (const std::string& path : paths_) {
    const std::string head = path.substr(0, path.find('.'));
    if (head.size() != path.size()) flat_ = false;
    if (std::find(heads_.begin(), heads_.end(), head) == heads_.end()) heads_.push_back(head);
  }
}

Document FieldPicker::Pick(std::string_view text, const json::storage_ptr& storage) const {
  // The wanted members' value texts, by their index in heads_ (empty when absent).
  std::vector<std::string_view> found(heads_.size());
  std::size_t still = heads_.size();
  TextCursor cursor(text);
  cursor.Expect('{');
  if (cursor.Peek() == '}') still = 0;
  while (still > 0) {
    if (cursor.Peek() != '"') TextCursor::Malformed();
    const std::string_view raw = cursor.String();
    std::size_t index = heads_.size();
    if (raw.find('\\') == std::string_view::npos) {
      index = static_cast<std::size_t>(std::find(heads_.begin(), heads_.end(), raw) - heads_.begin());
    } else {
      index = static_cast<std::size_t>(std::find(heads_.begin(), heads_.end(), KeyOf(raw)) - heads_.begin());
    }
    cursor.Expect(':');
    cursor.SkipSpace();
    const std::size_t start = cursor.at();
    cursor.SkipValue();
    // JSON objects of ours never repeat a key; were one repeated, the first is kept (a decoder keeps one of them).
    if (index < heads_.size() && found[index].empty()) {
      found[index] = cursor.Slice(start);
      --still;
    }
    if (still == 0) break;
    const char next = cursor.Peek();
    if (next == '}') break;
    if (next != ',') TextCursor::Malformed();
    cursor.Expect(',');
  }
  Document picked(storage);
  picked.reserve(found.size());
  if (!found[0].empty()) picked["_id"] = DecodeValue(found[0], storage);
  if (flat_) {
    // What Project makes of one-component paths: _id first, then each found member in the paths' order.
    for (const std::string& path : paths_) {
      const auto index = static_cast<std::size_t>(std::find(heads_.begin(), heads_.end(), path) - heads_.begin());
      if (!found[index].empty()) picked[path] = DecodeValue(found[index], storage);
    }
    return picked;
  }
  for (std::size_t i = 1; i < heads_.size(); ++i) {
    if (!found[i].empty()) picked[heads_[i]] = DecodeValue(found[i], storage);
  }
  return query::Project(picked, query::Projection{true, paths_});
}

}  // namespace meta_db::sqlite
