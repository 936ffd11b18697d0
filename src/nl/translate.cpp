// The plain-language grammar: phrase matchers tried at each token, longest first, each adding a condition on one
// level (studies or series) or naming the level asked about; the conditions become a /query or /cohort body.
#include "nl/nl.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>

namespace meta_db::nl {

namespace json = boost::json;

namespace {

enum class Level { kPatients, kStudies, kSeries, kInstances };

struct Condition {
  Level level;
  std::string path;
  json::value value;  // a value (equality) or an operator object
};

// A comparison read from the question: one or two (operator, number) pairs.
struct Comparison {
  std::vector<std::pair<std::string, double>> terms;
  std::size_t end = 0;  // the token after it
  bool unit_cm = false;
  bool unit = false;
};

const std::set<std::string, std::less<>> kStopwords = {
    "a", "all", "an", "and", "any", "are", "as", "at", "be", "by", "can", "count", "do", "does", "each", "every",
    "find", "for", "from", "get", "give", "had", "has", "have", "having", "how", "i", "in", "is", "it", "its", "list",
    "many", "me", "made", "number", "of", "on", "one", "or", "our", "please", "return", "select", "show", "some",
    "taken", "than", "that", "the", "their", "there", "these", "those", "to", "total", "was", "were", "what",
    "which", "who", "whose", "with", "done", "acquired", "performed", "scanned", "using", "used", "display", "want",
    "need", "catalogue", "catalog", "archive", "dataset", "data", "scanner", "scanners", "machine", "machines",
    "vendor", "vendors", "manufacturer", "manufactured", "model", "models", "kernel", "kernels", "reconstructed",
    "reconstruction", "convolution", "filter", "body", "part", "region", "modality", "modalities", "type", "dated",
    "date", "dates", "study", "value", "values", "level", "tell", "where", "them", "they", "also", "only", "both",
    "either", "read", "reviewed", "annotated", "mm", "millimeter", "millimeters", "millimetre", "millimetres", "image", "images", "appear", "contain",
    "containing", "include", "includes", "including", "there", "exist", "exists", "available", "?", "between"};

const std::vector<std::pair<std::string, int>> kMonths = {
    {"january", 1}, {"jan", 1},  {"february", 2}, {"feb", 2},  {"march", 3},     {"mar", 3},
    {"april", 4},   {"apr", 4},  {"may", 5},      {"june", 6}, {"jun", 6},       {"july", 7},
    {"jul", 7},     {"august", 8}, {"aug", 8},    {"september", 9}, {"sep", 9},  {"sept", 9},
    {"october", 10}, {"oct", 10}, {"november", 11}, {"nov", 11}, {"december", 12}, {"dec", 12}};

std::optional<int> Month(std::string_view word) {
  for (const auto& [name, month] : kMonths) {
    if (name == word) return month;
  }
  return std::nullopt;
}

bool IsYear(const Token& t) { return t.number && t.value >= 1900 && t.value <= 2100 && t.value == std::floor(t.value); }

std::string Date(int year, int month, int day) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "%04d%02d%02d", year, month, day);  // DICOM DA, the stored form
  return buffer;
}

json::value Number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return json::value(static_cast<std::int64_t>(v));
  return json::value(v);
}

class Grammar {
 public:
  Grammar(const std::vector<Token>& tokens, const Vocabulary& vocabulary) : t_(tokens), vocabulary_(vocabulary) {
    used_.assign(t_.size(), false);
    BuildValuePhrases();
  }

  Translation Run();

 private:
  bool Is(std::size_t i, std::string_view word) const { return i < t_.size() && t_[i].lower == word; }
  bool IsAny(std::size_t i, std::initializer_list<std::string_view> words) const {
    return i < t_.size() && std::find(words.begin(), words.end(), t_[i].lower) != words.end();
  }
  void Use(std::size_t begin, std::size_t end) {
    for (std::size_t k = begin; k < end && k < t_.size(); ++k) used_[k] = true;
  }
  void Add(Level level, std::string path, json::value value) {
    if (negate_) {
      value = Negated(value);
      negate_ = false;
    }
    conditions_.push_back({level, std::move(path), std::move(value)});
  }
  static json::value Negated(const json::value& value) {
    if (!value.is_object()) return json::object{{"$ne", value}};
    return json::object{{"$not", value}};
  }

