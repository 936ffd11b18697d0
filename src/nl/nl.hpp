// Plain-language questions about the catalogue translated into a POST /query or POST /cohort body, offline and
// deterministically (docs/nl.md): a tokenizer and a phrase grammar over DICOM keywords, their common names, units,
// comparatives, dates, counts, negation, level words and the values present in the catalogue.
// Thread-safety: pure functions. Errors: none; what is not understood is reported, never guessed.
#pragma once

#include <boost/json/object.hpp>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db::nl {

inline constexpr std::size_t kMaxQuestionBytes = 1000;

// The values present in the catalogue, per document path (e.g. "metadata.Manufacturer" -> {"SIEMENS", ...}).
struct Vocabulary {
  std::map<std::string, std::vector<std::string>> values;
};
// The paths whose values the grammar recognises in a question (series level).
const std::vector<std::string>& ValueFields();

struct Translation {
  std::string endpoint;  // "/query" or "/cohort"
  boost::json::object request;
  std::vector<std::string> fields;          // document paths the request filters on, in order of first use
  std::vector<std::string> not_understood;  // words of the question the grammar did not use
  bool understood = false;                  // any condition or level word recognised
  bool patients = false;                    // patients are asked for: a /cohort returning studies, counted by patient
};

Translation Translate(std::string_view question, const Vocabulary& vocabulary);

// One token of a question: its text as typed and lower-cased (ASCII), and whether it is a number.
struct Token {
  std::string text;
  std::string lower;
  bool number = false;
  double value = 0;
};
// Words, numbers (a unit glued to a number is split off: "1.5mm" -> "1.5", "mm"), ISO dates ("2003-03-15") and the
// symbols < > = ; hyphens split words ("non-contrast" -> "non", "contrast"); other punctuation separates.
std::vector<Token> Tokenize(std::string_view text);

}  // namespace meta_db::nl
