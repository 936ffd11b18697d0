// Fuzz target: the CSV job-list parser. Properties: only 400 (naming a line) or 413 errors; what it returns are
// non-empty, trimmed identifiers without control characters, at most the limit in number.
#include "fuzz_support.hpp"

#include "db_api/job_csv.hpp"

#include <algorithm>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using meta_db::fuzz::Broken;
  meta_db::db_api::JobCsvIdentifiers ids;
  try {
    ids = meta_db::db_api::ParseJobCsv(meta_db::fuzz::Bytes(data, size));
  } catch (const meta_db::Error& error) {
    if (error.code() == meta_db::Errc::kBadRequest && !error.details().as_object().contains("line")) {
      Broken("a 400 without the line");
    }
    if (error.code() != meta_db::Errc::kBadRequest && error.code() != meta_db::Errc::kPayloadTooLarge) {
      Broken("an error other than 400/413");
    }
    return 0;
  }
  std::size_t count = 0;
  for (const auto* list : {&ids.accession_numbers, &ids.patient_ids, &ids.study_instance_uids}) {
    for (const std::string& id : *list) {
      ++count;
      if (id.empty() || id.front() == ' ' || id.back() == ' ') Broken("an empty or untrimmed identifier");
      if (std::any_of(id.begin(), id.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; })) {
        Broken("a control character in an identifier");
      }
    }
  }
  if (count > meta_db::db_api::kMaxJobCsvIdentifiers) Broken("more identifiers than the limit");
  return 0;
}