  std::optional<Comparison> ReadComparison(std::size_t i) const;
  std::optional<std::size_t> Contrast(std::size_t i);
  std::optional<std::size_t> Thickness(std::size_t i);
  std::optional<std::size_t> Counted(std::size_t i);
  std::optional<std::size_t> Dates(std::size_t i);
  std::optional<std::size_t> Annotations(std::size_t i);
  std::optional<std::size_t> Quality(std::size_t i);
  std::optional<std::size_t> Values(std::size_t i);
  std::optional<std::size_t> Words(std::size_t i);
  void BuildValuePhrases();
  Translation Build();

  struct ValuePhrase {
    std::vector<std::string> words;
    std::string path;
    std::vector<std::string> values;  // stored values this phrase stands for
    bool needs_context = false;       // a kernel name that is also an English word: only next to "kernel"
  };

  const std::vector<Token>& t_;
  const Vocabulary& vocabulary_;
  std::vector<bool> used_;
  std::vector<ValuePhrase> phrases_;
  std::vector<Condition> conditions_;
  std::optional<Level> level_;
  bool negate_ = false;
  bool spiculated_ = false;
  std::size_t negated_end_ = static_cast<std::size_t>(-1);
  std::string negated_path_;
  // Values of one path collected before building: path -> (wanted, unwanted), for "GE or Siemens", "not GE".
  std::map<std::string, std::pair<std::vector<std::string>, std::vector<std::string>>> picked_;
  std::vector<std::string> picked_order_;
};

std::optional<Comparison> Grammar::ReadComparison(std::size_t i) const {
  Comparison c;
  auto number_at = [&](std::size_t k) { return k < t_.size() && t_[k].number; };
  auto finish = [&](std::size_t k) {
    if (IsAny(k, {"mm", "millimeter", "millimeters", "millimetre", "millimetres"})) {
      c.unit = true;
      ++k;
    } else if (IsAny(k, {"cm", "centimeter", "centimeters", "centimetre", "centimetres"})) {
      c.unit = c.unit_cm = true;
      ++k;
    }
    c.end = k;
    return c;
  };
  std::string op;
  std::size_t k = i;
  if (Is(k, "between") && number_at(k + 1) && IsAny(k + 2, {"and", "to"}) && number_at(k + 3)) {
    c.terms = {{"$gte", t_[k + 1].value}, {"$lte", t_[k + 3].value}};
    return finish(k + 4);
  }
  if (number_at(k) && IsAny(k + 1, {"to"}) && number_at(k + 2)) {
    c.terms = {{"$gte", t_[k].value}, {"$lte", t_[k + 2].value}};
    return finish(k + 3);
  }
  if (IsAny(k, {"more", "greater", "larger", "bigger", "longer", "higher", "thicker"}) && Is(k + 1, "than")) op = "$gt", k += 2;
  else if (IsAny(k, {"over", "above", ">", "exceeding"})) op = "$gt", k += 1;
  else if (IsAny(k, {"less", "fewer", "smaller", "shorter", "lower", "thinner"}) && Is(k + 1, "than")) op = "$lt", k += 2;
  else if (IsAny(k, {"under", "below", "<"})) op = "$lt", k += 1;
  else if (Is(k, "at") && IsAny(k + 1, {"least"})) op = "$gte", k += 2;
  else if (Is(k, "at") && IsAny(k + 1, {"most"})) op = "$lte", k += 2;
  else if (Is(k, "no") && IsAny(k + 1, {"less", "fewer"}) && Is(k + 2, "than")) op = "$gte", k += 3;
  else if (Is(k, "no") && IsAny(k + 1, {"more", "greater"}) && Is(k + 2, "than")) op = "$lte", k += 3;
  else if (IsAny(k, {">=", "min", "minimum"})) op = "$gte", k += 1;
  else if (IsAny(k, {"<=", "max", "maximum"})) op = "$lte", k += 1;
  else if (Is(k, "up") && Is(k + 1, "to")) op = "$lte", k += 2;
  else if (IsAny(k, {"exactly", "=", "equal", "equals"})) op = "$eq", k += Is(k + 1, "to") ? 2 : 1;
  if (Is(k, "of")) ++k;
  if (!number_at(k)) return std::nullopt;
  const double value = t_[k].value;
  ++k;
  if (op.empty()) {
    op = "$eq";
    // postfix forms: "100 or more", "2 mm or less"
    std::size_t after = k;
    if (IsAny(after, {"mm", "cm"})) ++after;
    if (Is(after, "or") && IsAny(after + 1, {"more", "greater", "above", "higher", "thicker", "larger"})) {
      op = "$gte";
    } else if (Is(after, "or") && IsAny(after + 1, {"less", "fewer", "below", "lower", "thinner", "smaller"})) {
      op = "$lte";
    }
    c.terms = {{op, value}};
    Comparison done = finish(k);
    if (op != "$eq") done.end += 2;
    return done;
  }
  c.terms = {{op, value}};
  return finish(k);
}

