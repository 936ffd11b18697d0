// Synth archives scanned with ScanArchive give exactly the manifest's counts; synth is deterministic; the scan
// pipeline honours needs_parse, stops on a sink exception and reports a bad root.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "common/error.hpp"
#include "meta_extractor/archive_scan.hpp"
#include "meta_extractor/extractor.hpp"
#include "synth/synth.hpp"
#include "test_support.hpp"

namespace meta_db::extractor {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::int64_t Count(const json::object& o, const char* key) { return o.at(key).to_number<std::int64_t>(); }

TEST(SynthScan, SmallArchiveHasExactlyTheManifestCounts) {
  test::TempDir dir;
  const json::object manifest =
      synth::WriteSynthArchive({.patients = 12, .out = dir.path().string(), .small = true, .seed = 7});
  EXPECT_EQ(json::parse(test::ReadAll(dir.path() / "manifest.json")).as_object(), manifest);
  const Extractor extractor(ProfileSet::Defaults());
  std::set<std::string> patients, studies, series, instances;
  std::map<std::string, std::int64_t> modalities;
  std::int64_t xml = 0, small_rows = 0;
  std::map<std::string, std::int64_t> broken;
  const ScanStats stats =
      ScanArchive(dir.path().string(), extractor,
                  {.threads = 2, .io_depth = 0, .needs_parse = nullptr, .prepare = nullptr}, [&](ScanItem&& item) {
                    const std::string name = fs::path(item.entry.path).filename().string();
                    const ExtractResult& r = item.result;
                    if (name.ends_with(".xml")) ++xml;
                    if (r.outcome == FileOutcome::kError) ++broken[name];
                    if (r.outcome != FileOutcome::kDicom) return;
                    patients.insert(std::string(r.record.study.at("patient_id").as_string()));
                    studies.insert(std::string(r.record.study.at("study_instance_uid").as_string()));
                    if (series.insert(std::string(r.record.series.at("series_instance_uid").as_string())).second) {
                      ++modalities[std::string(r.record.series.at("modality").as_string())];
                    }
                    instances.insert(std::string(r.record.instance.at("sop_instance_uid").as_string()));
                    if (r.record.series.at("metadata").at("Rows") == 16) ++small_rows;
                  });
  EXPECT_EQ(stats.files, Count(manifest, "files_total"));
  EXPECT_EQ(stats.parsed, stats.files);
  EXPECT_EQ(stats.dicom, Count(manifest, "instances"));
  EXPECT_EQ(stats.dicom, Count(manifest, "dicom_files"));
  EXPECT_EQ(stats.not_dicom, Count(manifest, "non_dicom_files") + 1);  // + manifest.json itself
  EXPECT_EQ(xml, Count(manifest, "non_dicom_files"));
  const json::object& b = manifest.at("broken_files").as_object();
  EXPECT_EQ(stats.errors, Count(b, "zero_bytes") + Count(b, "garbage") + Count(b, "truncated"));
  EXPECT_EQ(broken["999997.dcm"], Count(b, "zero_bytes"));
  EXPECT_EQ(broken["999998.dcm"], Count(b, "garbage"));
  EXPECT_EQ(broken["999999.dcm"], Count(b, "truncated"));
  EXPECT_EQ(Count(b, "truncated"), 2);  // patients 1 and 11
  EXPECT_EQ(stats.incomplete, 0);
  EXPECT_EQ(static_cast<std::int64_t>(patients.size()), Count(manifest, "patients"));
  EXPECT_EQ(static_cast<std::int64_t>(studies.size()), Count(manifest, "studies"));
  EXPECT_EQ(static_cast<std::int64_t>(series.size()), Count(manifest, "series"));
  EXPECT_EQ(static_cast<std::int64_t>(instances.size()), Count(manifest, "instances"));
  EXPECT_EQ(small_rows, stats.dicom);
  const json::object& m = manifest.at("modalities").as_object();
  for (const char* modality : {"CT", "CR", "DX"}) EXPECT_EQ(modalities[modality], Count(m, modality)) << modality;
  EXPECT_EQ(Count(m, "CT"), 12);
}

std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) files[e.path().lexically_relative(root).string()] = test::ReadAll(e.path());
  }
  return files;
}

