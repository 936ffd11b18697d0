// `meta_db extract`: JSON lines for DICOM and failed files only, a one-line summary, exit 2 on bad input.
#include "driver/extract_command.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <sstream>

#include "synth/synth.hpp"
#include "test_support.hpp"

namespace meta_db::driver {
namespace {

namespace json = boost::json;

TEST(ExtractCommand, OneLinePerDicomOrFailedFileAndASummary) {
  test::TempDir dir;
  const json::object manifest =
      synth::WriteSynthArchive({.patients = 2, .out = dir.path().string(), .small = true, .seed = 9});
  std::ostringstream out, err;
  ASSERT_EQ(RunExtract(dir.path().string(), "", 2, out, err), 0) << err.str();
  std::istringstream lines(out.str());
  std::string line;
  std::int64_t dicom = 0, failed = 0;
  while (std::getline(lines, line)) {
    const json::object o = json::parse(line).as_object();
    ASSERT_TRUE(o.contains("path"));
    EXPECT_FALSE(o.at("path").as_string().ends_with(".xml"));
    if (o.contains("error")) {
      ++failed;
    } else {
      ++dicom;
      EXPECT_TRUE(o.at("study").as_object().contains("study_instance_uid"));
      EXPECT_TRUE(o.at("series").as_object().contains("metadata"));
      EXPECT_TRUE(o.at("instance").as_object().contains("sop_instance_uid"));
    }
  }
  EXPECT_EQ(dicom, manifest.at("instances").to_number<std::int64_t>());
  EXPECT_EQ(failed, 3);
  const std::string summary = err.str();
  EXPECT_EQ(std::count(summary.begin(), summary.end(), '\n'), 1) << summary;
  EXPECT_NE(summary.find(std::to_string(manifest.at("files_total").to_number<std::int64_t>()) + " files seen"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("files/s"), std::string::npos);
}

TEST(ExtractCommand, BadRootOrProfileExitsTwoWithOneLine) {
  test::TempDir dir;
  std::ostringstream out, err;
  EXPECT_EQ(RunExtract((dir.path() / "missing").string(), "", 1, out, err), 2);
  const std::string reason = err.str();
  EXPECT_EQ(std::count(reason.begin(), reason.end(), '\n'), 1) << reason;
  EXPECT_TRUE(out.str().empty());
  test::WriteAll(dir.path() / "profiles" / "study.txt", "NotAKeyword\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(RunExtract(dir.path().string(), (dir.path() / "profiles").string(), 1, out2, err2), 2);
  EXPECT_NE(err2.str().find("study.txt:1: unknown DICOM keyword 'NotAKeyword'"), std::string::npos) << err2.str();
}

}  // namespace
}  // namespace meta_db::driver