json::value ComparisonValue(const Comparison& c, double scale = 1) {
  if (c.terms.size() == 1 && c.terms[0].first == "$eq") return Number(c.terms[0].second * scale);
  json::object ops;
  for (const auto& [op, v] : c.terms) ops[op] = Number(v * scale);
  return ops;
}

// "with/without contrast", "contrast-enhanced", "non-contrast", "no contrast".
std::optional<std::size_t> Grammar::Contrast(std::size_t i) {
  if (!IsAny(i, {"contrast", "contrasted", "enhanced"})) return std::nullopt;
  std::size_t end = i + 1;
  if (Is(i, "contrast") && Is(i + 1, "enhanced")) end = i + 2;
  if (Is(i, "enhanced") && !(i > 0 && Is(i - 1, "contrast"))) return std::nullopt;
  json::array empty{nullptr, ""};
  const bool without = negate_;
  negate_ = false;
  conditions_.push_back({Level::kSeries, "metadata.ContrastBolusAgent",
                         json::object{{without ? "$in" : "$nin", empty}}});
  return end;
}

// "thinner than 1.5 mm", "slice thickness at least 2 mm", "2.5 mm slices", "thickness between 1 and 2 mm".
std::optional<std::size_t> Grammar::Thickness(std::size_t i) {
  auto add = [&](const Comparison& c) {
    Add(Level::kSeries, "metadata.SliceThickness", ComparisonValue(c, c.unit_cm ? 10 : 1));
  };
  if (IsAny(i, {"thinner", "thicker"}) && Is(i + 1, "than")) {
    auto c = ReadComparison(i);
    if (!c) return std::nullopt;
    add(*c);
    return c->end;
  }
  std::size_t k = i;
  if (IsAny(k, {"slice", "slices", "section"}) && IsAny(k + 1, {"thickness", "thick"})) ++k;
  if (IsAny(k, {"thickness", "thick"})) {
    ++k;
    while (IsAny(k, {"of", "is"})) ++k;
    if (auto c = ReadComparison(k)) {
      add(*c);
      return c->end;
    }
    return std::nullopt;
  }
  // "1.25 mm slices", "3 mm thick", "2 mm or less", "2 mm or thinner"
  if (auto c = ReadComparison(i); c && c->unit) {
    std::size_t end = c->end;
    if (IsAny(end, {"slice", "slices", "sections", "section", "thick", "thickness", "cuts"})) {
      add(*c);
      return end + 1;
    }
    if (c->terms.size() == 1 && c->terms[0].first != "$eq" && t_[i].number) {
      add(*c);
      return end;
    }
    if (Is(end, "or") && IsAny(end + 1, {"thinner", "thicker"})) {
      Comparison d = *c;
      d.terms = {{Is(end + 1, "thinner") ? "$lte" : "$gte", c->terms[0].second}};
      add(d);
      return end + 2;
    }
  }
  return std::nullopt;
}

