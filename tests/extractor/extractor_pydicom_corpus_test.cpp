// Every file of Debian's pydicom test data: extracted with the values pydicom reads, or reported with a reason.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "meta_extractor/archive_walk.hpp"
#include "meta_extractor/extractor.hpp"
#include "test_support.hpp"

namespace meta_db::extractor {
namespace {

namespace json = boost::json;

struct PipeCloser {
  void operator()(FILE* f) const noexcept { ::pclose(f); }
};

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// pydicom's reading of each file, from tests/extractor/pydicom_reference.py run with Debian's python3.
json::object PydicomReference(const std::vector<std::string>& paths) {
  std::string command = std::string(META_DB_PYTHON) + " " + ShellQuote(META_DB_PYDICOM_REFERENCE);
  for (const std::string& p : paths) command += " " + ShellQuote(p);
  std::unique_ptr<FILE, PipeCloser> pipe(::popen(command.c_str(), "r"));
  if (!pipe) return {};
  std::string text;
  char buffer[65536];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) text.append(buffer, n);
  return json::parse(text).as_object();
}

std::vector<std::string> CorpusFiles() {
  std::vector<std::string> files;
  for (const char* sub : {"test_files", "charset_files"}) {
    const std::filesystem::path dir = std::filesystem::path(META_DB_PYDICOM_DATA) / sub;
    if (!std::filesystem::is_directory(dir)) continue;
    WalkArchive(dir.string(), [&](WalkEntry&& e) { files.push_back(std::move(e.path)); });
  }
  return files;
}

// Where our value for a pydicom keyword lives: a promoted field or a metadata entry of one level.
struct Location {
  const char* level;
  const char* field;
  bool promoted;
};
const std::map<std::string, Location> kLocations = {
    {"SOPInstanceUID", {"instance", "sop_instance_uid", true}},
    {"StudyInstanceUID", {"study", "study_instance_uid", true}},
    {"SeriesInstanceUID", {"series", "series_instance_uid", true}},
    {"PatientID", {"study", "patient_id", true}},
    {"Modality", {"series", "modality", true}},
    {"StudyDate", {"study", "study_date", true}},
    {"InstanceNumber", {"instance", "instance_number", true}},
    {"SliceThickness", {"series", "SliceThickness", false}},
    {"Rows", {"series", "Rows", false}},
    {"PatientName", {"study", "PatientName", false}},
};

bool SameValue(const json::value& ours, const json::value& theirs) {
  if (ours.is_number() && theirs.is_number()) {
    return std::fabs(ours.to_number<double>() - theirs.to_number<double>()) < 1e-9;
  }
  if (ours.is_array() && theirs.is_array()) {
    const json::array &a = ours.as_array(), &b = theirs.as_array();
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!SameValue(a[i], b[i])) return false;
    }
    return true;
  }
  return ours == theirs;
}

// Compares one file's extraction with pydicom's; returns a description of every difference.
std::vector<std::string> Differences(const ExtractResult& result, const json::object& reference) {
  std::vector<std::string> diffs;
  const json::object doc{
      {"study", result.record.study}, {"series", result.record.series}, {"instance", result.record.instance}};
  for (const auto& [keyword, where] : kLocations) {
    const json::object& level = doc.at(where.level).as_object();
    const json::value* ours =
        where.promoted ? level.if_contains(where.field) : level.at("metadata").as_object().if_contains(where.field);
    const json::value* theirs = reference.if_contains(keyword);
    if (theirs == nullptr || (theirs->is_null() && where.promoted)) {
      if (ours != nullptr) diffs.push_back(keyword + ": pydicom has none, we have " + json::serialize(*ours));
      continue;
    }
    // A promoted field takes the first value only (e.g. a multi-valued InstanceNumber in a broken file).
    const json::value expected =
        (where.promoted && theirs->is_array() && !theirs->as_array().empty()) ? theirs->as_array().front() : *theirs;
    if (ours == nullptr || !SameValue(*ours, expected)) {
      diffs.push_back(keyword + ": pydicom " + json::serialize(expected) + ", we " +
                      (ours ? json::serialize(*ours) : std::string("<missing>")));
    }
  }
  return diffs;
}

