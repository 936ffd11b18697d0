// A linear-time regular-expression matcher for $regex: one implementation shared by the in-memory
// matcher and the SQLite REGEXP function, so both back-ends agree byte for byte.
// Thread-safety: a compiled Regex is immutable and may be used from many threads.
// Errors: Compile throws Error(kBadRequest) for unsupported or dangerous patterns.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db::query {

inline constexpr std::size_t kMaxRegexLength = 1000;

class Regex {
 public:
  // pattern: a PCRE-like subset (see docs/query.md); options: any of "imsx".
  // path names the filter path in error messages.
  static Regex Compile(std::string_view pattern, std::string_view options, std::string_view path = {});

  // True if the pattern matches anywhere in text (MongoDB's unanchored $regex semantics).
  bool Search(std::string_view text) const;

  const std::string& pattern() const { return pattern_; }
  const std::string& options() const { return options_; }

  // One instruction of the compiled NFA (public only so the compiler helpers can build it).
  struct Inst {
    enum class Kind : std::uint8_t { kByte, kSplit, kJmp, kBol, kEol, kWordB, kNotWordB, kMatch };
    Kind kind = Kind::kMatch;
    std::uint16_t set = 0;  // kByte: index into sets_
    std::int32_t x = 0;     // kSplit/kJmp targets
    std::int32_t y = 0;
  };
  using ByteSet = std::vector<bool>;

 private:
  Regex() = default;
  void AddThread(std::vector<std::int32_t>& list, std::vector<std::uint32_t>& mark, std::uint32_t gen,
                 std::int32_t pc, std::string_view text, std::size_t pos) const;

  std::string pattern_;
  std::string options_;
  bool multiline_ = false;
  std::vector<Inst> prog_;
  std::vector<ByteSet> sets_;
};

}  // namespace meta_db::query