// Counts of children: "with more than 100 images", "at least 3 nodules", "read by 4 readers".
std::optional<std::size_t> Grammar::Counted(std::size_t i) {
  auto c = ReadComparison(i);
  if (!c || c->unit) return std::nullopt;
  const std::size_t end = c->end;
  // "100 images or more": the postfix comes after the noun.
  std::size_t after = end + 1;
  if (c->terms.size() == 1 && c->terms[0].first == "$eq" && Is(end + 1, "or")) {
    const bool more = IsAny(end + 2, {"more", "greater", "above", "higher"});
    const bool less = IsAny(end + 2, {"less", "fewer", "below", "lower"});
    if (more || less) {
      c->terms[0].first = more ? "$gte" : "$lte";
      after = end + 3;
    }
  }
  if (IsAny(end, {"images", "image", "instances", "instance", "slices", "slice", "files", "frames"})) {
    Add(Level::kSeries, "num_instances", ComparisonValue(*c));
    return after;
  }
  if (IsAny(end, {"nodules", "nodule"})) {
    Add(Level::kSeries, "annotations.nodules", ComparisonValue(*c));
    return after;
  }
  if (IsAny(end, {"readers", "reader", "radiologists", "radiologist", "reads", "reading"})) {
    Add(Level::kSeries, "annotations.readers", ComparisonValue(*c));
    return after;
  }
  if (IsAny(end, {"annotations", "annotation", "markings"})) {
    Add(Level::kSeries, "annotations.annotations", ComparisonValue(*c));
    return end + 1;
  }
  if (IsAny(end, {"gaps", "gap"})) {
    Add(Level::kSeries, "qc.gaps", ComparisonValue(*c));
    return end + 1;
  }
  return std::nullopt;
}

// "before 2005", "after 2005", "since March 2003", "in 2004", "between 2002 and 2004", "on 2003-03-15".
std::optional<std::size_t> Grammar::Dates(std::size_t i) {
  // A point in time at k: (first day, first day after), its end.
  struct Span {
    std::string from, to;
    std::size_t end;
  };
  auto span_at = [&](std::size_t k) -> std::optional<Span> {
    if (k < t_.size() && t_[k].lower.size() == 10 && t_[k].lower[4] == '-') {
      const std::string& d = t_[k].lower;
      int y = std::stoi(d.substr(0, 4)), m = std::stoi(d.substr(5, 2)), day = std::stoi(d.substr(8, 2));
      if (m < 1 || m > 12 || day < 1 || day > 31) return std::nullopt;
      // the next day, as text: good enough for an exclusive bound (a "32nd" day still sorts after the 31st)
      return Span{Date(y, m, day), Date(y, m, day + 1), k + 1};
    }
    if (k < t_.size()) {
      if (auto month = Month(t_[k].lower); month && k + 1 < t_.size() && IsYear(t_[k + 1])) {
        const int y = static_cast<int>(t_[k + 1].value);
        return Span{Date(y, *month, 1), *month == 12 ? Date(y + 1, 1, 1) : Date(y, *month + 1, 1), k + 2};
      }
    }
    if (k < t_.size() && IsYear(t_[k]) && !IsAny(k + 1, {"mm", "cm", "images", "slices", "instances", "nodules"})) {
      const int y = static_cast<int>(t_[k].value);
      return Span{Date(y, 1, 1), Date(y + 1, 1, 1), k + 1};
    }
    return std::nullopt;
  };
  std::size_t k = i;
  auto add = [&](json::object ops) { Add(Level::kStudies, "study_date", std::move(ops)); };
  if (IsAny(k, {"between", "from"})) {
    if (auto a = span_at(k + 1); a && IsAny(a->end, {"and", "to", "until", "through"})) {
      if (auto b = span_at(a->end + 1)) {
        add({{"$gte", a->from}, {"$lt", b->to}});
        return b->end;
      }
    }
  }
  if (IsAny(k, {"before", "until", "till", "prior", "earlier"})) {
    std::size_t j = k + 1;
    if (IsAny(j, {"to", "than"})) ++j;
    if (auto s = span_at(j)) {
      // "until 2004" includes 2004; "before 2004" does not.
      add({{"$lt", IsAny(k, {"until", "till"}) ? s->to : s->from}});
      return s->end;
    }
  }
  if (IsAny(k, {"after", "later"})) {
    std::size_t j = k + 1;
    if (Is(j, "than")) ++j;
    if (auto s = span_at(j)) {
      add({{"$gte", s->to}});
      return s->end;
    }
  }
  if (IsAny(k, {"since", "from"})) {
    if (auto s = span_at(k + 1)) {
      add({{"$gte", s->from}});
      return s->end;
    }
  }
  if (IsAny(k, {"in", "during", "on", "of"})) {
    if (auto s = span_at(k + 1)) {
      add({{"$gte", s->from}, {"$lt", s->to}});
      return s->end;
    }
  }
  return std::nullopt;
}

