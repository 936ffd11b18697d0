// The question tokenizer of the plain-language translator.
#include "nl/nl.hpp"

#include <cctype>
#include <charconv>

namespace meta_db::nl {

namespace {

bool IsDigit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool IsWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Token Word(std::string_view text) { return {std::string(text), Lower(text), false, 0}; }

// "2003-03-15" at `i`: ten characters.
bool IsIsoDate(std::string_view text, std::size_t i) {
  if (i + 10 > text.size()) return false;
  for (std::size_t k = 0; k < 10; ++k) {
    const char c = text[i + k];
    if ((k == 4 || k == 7) ? c != '-' : !IsDigit(c)) return false;
  }
  return i + 10 == text.size() || !IsWordChar(text[i + 10]);
}

}  // namespace

std::vector<Token> Tokenize(std::string_view text) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (IsIsoDate(text, i)) {
      tokens.push_back(Word(text.substr(i, 10)));
      i += 10;
      continue;
    }
    if (IsDigit(c) || (c == '.' && i + 1 < text.size() && IsDigit(text[i + 1]))) {
      std::size_t end = i;
      bool dot = false;
      while (end < text.size() && (IsDigit(text[end]) || (text[end] == '.' && !dot && end + 1 < text.size() &&
                                                          IsDigit(text[end + 1])))) {
        dot = dot || text[end] == '.';
        ++end;
      }
      // "1,000": thousands separators inside a number.
      std::string digits(text.substr(i, end - i));
      while (!dot && end + 3 < text.size() + 0 && text[end] == ',' && IsDigit(text[end + 1]) && IsDigit(text[end + 2]) &&
             IsDigit(text[end + 3]) && (end + 4 == text.size() || !IsDigit(text[end + 4]))) {
        digits += text.substr(end + 1, 3);
        end += 4;
      }
      Token number = Word(text.substr(i, end - i));
      number.text = digits;
      number.lower = digits;
      number.number = true;
      const std::string& d = digits;
      number.value = 0;
      std::from_chars(d.data(), d.data() + d.size(), number.value);
      tokens.push_back(std::move(number));
      i = end;
      continue;
    }
    if (IsWordChar(c)) {
      std::size_t end = i;
      while (end < text.size() && IsWordChar(text[end])) ++end;
      tokens.push_back(Word(text.substr(i, end - i)));
      i = end;
      continue;
    }
    if (c == '<' || c == '>' || c == '=') {
      std::size_t end = i + 1;
      if (end < text.size() && text[end] == '=' && c != '=') ++end;
      tokens.push_back(Word(text.substr(i, end - i)));
      i = end;
      continue;
    }
    ++i;  // other punctuation and spaces separate tokens
  }
  return tokens;
}

}  // namespace meta_db::nl