TEST(PydicomCorpus, EveryFileMatchesPydicomOrIsReportedWithAReason) {
  const std::vector<std::string> files = CorpusFiles();
  if (files.empty()) GTEST_SKIP() << "python3-pydicom test data not installed";
  const json::object reference = PydicomReference(files);
  ASSERT_EQ(reference.size(), files.size()) << "pydicom_reference.py failed";
  const Extractor extractor(ProfileSet::Defaults());
  std::set<std::string> extracted;
  for (const std::string& path : files) {
    SCOPED_TRACE(path);
    const ExtractResult result = extractor.ExtractFile(path);
    const json::object& theirs = reference.at(path).as_object();
    switch (result.outcome) {
      case FileOutcome::kDicom:
      case FileOutcome::kIncomplete:
        if (theirs.contains("__error__")) break;  // pydicom cannot read it; we do - nothing to compare
        for (const std::string& diff : Differences(result, theirs)) ADD_FAILURE() << diff;
        if (result.outcome == FileOutcome::kDicom)
          extracted.insert(std::filesystem::path(path).filename());
        else
          EXPECT_FALSE(result.error.empty());
        break;
      case FileOutcome::kError:
        EXPECT_FALSE(result.error.empty());
        break;
      case FileOutcome::kNotDicom:
        break;
    }
  }
  // Files every DICOM reader must handle: meta header or not, explicit/implicit, little/big endian, charsets.
  for (const char* name : {"CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
                           "ExplVR_LitEndNoMeta.dcm", "ExplVR_BigEndNoMeta.dcm", "rtplan.dcm", "JPEG2000.dcm",
                           "chrRuss.dcm", "chrX1.dcm", "chrH31.dcm", "chrGreek.dcm"}) {
    EXPECT_TRUE(extracted.count(name)) << name << " was not extracted";
  }
}

// Files pydicom reads with some attribute that meta_db does not, each with the reason (docs/ingest.md lists them).
const std::map<std::string, std::string> kNotReadWithReason = {
    // It ends inside an element; pydicom returns the elements before the cut, meta_db registers a truncated file.
    {"rtplan_truncated.dcm", "truncated"},
};

TEST(PydicomCorpus, EveryFilePydicomReadsIsRead) {
  const std::vector<std::string> files = CorpusFiles();
  if (files.empty()) GTEST_SKIP() << "python3-pydicom test data not installed";
  const json::object reference = PydicomReference(files);
  ASSERT_EQ(reference.size(), files.size()) << "pydicom_reference.py failed";
  int read_by_pydicom = 0;
  for (const bool fast_path : {true, false}) {
    const Extractor extractor(ProfileSet::Defaults(), ExtractorOptions{.fast_path = fast_path});
    for (const std::string& path : files) {
      const json::object& theirs = reference.at(path).as_object();
      // pydicom "reads" anything with force=True; what counts is that it found attributes (no_meta.dcm: none).
      if (theirs.contains("__error__") || theirs.empty()) continue;
      read_by_pydicom += fast_path ? 1 : 0;
      SCOPED_TRACE(path + (fast_path ? " (fast path)" : " (DCMTK)"));
      const ExtractResult result = extractor.ExtractFile(path);
      const auto exception = kNotReadWithReason.find(std::filesystem::path(path).filename());
      if (exception != kNotReadWithReason.end()) {
        EXPECT_EQ(result.outcome, FileOutcome::kError);
        EXPECT_NE(result.error.find(exception->second), std::string::npos) << result.error;
        continue;
      }
      // Read: an instance, or (a DICOMDIR, a dataset without UIDs) incomplete exactly when pydicom finds no SOP
      // Instance UID either.
      const json::value* sop = theirs.if_contains("SOPInstanceUID");
      const bool identified = sop != nullptr && !sop->is_null();
      EXPECT_EQ(result.outcome, identified ? FileOutcome::kDicom : FileOutcome::kIncomplete) << result.error;
    }
  }
  EXPECT_GT(read_by_pydicom, 150);
}