// The #13 fields: nodules, malignancy, readers, nodule size.
std::optional<std::size_t> Grammar::Annotations(std::size_t i) {
  if (IsAny(i, {"nodules", "nodule"})) {
    std::size_t k = i + 1;
    if (IsAny(k, {"larger", "bigger", "greater", "over", "above", "at", "of", "smaller", "under", "below", "between"})) {
      const std::size_t from = Is(k, "of") ? k + 1 : k;
      if (auto c = ReadComparison(from)) {
        Add(Level::kSeries, "annotations.max_diameter_mm", ComparisonValue(*c, c->unit_cm ? 10 : 1));
        return c->end;
      }
    }
    if (negate_) {
      negate_ = false;
      conditions_.push_back({Level::kSeries, "annotations.nodules", json::value(0)});
    } else {
      conditions_.push_back({Level::kSeries, "annotations.nodules", json::object{{"$gte", 1}}});
    }
    return i + 1;
  }
  if (IsAny(i, {"malignancy", "malignant"})) {
    std::size_t k = i + 1;
    while (IsAny(k, {"rating", "score", "of", "is", "rated"})) ++k;
    if (t_[i].lower == "malignancy") {
      if (auto c = ReadComparison(k)) {
        Add(Level::kSeries, "annotations.max_malignancy", ComparisonValue(*c));
        return c->end;
      }
    }
    Add(Level::kSeries, "annotations.max_malignancy", json::object{{"$gte", 4}});
    return Is(i + 1, "nodules") || Is(i + 1, "nodule") ? i + 2 : i + 1;
  }
  if (IsAny(i, {"spiculated", "spiculation", "spiculations"})) {
    // A rating of one reader's annotation (collection "annotations"), not a field of the series: answered there.
    spiculated_ = true;
    return Is(i + 1, "nodules") || Is(i + 1, "nodule") ? i + 2 : i + 1;
  }
  return std::nullopt;
}


