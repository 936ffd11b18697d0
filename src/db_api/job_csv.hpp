// The CSV form of a job's identifier lists (POST /jobs with a text/csv body): a pure parser, no I/O.
// Thread-safety: a pure function. Errors: Error(kBadRequest, details {"line": N}) for malformed CSV,
// Error(kPayloadTooLarge) past kMaxJobCsvIdentifiers.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db::db_api {

inline constexpr std::size_t kMaxJobCsvIdentifiers = 100000;

struct JobCsvIdentifiers {
  std::vector<std::string> accession_numbers;
  std::vector<std::string> patient_ids;
  std::vector<std::string> study_instance_uids;
};

// RFC 4180 text with a header row naming the columns: accession_number(s), patient_id(s), study_instance_uid(s)
// (case-insensitive, any subset, any order). Accepted beyond the RFC: a UTF-8 byte order mark, LF as well as CRLF
// line ends, blank lines, rows shorter than the header, and unnamed columns whose cells are all empty (the trailing
// commas spreadsheets write). Cells are trimmed of white space (a quoted line break too); empty cells are ignored; identifiers keep
// their order of appearance. Rejected (kBadRequest naming the line): an unknown or repeated column, a row longer
// than the header, a quote inside an unquoted cell, text after a closing quote, an unterminated quote, invalid
// UTF-8, control characters in an identifier, no header, or no known column.
JobCsvIdentifiers ParseJobCsv(std::string_view csv);

}  // namespace meta_db::db_api