// SC_rgb_jpeg.dcm's meta header says JPEG Baseline (explicit VR little endian), its dataset is implicit VR: read
// as pydicom reads it, on both paths, with a note in the instance document saying so.
TEST(PydicomCorpus, DatasetEncodedOtherThanDeclaredIsReadAndNoted) {
  const std::string path = std::string(META_DB_PYDICOM_DATA) + "/test_files/SC_rgb_jpeg.dcm";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "python3-pydicom test data not installed";
  const json::object theirs = PydicomReference({path}).at(path).as_object();
  for (const bool fast_path : {true, false}) {
    SCOPED_TRACE(fast_path ? "fast path" : "DCMTK");
    const ExtractResult result =
        Extractor(ProfileSet::Defaults(), ExtractorOptions{.fast_path = fast_path}).ExtractFile(path);
    ASSERT_EQ(result.outcome, FileOutcome::kDicom) << result.error;
    for (const std::string& diff : Differences(result, theirs)) ADD_FAILURE() << diff;
    const json::value* notes = result.record.instance.if_contains("read_notes");
    ASSERT_TRUE(notes != nullptr && notes->is_array() && notes->as_array().size() == 1);
    EXPECT_EQ(notes->as_array()[0],
              "transfer syntax 1.2.840.10008.1.2.4.50 (JPEG Baseline) says explicit VR little endian, but the dataset "
              "is encoded implicit VR little endian: read as implicit VR little endian");
  }
  // A file that says what it is gets no note.
  const ExtractResult plain = Extractor(ProfileSet::Defaults())
                                  .ExtractFile(std::string(META_DB_PYDICOM_DATA) + "/test_files/CT_small.dcm");
  EXPECT_FALSE(plain.record.instance.contains("read_notes"));
}

// The ingest says so too: its summary counts and lists the files read with a note (the error register is for files
// that could not be read; this one was).
TEST(PydicomCorpus, IngestSummaryListsFilesReadWithANote) {
  const std::string source = std::string(META_DB_PYDICOM_DATA) + "/test_files/SC_rgb_jpeg.dcm";
  if (!std::filesystem::exists(source)) GTEST_SKIP() << "python3-pydicom test data not installed";
  const test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "archive");
  std::filesystem::copy_file(source, dir.path() / "archive" / "SC_rgb_jpeg.dcm");
  std::filesystem::copy_file(std::string(META_DB_PYDICOM_DATA) + "/test_files/CT_small.dcm",
                             dir.path() / "archive" / "CT_small.dcm");
  const std::string command = ShellQuote(META_DB_BIN) + " ingest --quiet --db " +
                              ShellQuote("sqlite:" + (dir.path() / "c.sqlite").string()) + " " +
                              ShellQuote((dir.path() / "archive").string()) + " 2>/dev/null";
  std::unique_ptr<FILE, PipeCloser> pipe(::popen(command.c_str(), "r"));
  ASSERT_TRUE(pipe);
  std::string out;
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe.get())) out.append(buffer, n);
  const json::object summary = json::parse(out.substr(0, out.find('\n'))).as_object();
  EXPECT_EQ(summary.at("instances").at("inserted"), 2) << out;
  EXPECT_EQ(summary.at("failed"), 0) << out;
  EXPECT_EQ(summary.at("noted"), 1) << out;
  const json::array& notes = summary.at("notes").as_array();
  ASSERT_EQ(notes.size(), 1u) << out;
  EXPECT_NE(json::serialize(notes[0]).find("SC_rgb_jpeg.dcm"), std::string::npos) << out;
  EXPECT_NE(json::serialize(notes[0]).find("read as implicit VR"), std::string::npos) << out;
}

TEST(PydicomCorpus, TruncatedFilesAreReportedNotIndexed) {
  const std::filesystem::path dir = std::filesystem::path(META_DB_PYDICOM_DATA) / "test_files";
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << "python3-pydicom test data not installed";
  const Extractor extractor(ProfileSet::Defaults());
  // rtplan_truncated.dcm ends inside an element of its header (pydicom silently returns a partial dataset).
  const ExtractResult result = extractor.ExtractFile((dir / "rtplan_truncated.dcm").string());
  EXPECT_EQ(result.outcome, FileOutcome::kError);
  EXPECT_NE(result.error.find("truncated"), std::string::npos) << result.error;
}

}  // namespace
}  // namespace meta_db::extractor