// QC flags and kernel class (#13): "gaps", "irregular spacing", "sharp kernel", "regular spacing".
std::optional<std::size_t> Grammar::Quality(std::size_t i) {
  struct Flag {
    std::vector<std::string_view> words;
    const char* flag;
  };
  static const std::vector<Flag> kFlags = {
      {{"missing", "slices"}, "missing_slices"},       {{"missing", "slice"}, "missing_slices"},
      {{"gaps"}, "missing_slices"},                    {{"gap"}, "missing_slices"},
      {{"irregular", "spacing"}, "irregular_spacing"}, {{"irregularly", "spaced"}, "irregular_spacing"},
      {{"duplicate", "positions"}, "duplicate_positions"}, {{"duplicate", "slices"}, "duplicate_positions"},
      {{"duplicated", "slices"}, "duplicate_positions"},
      {{"instance", "number", "holes"}, "instance_number_holes"},
      {{"mixed", "orientation"}, "mixed_orientation"}, {{"mixed", "orientations"}, "mixed_orientation"},
      {{"mixed", "pixel", "spacing"}, "mixed_pixel_spacing"},
      {{"no", "geometry"}, "no_geometry"},             {{"without", "geometry"}, "no_geometry"},
      {{"missing", "geometry"}, "no_geometry"},
  };
  for (const Flag& flag : kFlags) {
    bool all = true;
    for (std::size_t k = 0; k < flag.words.size() && all; ++k) all = Is(i + k, flag.words[k]);
    if (!all) continue;
    // "no geometry" is itself the flag: the "no" is part of the phrase, not a negation.
    if (std::string_view(flag.flag) == "no_geometry") negate_ = false;
    Add(Level::kSeries, "qc.flags", json::value(flag.flag));
    return i + flag.words.size();
  }
  if (Is(i, "regular") && IsAny(i + 1, {"spacing", "spaced"})) {
    Add(Level::kSeries, "qc.regular_spacing", json::value(true));
    return i + 2;
  }
  if (IsAny(i, {"qc", "quality"}) && IsAny(i + 1, {"flags", "flag", "problems", "issues"})) {
    const bool without = negate_;
    negate_ = false;
    conditions_.push_back({Level::kSeries, "qc.flags.0", json::object{{"$exists", !without}}});
    return i + 2;
  }
  if (IsAny(i, {"sharp", "soft", "smooth"}) && IsAny(i + 1, {"kernel", "kernels", "reconstruction", "reconstructions"})) {
    Add(Level::kSeries, "qc.kernel_class", json::value(t_[i].lower == "sharp" ? "sharp" : "soft"));
    return i + 2;
  }
  if (Is(i, "kernel") && Is(i + 1, "class") && IsAny(i + 2, {"sharp", "soft", "standard", "unknown"})) {
    Add(Level::kSeries, "qc.kernel_class", json::value(t_[i + 2].lower));
    return i + 3;
  }
  return std::nullopt;
}

void Grammar::BuildValuePhrases() {
  static const std::set<std::string, std::less<>> kEnglish = {"standard", "lung", "bone", "soft", "chest", "head",
                                                              "body", "detail", "sharp", "smooth", "brain", "a",
                                                              "b", "c", "d", "e", "f"};
  std::map<std::pair<std::string, std::string>, std::size_t> index;  // (words joined, path) -> phrase
  auto add = [&](const std::vector<Token>& tokens, const std::string& path, const std::string& value, bool context) {
    if (tokens.empty()) return;
    std::vector<std::string> words;
    std::string joined;
    for (const Token& t : tokens) {
      words.push_back(t.lower);
      joined += t.lower + " ";
    }
    auto [it, inserted] = index.emplace(std::make_pair(joined, path), phrases_.size());
    if (inserted) {
      phrases_.push_back({std::move(words), path, {value}, context});
    } else if (std::find(phrases_[it->second].values.begin(), phrases_[it->second].values.end(), value) ==
               phrases_[it->second].values.end()) {
      phrases_[it->second].values.push_back(value);
    }
  };
  for (const auto& [path, values] : vocabulary_.values) {
    for (const std::string& value : values) {
      const std::vector<Token> tokens = Tokenize(value);
      if (tokens.empty()) continue;
      const bool kernel = path == "metadata.ConvolutionKernel";
      const bool english = tokens.size() == 1 && kEnglish.contains(tokens[0].lower);
      add(tokens, path, value, kernel && (english || tokens[0].lower.size() <= 2));
      // A manufacturer is also known by its first word ("GE" for "GE MEDICAL SYSTEMS").
      if (path == "metadata.Manufacturer" && tokens.size() > 1 && !tokens[0].number) {
        add({tokens[0]}, path, value, false);
      }
    }
  }
  // Common names of modalities, when the catalogue has them.
  auto alias = [&](std::vector<std::string_view> words, std::vector<std::string_view> modalities) {
    const auto it = vocabulary_.values.find("modality");
    if (it == vocabulary_.values.end()) return;
    for (std::string_view m : modalities) {
      if (std::find(it->second.begin(), it->second.end(), m) == it->second.end()) continue;
      std::vector<Token> tokens;
      for (std::string_view w : words) tokens.push_back({std::string(w), std::string(w), false, 0});
      add(tokens, "modality", std::string(m), false);
    }
  };
  alias({"radiograph"}, {"CR", "DX"});
  alias({"radiographs"}, {"CR", "DX"});
  alias({"x", "ray"}, {"CR", "DX"});
  alias({"xray"}, {"CR", "DX"});
  alias({"x", "rays"}, {"CR", "DX"});
  alias({"computed", "tomography"}, {"CT"});
  alias({"mri"}, {"MR"});
  alias({"pet"}, {"PT"});
  alias({"ultrasound"}, {"US"});
  // Longest phrases first, so "sensation 16" wins over "16".
  std::stable_sort(phrases_.begin(), phrases_.end(),
                   [](const ValuePhrase& a, const ValuePhrase& b) { return a.words.size() > b.words.size(); });
}

