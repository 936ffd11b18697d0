// Robustness: truncated prefixes of real files at many lengths, mutated headers and random garbage must never
// crash (run under ASan/UBSan) and header truncation must be reported, not indexed as a whole file.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "meta_extractor/extractor.hpp"
#include "test_support.hpp"

namespace meta_db::extractor {
namespace {

namespace fs = std::filesystem;

// Writes `bytes` to a fresh file and extracts it. A fresh name each time: rewriting one file in place makes
// ext4 flush it on close (auto_da_alloc), which turns thousands of cases into minutes of disk waits.
ExtractResult ExtractBytes(const Extractor& extractor, const fs::path& dir, const std::string& bytes) {
  const fs::path path =
      dir / ("case_" + std::to_string(bytes.size()) + "_" + std::to_string(std::hash<std::string>{}(bytes)) + ".dcm");
  test::WriteAll(path, bytes);
  ExtractResult result = extractor.ExtractFile(path.string());
  fs::remove(path);
  return result;
}

// Offset where Pixel Data (7FE0,0010) starts, i.e. where the header ends; the file size if there is none.
std::size_t HeaderEnd(const std::string& bytes) {
  for (const std::string& tag : {std::string("\xE0\x7F\x10\x00", 4), std::string("\x7F\xE0\x00\x10", 4)}) {
    const std::size_t at = bytes.find(tag, 132);
    if (at != std::string::npos) return at;
  }
  return bytes.size();
}

std::vector<fs::path> Samples() {
  std::vector<fs::path> out;
  const fs::path data(META_DB_PYDICOM_DATA);
  for (const char* name : {"test_files/CT_small.dcm", "test_files/MR_small_implicit.dcm", "test_files/rtplan.dcm",
                           "test_files/ExplVR_BigEndNoMeta.dcm", "test_files/ExplVR_LitEndNoMeta.dcm",
                           "test_files/nested_priv_SQ.dcm", "charset_files/chrH31.dcm"}) {
    if (fs::exists(data / name)) out.push_back(data / name);
  }
  return out;
}

TEST(Fuzz, TruncatedPrefixesNeverCrashAndHeaderCutsAreReported) {
  const std::vector<fs::path> samples = Samples();
  if (samples.empty()) GTEST_SKIP() << "python3-pydicom test data not installed";
  test::TempDir dir;
  const Extractor extractor(ProfileSet::Defaults());
  for (const fs::path& sample : samples) {
    const std::string bytes = test::ReadAll(sample);
    const std::size_t header_end = HeaderEnd(bytes);
    int inside_header = 0, reported = 0;
    for (std::size_t length = 0; length < bytes.size(); length += (length < header_end + 64 ? 1 : 97)) {
      const ExtractResult r = ExtractBytes(extractor, dir.path(), bytes.substr(0, length));  // must never crash
      if (length < header_end) {
        ++inside_header;
        if (r.outcome == FileOutcome::kError) {
          ++reported;
        } else {
          EXPECT_NE(r.outcome, FileOutcome::kNotDicom) << sample << " cut at " << length;
        }
      }
    }
    // Cuts that land exactly between two elements are indistinguishable from a shorter valid file; every other
    // cut must be an error (there are a few dozen boundaries in a header of a few thousand bytes).
    EXPECT_GT(reported, inside_header * 9 / 10) << sample << ": " << reported << " of " << inside_header;
  }
}

TEST(Fuzz, MutatedHeadersAndGarbageNeverCrash) {
  const std::vector<fs::path> samples = Samples();
  test::TempDir dir;
  const Extractor extractor(ProfileSet::Defaults());
  std::mt19937_64 rng(20240601);
  for (const fs::path& sample : samples) {
    const std::string original = test::ReadAll(sample);
    const std::size_t header_end = std::min(HeaderEnd(original), original.size());
    for (int round = 0; round < 300; ++round) {
      std::string bytes = original.substr(0, std::min(original.size(), header_end + 256));
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int f = 0; f < flips; ++f) {
        bytes[rng() % header_end] = static_cast<char>(rng() & 0xFF);
      }
      const ExtractResult r = ExtractBytes(extractor, dir.path(), bytes);
      if (r.outcome == FileOutcome::kError) {
        EXPECT_FALSE(r.error.empty());
      }
    }
  }
  for (int round = 0; round < 500; ++round) {
    std::string bytes(rng() % 4096, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
    if (round % 3 == 1 && bytes.size() > 132) bytes.replace(128, 4, "DICM");  // a preamble, then noise
    if (round % 3 == 2 && bytes.size() > 8)
      bytes.replace(0, 6,
                    "\x08\x00\x05\x00"
                    "CS",
                    6);  // a plausible start
    const ExtractResult r = ExtractBytes(extractor, dir.path(), bytes);
    EXPECT_TRUE(r.outcome != FileOutcome::kError || !r.error.empty());
  }
}

// A corrupt length field must not become an allocation: DCMTK loads values from memory streams eagerly, so a
// 6 KiB file once made it allocate (and zero) 4 GiB. Now the value is skipped and the file is reported.
TEST(Fuzz, LengthClaimingGigabytesIsReportedNotAllocated) {
  test::TempDir dir;
  const Extractor extractor(ProfileSet::Defaults());
  // Implicit VR little endian (PS3.5 7.1.3): tag, 4-byte length, value.
  std::string bytes(
      "\x08\x00\x18\x00\x06\x00\x00\x00"
      "1.2.3\0",
      14);
  bytes += std::string("\x10\x00\x10\x00\xF0\xFF\xFF\x7F", 8);  // PatientName, length 0x7FFFFFF0
  bytes += std::string(64, 'A');
  const ExtractResult r = ExtractBytes(extractor, dir.path(), bytes);
  EXPECT_EQ(r.outcome, FileOutcome::kError) << r.error;
}

}  // namespace
}  // namespace meta_db::extractor
