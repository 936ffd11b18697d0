// ISO 2022 decoding for DICOM text: designations by escape sequence, G0 for bytes < 0x80 and G1 for the rest,
// reset at delimiters (PS3.5 6.1.2.5.3); each run converted with glibc iconv (EUC forms of the 94x94 sets).
#include "meta_extractor/iso2022.hpp"

#include <iconv.h>

#include <array>
#include <memory>
#include <vector>

namespace meta_db::extractor::detail {
namespace {

enum class Set {
  kAscii,        // ISO 2022 IR 6, and JIS X 0201 Romaji (IR 14), which differs only at 0x5C/0x7E
  kKatakana,     // JIS X 0201 katakana (IR 13) in G1: 0xA1-0xDF -> U+FF61..
  kJisX0208,     // IR 87 in G0, two 7-bit bytes -> EUC-JP with the high bits set
  kJisX0212,     // IR 159 in G0 -> EUC-JP with an SS3 (0x8F) prefix
  kIconvSingle,  // an ISO 8859 / TIS 620 set in G1, one byte per character
  kIconvDouble,  // KS X 1001 / GB 2312 in G1, two bytes >= 0x80 (EUC form)
  kNone,
};

struct Designation {
  Set set = Set::kNone;
  const char* iconv_name = nullptr;
};

struct State {
  Designation g0{Set::kAscii, nullptr};
  Designation g1{};
};

// Defined term (PS3.3 C.12.1.1.2) → what it designates into G1 (G0 stays ASCII except for IR 13's Romaji).
std::optional<Designation> G1For(std::string_view term) {
  struct Entry {
    const char* number;
    Designation g1;
  };
  static constexpr std::array<Entry, 17> kTerms = {{
      {"6", {}},
      {"100", {Set::kIconvSingle, "ISO-8859-1"}},
      {"101", {Set::kIconvSingle, "ISO-8859-2"}},
      {"109", {Set::kIconvSingle, "ISO-8859-3"}},
      {"110", {Set::kIconvSingle, "ISO-8859-4"}},
      {"144", {Set::kIconvSingle, "ISO-8859-5"}},
      {"127", {Set::kIconvSingle, "ISO-8859-6"}},
      {"126", {Set::kIconvSingle, "ISO-8859-7"}},
      {"138", {Set::kIconvSingle, "ISO-8859-8"}},
      {"148", {Set::kIconvSingle, "ISO-8859-9"}},
      {"203", {Set::kIconvSingle, "ISO-8859-15"}},
      {"166", {Set::kIconvSingle, "TIS-620"}},
      {"13", {Set::kKatakana, nullptr}},
      {"87", {}},
      {"159", {}},
      {"149", {Set::kIconvDouble, "EUC-KR"}},
      {"58", {Set::kIconvDouble, "GB2312"}},
  }};
  if (term.empty()) return Designation{};
  for (std::string_view prefix : {"ISO 2022 IR ", "ISO_IR "}) {
    if (term.substr(0, prefix.size()) != prefix) continue;
    const std::string_view number = term.substr(prefix.size());
    for (const Entry& e : kTerms) {
      if (number == e.number) return e.g1;
    }
  }
  return std::nullopt;
}

// Escape sequence at raw[i] (after ESC) → updated state; returns the sequence length or 0 if unknown.
std::size_t ApplyEscape(std::string_view rest, State& state) {
  auto starts = [&](std::string_view s) { return rest.substr(0, s.size()) == s; };
  struct Esc {
    const char* seq;
    bool g0;
    Designation d;
  };
  static constexpr std::array<Esc, 17> kEscapes = {{
      {"(B", true, {Set::kAscii, nullptr}},
      {"(J", true, {Set::kAscii, nullptr}},
      {"$B", true, {Set::kJisX0208, nullptr}},
      {"$(D", true, {Set::kJisX0212, nullptr}},
      {")I", false, {Set::kKatakana, nullptr}},
      {"$)C", false, {Set::kIconvDouble, "EUC-KR"}},
      {"$)A", false, {Set::kIconvDouble, "GB2312"}},
      {"-A", false, {Set::kIconvSingle, "ISO-8859-1"}},
      {"-B", false, {Set::kIconvSingle, "ISO-8859-2"}},
      {"-C", false, {Set::kIconvSingle, "ISO-8859-3"}},
      {"-D", false, {Set::kIconvSingle, "ISO-8859-4"}},
      {"-L", false, {Set::kIconvSingle, "ISO-8859-5"}},
      {"-G", false, {Set::kIconvSingle, "ISO-8859-6"}},
      {"-F", false, {Set::kIconvSingle, "ISO-8859-7"}},
      {"-H", false, {Set::kIconvSingle, "ISO-8859-8"}},
      {"-M", false, {Set::kIconvSingle, "ISO-8859-9"}},
      {"-T", false, {Set::kIconvSingle, "TIS-620"}},
  }};
  for (const Esc& e : kEscapes) {
    if (!starts(e.seq)) continue;
    (e.g0 ? state.g0 : state.g1) = e.d;
    return std::string_view(e.seq).size();
  }
  return 0;
}

struct IconvCloser {
  void operator()(void* cd) const noexcept { ::iconv_close(static_cast<iconv_t>(cd)); }
};

bool IconvAppend(const char* from, const std::string& bytes, std::string& out) {
  std::unique_ptr<void, IconvCloser> cd(::iconv_open("UTF-8", from));
  if (cd.get() == reinterpret_cast<void*>(-1)) {
    (void)cd.release();
    return false;
  }
  std::vector<char> buffer(bytes.size() * 4 + 16);
  char* in = const_cast<char*>(bytes.data());  // iconv's historical non-const signature
  std::size_t in_left = bytes.size();
  char* dst = buffer.data();
  std::size_t out_left = buffer.size();
  if (::iconv(static_cast<iconv_t>(cd.get()), &in, &in_left, &dst, &out_left) == static_cast<std::size_t>(-1)) {
    return false;
  }
  out.append(buffer.data(), buffer.size() - out_left);
  return true;
}

// Decodes one character (or byte run) starting at raw[i] under `d`; returns bytes consumed or 0 on failure.
std::size_t DecodeChar(std::string_view raw, std::size_t i, const Designation& d, std::string& out) {
  const auto b = static_cast<unsigned char>(raw[i]);
  switch (d.set) {
    case Set::kAscii:
      out += static_cast<char>(b);
      return 1;
    case Set::kKatakana: {
      if (b < 0xA1 || b > 0xDF) return 0;
      const unsigned cp = 0xFF61 + (b - 0xA1u);
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
      return 1;
    }
    case Set::kJisX0208:
    case Set::kJisX0212:
    case Set::kIconvDouble: {
      if (i + 1 >= raw.size()) return 0;
      std::string euc;
      if (d.set == Set::kJisX0212) euc += '\x8F';
      euc += static_cast<char>(raw[i] | '\x80');
      euc += static_cast<char>(raw[i + 1] | '\x80');
      return IconvAppend(d.set == Set::kIconvDouble ? d.iconv_name : "EUC-JP", euc, out) ? 2 : 0;
    }
    case Set::kIconvSingle:
      return IconvAppend(d.iconv_name, std::string(1, static_cast<char>(b)), out) ? 1 : 0;
    case Set::kNone:
      return 0;
  }
  return 0;
}

}  // namespace

std::optional<std::string> DecodeIso2022(std::string_view raw, std::string_view charset, bool person_name) {
  const std::string_view first_term = charset.substr(0, charset.find('\\'));
  const std::optional<Designation> initial_g1 = G1For(first_term);
  if (!initial_g1) return std::nullopt;
  State initial;
  initial.g1 = *initial_g1;
  State state = initial;
  std::string out;
  for (std::size_t i = 0; i < raw.size();) {
    const char c = raw[i];
    if (c == '\x1B') {
      const std::size_t n = ApplyEscape(raw.substr(i + 1), state);
      if (n == 0) return std::nullopt;
      i += 1 + n;
      continue;
    }
    const bool delimiter =
        c == '\\' || c == '\r' || c == '\n' || c == '\t' || c == '\f' || (person_name && (c == '^' || c == '='));
    if (delimiter && state.g0.set != Set::kJisX0208 && state.g0.set != Set::kJisX0212) {
      state = initial;  // designations end at delimiters (PS3.5 6.1.2.5.3)
      out += c;
      ++i;
      continue;
    }
    const Designation& d = static_cast<unsigned char>(c) < 0x80 ? state.g0 : state.g1;
    const std::size_t n = DecodeChar(raw, i, d, out);
    if (n == 0) return std::nullopt;
    i += n;
  }
  return out;
}

}  // namespace meta_db::extractor::detail