// A value present in the catalogue: "Siemens", "GE", "B30f", "CHEST", "CT", "Sensation 16".
std::optional<std::size_t> Grammar::Values(std::size_t i) {
  for (const ValuePhrase& phrase : phrases_) {
    bool all = true;
    for (std::size_t k = 0; k < phrase.words.size() && all; ++k) all = Is(i + k, phrase.words[k]);
    if (!all) continue;
    const std::size_t end = i + phrase.words.size();
    if (phrase.needs_context) {
      const bool near = (i > 0 && IsAny(i - 1, {"kernel", "kernels"})) || (i > 1 && IsAny(i - 2, {"kernel", "kernels"})) ||
                        IsAny(end, {"kernel", "kernels"});
      if (!near) continue;
    }
    auto& [wanted, unwanted] = picked_[phrase.path];
    if (wanted.empty() && unwanted.empty()) picked_order_.push_back(phrase.path);
    // "not GE or Philips", "excluding GE and Philips": the negation covers the list.
    if (!negate_ && i > 0 && IsAny(i - 1, {"and", "or", "nor"}) && negated_end_ == i - 1 && negated_path_ == phrase.path) {
      negate_ = true;
    }
    if (negate_) {
      negated_end_ = end;
      negated_path_ = phrase.path;
    }
    auto& list = negate_ ? unwanted : wanted;
    for (const std::string& value : phrase.values) {
      if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
    }
    negate_ = false;
    return end;
  }
  return std::nullopt;
}

// Level words, negations and sex.
std::optional<std::size_t> Grammar::Words(std::size_t i) {
  const std::string& w = t_[i].lower;
  auto level = [&](Level l) {
    if (!level_) level_ = l;
    return i + 1;
  };
  if (w == "patients" || w == "patient" || w == "subjects" || w == "people" || w == "persons") return level(Level::kPatients);
  if (w == "studies" || w == "exams" || w == "examinations" || w == "exam") return level(Level::kStudies);
  if (w == "series" || w == "scans" || w == "scan" || w == "acquisitions") return level(Level::kSeries);
  if (w == "instances" || w == "slices" || w == "files" || w == "images") return level(Level::kInstances);
  if (w == "not" || w == "non" || w == "no" || w == "without" || w == "excluding" || w == "except" || w == "exclude") {
    negate_ = true;
    return i + 1;
  }
  if (w == "other" && Is(i + 1, "than")) {
    negate_ = true;
    return i + 2;
  }
  if (w == "male" || w == "males" || w == "men" || w == "man") {
    Add(Level::kStudies, "metadata.PatientSex", json::value("M"));
    return i + 1;
  }
  if (w == "female" || w == "females" || w == "women" || w == "woman") {
    Add(Level::kStudies, "metadata.PatientSex", json::value("F"));
    return i + 1;
  }
  return std::nullopt;
}

json::value Combine(const std::vector<json::object>& parts) {
  if (parts.size() == 1) return parts.front();
  // One object when the paths differ and no operator repeats; $and otherwise.
  json::object merged;
  for (const json::object& part : parts) {
    for (const auto& [key, value] : part) {
      if (merged.contains(key)) {
        json::array all;
        for (const json::object& p : parts) all.push_back(p);
        return json::object{{"$and", std::move(all)}};
      }
      merged[key] = value;
    }
  }
  return merged;
}

