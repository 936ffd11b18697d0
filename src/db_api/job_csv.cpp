// RFC 4180 parsing of a job's identifier columns (see job_csv.hpp for what is accepted beyond the RFC).
#include "db_api/job_csv.hpp"

#include "common/error.hpp"
#include "common/utf8.hpp"

#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <optional>

namespace meta_db::db_api {

namespace {

struct Cell {
  std::string text;
  bool quoted = false;
};

struct Record {
  std::size_t line = 0;  // where the record starts (1-based)
  std::vector<Cell> cells;
};

[[noreturn]] void Malformed(std::size_t line, const std::string& message) {
  throw Error(Errc::kBadRequest, "CSV line " + std::to_string(line) + ": " + message,
              boost::json::object{{"line", line}});
}

// Names as users write them are echoed back in messages; cut long ones so an error stays readable.
std::string Shown(std::string_view text) {
  constexpr std::size_t kMaxShown = 64;
  return text.size() <= kMaxShown ? std::string(text) : std::string(text.substr(0, kMaxShown)) + "...";
}

std::size_t LineAt(std::string_view text, std::size_t offset) {
  const auto end = text.begin() + static_cast<std::ptrdiff_t>(offset);
  return 1 + static_cast<std::size_t>(std::count(text.begin(), end, '\n'));
}

// Splits RFC 4180 records, tracking physical lines (a quoted cell may span several).
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  bool Next(Record& record) {
    if (pos_ >= text_.size()) return false;
    record = Record{.line = line_, .cells = {}};
    for (;;) {
      record.cells.push_back(ReadCell());
      if (pos_ >= text_.size()) return true;
      const char c = text_[pos_];
      if (c == ',') {
        ++pos_;
        if (pos_ >= text_.size()) {  // "a," at the very end: one more, empty cell
          record.cells.emplace_back();
          return true;
        }
        continue;
      }
      EndLine();
      return true;
    }
  }

 private:
  Cell ReadCell() {
    Cell cell;
    if (pos_ < text_.size() && text_[pos_] == '"') {
      cell.quoted = true;
      const std::size_t start_line = line_;
      ++pos_;
      for (;;) {
        if (pos_ >= text_.size()) Malformed(start_line, "unterminated quoted cell");
        const char c = text_[pos_];
        if (c == '"') {
          if (pos_ + 1 < text_.size() && text_[pos_ + 1] == '"') {
            cell.text += '"';
            pos_ += 2;
            continue;
          }
          ++pos_;
          break;
        }
        if (c == '\n') ++line_;
        cell.text += c;
        ++pos_;
      }
      if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\r' && text_[pos_] != '\n') {
        Malformed(line_, "text after the closing quote of a cell");
      }
      return cell;
    }
    const std::size_t end = text_.find_first_of(",\r\n\"", pos_);
    const std::size_t stop = end == std::string_view::npos ? text_.size() : end;
    if (stop < text_.size() && text_[stop] == '"') {
      Malformed(line_, "a quote inside an unquoted cell (quote the whole cell and double the quote)");
    }
    cell.text.assign(text_.substr(pos_, stop - pos_));
    pos_ = stop;
    return cell;
  }

  void EndLine() {
    if (text_[pos_] == '\r') {
      if (pos_ + 1 >= text_.size() || text_[pos_ + 1] != '\n') {
        Malformed(line_, "a carriage return not followed by a line feed");
      }
      ++pos_;
    }
    ++pos_;  // the line feed
    ++line_;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

std::string Trimmed(std::string_view text) {
  // Line breaks too: a quoted cell of only white space is as empty as an unquoted one.
  constexpr std::string_view kSpace = " \t\r\n";
  const std::size_t first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const std::size_t last = text.find_last_not_of(kSpace);
  return std::string(text.substr(first, last - first + 1));
}

bool IsBlank(const Record& record) {
  return std::all_of(record.cells.begin(), record.cells.end(), [](const Cell& c) { return Trimmed(c.text).empty(); });
}

// Column name -> index into the three lists (0 accession, 1 patient, 2 study UID); nullopt when unknown.
std::optional<int> ColumnOf(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
  if (name.ends_with('s')) name.pop_back();
  if (name == "accession_number") return 0;
  if (name == "patient_id") return 1;
  if (name == "study_instance_uid") return 2;
  return std::nullopt;
}

constexpr int kUnnamed = -1;

std::vector<int> ParseHeader(const Record& header) {
  std::vector<int> columns;
  std::array<bool, 3> seen{};
  for (const Cell& cell : header.cells) {
    const std::string name = Trimmed(cell.text);
    if (name.empty()) {
      columns.push_back(kUnnamed);
      continue;
    }
    const std::optional<int> column = ColumnOf(name);
    if (!column) {
      Malformed(header.line, "unknown column '" + Shown(name) +
                                 "' (expected accession_numbers, patient_ids or study_instance_uids)");
    }
    if (seen[static_cast<std::size_t>(*column)]) Malformed(header.line, "column '" + Shown(name) + "' given twice");
    seen[static_cast<std::size_t>(*column)] = true;
    columns.push_back(*column);
  }
  if (std::none_of(seen.begin(), seen.end(), [](bool s) { return s; })) {
    Malformed(header.line, "the header names no column (expected accession_numbers, patient_ids or "
                           "study_instance_uids)");
  }
  return columns;
}

bool HasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7F;
  });
}

}  // namespace

JobCsvIdentifiers ParseJobCsv(std::string_view csv) {
  if (csv.starts_with("\xEF\xBB\xBF")) csv.remove_prefix(3);
  if (const auto bad = FirstInvalidUtf8(csv)) Malformed(LineAt(csv, *bad), "invalid UTF-8");
  Reader reader(csv);
  Record record;
  std::optional<std::vector<int>> columns;
  JobCsvIdentifiers out;
  std::array<std::vector<std::string>*, 3> lists = {&out.accession_numbers, &out.patient_ids,
                                                    &out.study_instance_uids};
  std::size_t count = 0;
  while (reader.Next(record)) {
    if (IsBlank(record)) continue;
    if (!columns) {
      columns = ParseHeader(record);
      continue;
    }
    if (record.cells.size() > columns->size()) {
      Malformed(record.line, "the row has " + std::to_string(record.cells.size()) + " cells, the header " +
                                 std::to_string(columns->size()));
    }
    for (std::size_t i = 0; i < record.cells.size(); ++i) {
      std::string value = Trimmed(record.cells[i].text);
      if (value.empty()) continue;
      if ((*columns)[i] == kUnnamed) Malformed(record.line, "a value in column " + std::to_string(i + 1) +
                                                                ", which the header does not name");
      if (HasControl(value)) Malformed(record.line, "a control character in an identifier");
      if (++count > kMaxJobCsvIdentifiers) {
        throw Error(Errc::kPayloadTooLarge,
                    "more than " + std::to_string(kMaxJobCsvIdentifiers) + " identifiers in the CSV body",
                    boost::json::object{{"line", record.line}, {"limit", kMaxJobCsvIdentifiers}});
      }
      lists[static_cast<std::size_t>((*columns)[i])]->push_back(std::move(value));
    }
  }
  if (!columns) Malformed(1, "no header row (expected accession_numbers, patient_ids or study_instance_uids)");
  return out;
}

}  // namespace meta_db::db_api