TEST(SynthScan, SameSeedSameBytesOtherSeedOtherUids) {
  test::TempDir a, b, c;
  synth::WriteSynthArchive({.patients = 2, .out = a.path().string(), .small = true, .seed = 5});
  synth::WriteSynthArchive({.patients = 2, .out = b.path().string(), .small = true, .seed = 5});
  synth::WriteSynthArchive({.patients = 2, .out = c.path().string(), .small = true, .seed = 6});
  const auto sa = Snapshot(a.path()), sb = Snapshot(b.path()), sc = Snapshot(c.path());
  EXPECT_GT(sa.size(), 160u);
  EXPECT_TRUE(sa == sb);
  std::set<std::string> dirs_a, dirs_c;
  for (const auto& [p, _] : sa) dirs_a.insert(fs::path(p).parent_path().string());
  for (const auto& [p, _] : sc) dirs_c.insert(fs::path(p).parent_path().string());
  std::vector<std::string> common;
  std::set_intersection(dirs_a.begin(), dirs_a.end(), dirs_c.begin(), dirs_c.end(), std::back_inserter(common));
  EXPECT_EQ(common, std::vector<std::string>{""});  // only the root: every UID directory differs
}

TEST(SynthScan, RejectsBadOptions) {
  EXPECT_THROW(synth::WriteSynthArchive({.patients = 0, .out = "/tmp/x", .small = true, .seed = 1}), Error);
  EXPECT_THROW(synth::WriteSynthArchive({.patients = 1, .out = "", .small = true, .seed = 1}), Error);
}

class ScanPipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    synth::WriteSynthArchive({.patients = 1, .out = dir_.path().string(), .small = true, .seed = 3});
  }
  test::TempDir dir_;
  Extractor extractor_{ProfileSet::Defaults()};
};

TEST_F(ScanPipeline, NeedsParseFalseSkipsParsingAndOnlyCountsTheFile) {
  std::int64_t delivered = 0, declined_told = 0;
  std::atomic<std::int64_t> declined_decided{0};
  const ScanStats stats = ScanArchive(dir_.path().string(), extractor_,
                                      {.threads = 2,
                                       .io_depth = -1,
                                       .walkers = 3,
                                       .needs_parse =
                                           [&](const WalkEntry& e) {
                                             const bool parse = !e.path.ends_with(".dcm");
                                             if (!parse) ++declined_decided;
                                             return parse;
                                           },
                                       .prepare = nullptr,
                                       .declined = [&](std::int64_t n) { declined_told += n; }},
                                      [&](ScanItem&& item) {
                                        EXPECT_FALSE(item.entry.path.ends_with(".dcm"));
                                        ++delivered;
                                      });
  EXPECT_GT(declined_decided.load(), 0);
  EXPECT_EQ(declined_told, declined_decided.load());
  EXPECT_EQ(stats.declined, declined_decided.load());
  EXPECT_EQ(stats.parsed, delivered);
  EXPECT_EQ(stats.files, stats.parsed + stats.declined);
  EXPECT_EQ(stats.errors, 0);  // the broken files are all named .dcm, so none was parsed
}

TEST_F(ScanPipeline, SinkExceptionStopsTheScanAndPropagates) {
  int seen = 0;
  EXPECT_THROW(ScanArchive(dir_.path().string(), extractor_,
                           {.threads = 2, .io_depth = 8, .needs_parse = nullptr, .prepare = nullptr},
                           [&](ScanItem&&) {
                             if (++seen == 10) throw std::runtime_error("sink failed");
                           }),
               std::runtime_error);
  EXPECT_EQ(seen, 10);
}

TEST_F(ScanPipeline, SingleThreadGivesTheSameCounts) {
  const ScanOptions one{.threads = 1, .io_depth = 0, .needs_parse = nullptr, .prepare = nullptr};
  const ScanOptions many{.threads = 4, .io_depth = 64, .needs_parse = nullptr, .prepare = nullptr};
  const ScanStats a = ScanArchive(dir_.path().string(), extractor_, one, [](ScanItem&&) {});
  const ScanStats b = ScanArchive(dir_.path().string(), extractor_, many, [](ScanItem&&) {});
  EXPECT_EQ(a.files, b.files);
  EXPECT_EQ(a.dicom, b.dicom);
  EXPECT_EQ(a.errors, b.errors);
}

TEST_F(ScanPipeline, PrepareRunsOnParserThreadsBeforeTheSink) {
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> on_caller{0};
  int with_text = 0, items = 0;
  const ScanOptions options{.threads = 2, .io_depth = 0, .needs_parse = nullptr, .prepare = [&](ScanItem& item) {
                              if (std::this_thread::get_id() == caller) ++on_caller;
                              item.text = item.entry.path + "|" + std::to_string(static_cast<int>(item.result.outcome));
                            }};
  ScanArchive(dir_.path().string(), extractor_, options, [&](ScanItem&& item) {
    ++items;
    with_text += item.text.starts_with(item.entry.path) ? 1 : 0;
  });
  EXPECT_GT(items, 80);
  EXPECT_EQ(with_text, items);
  EXPECT_EQ(on_caller.load(), 0);
}

TEST_F(ScanPipeline, BadRootThrowsBadRequest) {
  try {
    ScanArchive((dir_.path() / "missing").string(), extractor_, {}, [](ScanItem&&) {});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
  }
}

}  // namespace
}  // namespace meta_db::extractor