Translation Grammar::Build() {
  Translation out;
  for (const std::string& path : picked_order_) {
    const auto& [wanted, unwanted] = picked_.at(path);
    json::object ops;
    auto list = [](const std::vector<std::string>& values) {
      json::array a;
      for (const std::string& v : values) a.emplace_back(v);
      return a;
    };
    json::value value;
    if (unwanted.empty()) {
      value = wanted.size() == 1 ? json::value(wanted.front()) : json::value(json::object{{"$in", list(wanted)}});
    } else {
      json::object o;
      if (!wanted.empty()) o["$in"] = list(wanted);
      if (unwanted.size() == 1) o["$ne"] = unwanted.front();
      else o["$nin"] = list(unwanted);
      value = std::move(o);
    }
    conditions_.push_back({Level::kSeries, path, std::move(value)});
  }
  std::map<Level, std::vector<json::object>> by_level;
  for (const Condition& c : conditions_) {
    by_level[c.level].push_back(json::object{{c.path, c.value}});
    if (std::find(out.fields.begin(), out.fields.end(), c.path) == out.fields.end()) out.fields.push_back(c.path);
  }
  out.understood = !conditions_.empty() || level_.has_value();
  const Level level = level_.value_or(Level::kSeries);
  const Level returned = level == Level::kPatients ? Level::kStudies : level;
  out.patients = level == Level::kPatients;
  auto name = [](Level l) {
    return l == Level::kStudies ? "studies" : l == Level::kSeries ? "series" : "instances";
  };
  const bool one_level = by_level.empty() || (by_level.size() == 1 && by_level.begin()->first == returned);
  if (one_level && level != Level::kPatients) {
    out.endpoint = "/query";
    out.request["collection"] = name(returned);
    out.request["filter"] = by_level.empty() ? json::value(json::object{}) : Combine(by_level.begin()->second);
    return out;
  }
  out.endpoint = "/cohort";
  for (auto& [l, parts] : by_level) out.request[name(l)] = Combine(parts);
  out.request["return"] = name(returned);
  return out;
}

Translation Grammar::Run() {
  using Matcher = std::optional<std::size_t> (Grammar::*)(std::size_t);
  const Matcher matchers[] = {&Grammar::Dates,  &Grammar::Quality, &Grammar::Contrast, &Grammar::Thickness,
                              &Grammar::Counted, &Grammar::Annotations, &Grammar::Values, &Grammar::Words};
  for (std::size_t i = 0; i < t_.size();) {
    std::optional<std::size_t> end;
    for (Matcher m : matchers) {
      if ((end = (this->*m)(i))) break;
    }
    if (end && *end > i) {
      Use(i, *end);
      i = *end;
    } else {
      ++i;
    }
  }
  Translation out = Build();
  if (spiculated_) {
    if (conditions_.empty()) {
      out.endpoint = "/query";
      out.request = {{"collection", "annotations"},
                     {"filter", {{"kind", "nodule"}, {"ratings.spiculation", {{"$gte", 4}}}}}};
      out.fields = {"kind", "ratings.spiculation"};
      out.understood = true;
      out.patients = false;
    } else {
      out.not_understood.push_back("spiculated (only alone: a rating of annotations, not a series field)");
    }
  }
  for (std::size_t i = 0; i < t_.size(); ++i) {
    if (used_[i] || kStopwords.contains(t_[i].lower)) continue;
    if (spiculated_ && (t_[i].lower.starts_with("spicul"))) continue;
    out.not_understood.push_back(t_[i].text);
  }
  return out;
}

}  // namespace

const std::vector<std::string>& ValueFields() {
  static const std::vector<std::string> kFields = {"modality", "metadata.Manufacturer",
                                                   "metadata.ManufacturerModelName", "metadata.ConvolutionKernel",
                                                   "metadata.BodyPartExamined"};
  return kFields;
}

Translation Translate(std::string_view question, const Vocabulary& vocabulary) {
  const std::vector<Token> tokens = Tokenize(question);
  return Grammar(tokens, vocabulary).Run();
}

}  // namespace meta_db::nl
