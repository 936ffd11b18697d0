// The CSV job-list parser: RFC 4180 quoting, the header's column names, and the errors that name a line.
#include "db_api/job_csv.hpp"

#include "common/error.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace meta_db::db_api {
namespace {

using Strings = std::vector<std::string>;

// The error a body raises (fails the test if it parses).
Error ErrorOf(std::string_view csv) {
  try {
    ParseJobCsv(csv);
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "parsed: " << csv;
  return Error(Errc::kInternal, "parsed");
}

std::int64_t LineOf(const Error& error) { return error.details().at("line").to_number<std::int64_t>(); }

TEST(JobCsv, PluralAndSingularColumnsInAnyOrderAndCase) {
  const JobCsvIdentifiers plural = ParseJobCsv("accession_numbers,patient_ids,study_instance_uids\nA1,P1,1.2.3\n");
  EXPECT_EQ(plural.accession_numbers, Strings{"A1"});
  EXPECT_EQ(plural.patient_ids, Strings{"P1"});
  EXPECT_EQ(plural.study_instance_uids, Strings{"1.2.3"});
  const JobCsvIdentifiers singular = ParseJobCsv("Patient_ID, accession_number\nP1,A1\nP2,A2");
  EXPECT_EQ(singular.patient_ids, (Strings{"P1", "P2"}));
  EXPECT_EQ(singular.accession_numbers, (Strings{"A1", "A2"}));
  EXPECT_TRUE(singular.study_instance_uids.empty());
}

TEST(JobCsv, QuotedCellsPerRfc4180) {
  const JobCsvIdentifiers ids =
      ParseJobCsv("\"patient_ids\",accession_numbers\r\n\"LIDC,0001\",\"A\"\"1\"\r\n\"\",A2\r\n");
  EXPECT_EQ(ids.patient_ids, Strings{"LIDC,0001"});
  EXPECT_EQ(ids.accession_numbers, (Strings{"A\"1", "A2"}));
}

TEST(JobCsv, BomCrlfBlankLinesEmptyCellsAndShortRowsAreAccepted) {
  const JobCsvIdentifiers ids =
      ParseJobCsv("\xEF\xBB\xBF" "accession_numbers,patient_ids,\r\n\r\nA1,,\r\n,P2\r\n  A3 \r\n,,\r\n");
  EXPECT_EQ(ids.accession_numbers, (Strings{"A1", "A3"}));
  EXPECT_EQ(ids.patient_ids, Strings{"P2"});
}

TEST(JobCsv, HeaderIsRequired) {
  EXPECT_EQ(ErrorOf("").code(), Errc::kBadRequest);
  EXPECT_EQ(ErrorOf("\n\n").code(), Errc::kBadRequest);
  const Error unknown = ErrorOf("LIDC-IDRI-0001\nLIDC-IDRI-0002\n");
  EXPECT_EQ(unknown.code(), Errc::kBadRequest);
  EXPECT_EQ(LineOf(unknown), 1);
  EXPECT_NE(std::string(unknown.what()).find("unknown column 'LIDC-IDRI-0001'"), std::string::npos) << unknown.what();
  EXPECT_EQ(LineOf(ErrorOf(",,\n")), 1);  // no named column
}

TEST(JobCsv, RepeatedColumnIsRejected) {
  // The singular and plural spellings are one column.
  EXPECT_EQ(LineOf(ErrorOf("\npatient_id,patient_ids\nP1,P2\n")), 2);
}

TEST(JobCsv, MalformedRowsNameTheirLine) {
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\nP1\nP2,P3\n")), 3);           // longer than the header
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\nP1\nP\"2\n")), 3);            // quote inside an unquoted cell
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\n\"P1\"x\n")), 2);             // text after the closing quote
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\nP1\n\"P2\nP3\n")), 3);        // unterminated: where the cell opened
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\rP1\r")), 1);                  // a bare CR is no line end
  EXPECT_EQ(LineOf(ErrorOf("patient_ids,\nP1,X\n")), 2);               // value under an unnamed column
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\n\"a\nb\"\nP9\n")), 2);        // an identifier with a line break
}

TEST(JobCsv, QuotedCellsSpanningLinesKeepLaterLineNumbersRight) {
  // The second row's quoted cell ends on line 3 (its trailing line break is trimmed), so the third row is line 4.
  EXPECT_EQ(LineOf(ErrorOf("patient_ids,accession_numbers\n\"P1\",\"A\n\"\n\"x\"y\n")), 4);
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\nP1\nP2,\"x\ny\"\n")), 3);
  EXPECT_EQ(LineOf(ErrorOf("patient_ids,accession_numbers\n\"P1\",\"  \n \"\nP\"2\n")), 4);
}

TEST(JobCsv, InvalidUtf8AndControlCharactersAreRejected) {
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\nP1\n\xC3\x28\n")), 3);
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\n\xED\xA0\x80\n")), 2);     // a UTF-16 surrogate
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\n\xE0\x80\xAF\n")), 2);     // overlong
  EXPECT_EQ(LineOf(ErrorOf("patient_ids\nP1\xF0\x9F\n")), 2);       // truncated sequence
  EXPECT_EQ(LineOf(ErrorOf(std::string("patient_ids\nP\0" "1\n", 16))), 2);
  EXPECT_EQ(ParseJobCsv("patient_ids\nJos\xC3\xA9\n").patient_ids, Strings{"Jos\xC3\xA9"});
}

TEST(JobCsv, MoreThanTheLimitOfIdentifiersIsTooLarge) {
  std::string csv = "patient_ids,accession_numbers\n";
  for (std::size_t i = 0; i < kMaxJobCsvIdentifiers / 2; ++i) csv += "P" + std::to_string(i) + ",A\n";
  EXPECT_EQ(ParseJobCsv(csv).patient_ids.size(), kMaxJobCsvIdentifiers / 2);  // exactly the limit
  csv += "P,\n";
  const Error error = ErrorOf(csv);
  EXPECT_EQ(error.code(), Errc::kPayloadTooLarge);
  EXPECT_EQ(HttpStatus(error.code()), 413);
}

}  // namespace
}  // namespace meta_db::db_api
