// Header reads are capped: files with huge values before (or instead of) Pixel Data are read by the real meta_db
// binary without their size showing in its peak RSS, and a header longer than the cap is registered as an error.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <fcntl.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "meta_extractor/extractor.hpp"
#include "test_support.hpp"

extern char** environ;

namespace meta_db::extractor {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr std::uint64_t kMiB = 1 << 20;

// A Part-10 file written element by element (explicit VR little endian); long values can be left as holes of
// a sparse file, so a 300 MB file costs neither disk nor time.
class Part10Writer {
 public:
  Part10Writer(const std::string& sop_class, const std::string& sop_instance) {
    std::string meta;
    Append(meta, 0x0002, 0x0001, "OB", std::string("\0\1", 2));
    Append(meta, 0x0002, 0x0002, "UI", sop_class);
    Append(meta, 0x0002, 0x0003, "UI", sop_instance);
    Append(meta, 0x0002, 0x0010, "UI", "1.2.840.10008.1.2.1");
    std::string head(128, '\0');
    head += "DICM";
    Append(head, 0x0002, 0x0000, "UL", U32(static_cast<std::uint32_t>(meta.size())));
    bytes_ = head + meta;
  }

  Part10Writer& Add(std::uint16_t group, std::uint16_t element, const char* vr, std::string value) {
    Append(bytes_, group, element, vr, std::move(value));
    return *this;
  }
  // An element whose value (zeros) is a hole in the file.
  Part10Writer& AddHole(std::uint16_t group, std::uint16_t element, const char* vr, std::uint32_t length) {
    Header(bytes_, group, element, vr, length);
    Flush(length);
    return *this;
  }
  // An element header alone (a sequence's, whose items follow).
  Part10Writer& Open(std::uint16_t group, std::uint16_t element, const char* vr, std::uint32_t length) {
    Header(bytes_, group, element, vr, length);
    return *this;
  }
  // A tag and a 4-byte length: items and delimiters (PS3.5 7.5).
  Part10Writer& Raw(std::uint16_t group, std::uint16_t element, std::uint32_t length) {
    bytes_ += U16(group) + U16(element) + U32(length);
    return *this;
  }

  void Write(const fs::path& path) {
    Flush(0);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    std::uint64_t size = 0;
    for (const auto& [bytes, hole] : segments_) {
      out.seekp(static_cast<std::streamoff>(size));
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      size += bytes.size() + hole;
    }
    out.close();
    fs::resize_file(path, size);
  }

 private:
  static std::string U16(std::uint16_t v) { return {static_cast<char>(v & 0xFF), static_cast<char>(v >> 8)}; }
  static std::string U32(std::uint32_t v) {
    return U16(static_cast<std::uint16_t>(v & 0xFFFF)) + U16(static_cast<std::uint16_t>(v >> 16));
  }
  static void Header(std::string& out, std::uint16_t group, std::uint16_t element, const char* vr,
                     std::uint32_t length) {
    out += U16(group) + U16(element) + vr;
    const std::string v(vr);
    if (v == "OB" || v == "OW" || v == "SQ" || v == "UT" || v == "UN") {
      out += std::string(2, '\0') + U32(length);
    } else {
      out += U16(static_cast<std::uint16_t>(length));
    }
  }
  static void Append(std::string& out, std::uint16_t group, std::uint16_t element, const char* vr,
                     std::string value) {
    if (value.size() % 2 != 0) value += (std::string(vr) == "UI" ? '\0' : ' ');
    Header(out, group, element, vr, static_cast<std::uint32_t>(value.size()));
    out += value;
  }
  void Flush(std::uint64_t hole) {
    segments_.emplace_back(std::move(bytes_), hole);
    bytes_.clear();
  }

  std::string bytes_;
  std::vector<std::pair<std::string, std::uint64_t>> segments_;
};

Part10Writer Instance(const std::string& sop_class, const std::string& n, const std::string& modality) {
  Part10Writer w(sop_class, "1.2.826.0.1.3680043.9.7777." + n);
  w.Add(0x0008, 0x0016, "UI", sop_class).Add(0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.9.7777." + n);
  w.Add(0x0008, 0x0060, "CS", modality);
  return w;
}

void Identify(Part10Writer& w, const std::string& n) {
  w.Add(0x0010, 0x0020, "LO", "CAP-" + n)
      .Add(0x0020, 0x000D, "UI", "1.2.826.0.1.3680043.9.7778." + n)
      .Add(0x0020, 0x000E, "UI", "1.2.826.0.1.3680043.9.7779." + n);
}

// A per-frame functional groups sequence of `items` items of one 60000-byte value each (under the 64 KiB value
// limit, so DCMTK reads every one), then `pixels` bytes of Pixel Data.
void MultiFrame(const fs::path& path, const std::string& n, int items, std::uint32_t pixels) {
  Part10Writer w = Instance("1.2.840.10008.5.1.4.1.1.4.1", n, "MR");
  Identify(w, n);
  // (5200,9230) SQ, undefined length; each item (FFFE,E000) holds (0020,4000) UT, then its delimiter.
  w.Open(0x5200, 0x9230, "SQ", 0xFFFFFFFF);
  for (int i = 0; i < items; ++i) {
    w.Raw(0xFFFE, 0xE000, 0xFFFFFFFF).AddHole(0x0020, 0x4000, "UT", 60000).Raw(0xFFFE, 0xE00D, 0);
  }
  w.Raw(0xFFFE, 0xE0DD, 0).AddHole(0x7FE0, 0x0010, "OW", pixels);
  w.Write(path);
}

struct ChildRun {
  int exit_code = -1;
  std::int64_t max_rss_kib = 0;
  std::string out;
};

// Runs the meta_db binary with `args`, its stdout into a file; peak RSS from wait4's rusage of that child alone.
ChildRun RunMetaDb(const std::vector<std::string>& args, const fs::path& out_file) {
  std::vector<std::string> argv_store{META_DB_BIN};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  ChildRun run;
  const int spawned = posix_spawn(&pid, META_DB_BIN, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return run;
  int status = 0;
  rusage usage{};
  if (::wait4(pid, &status, 0, &usage) != pid) return run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.max_rss_kib = usage.ru_maxrss;
  run.out = test::ReadAll(out_file);
  return run;
}

class HeaderCap : public ::testing::Test {
 protected:
  void SetUp() override {
    const fs::path root = dir_.path() / "archive";
    // A normal file, for the baseline RSS.
    Part10Writer normal = Instance("1.2.840.10008.5.1.4.1.1.2", "1", "CT");
    Identify(normal, "1");
    normal.Add(0x7FE0, 0x0010, "OW", std::string(512, '\0'));
    Write(normal, root / "normal" / "1.dcm");
    // 300 MB: a private OB value, values after it, no Pixel Data at all.
    Part10Writer ob = Instance("1.2.840.10008.5.1.4.1.1.7", "2", "OT");
    ob.Add(0x0009, 0x0010, "LO", "META_DB TEST").AddHole(0x0009, 0x1001, "OB", 300 * kMiB);
    Identify(ob, "2");
    Write(ob, root / "ob" / "2.dcm");
    // Encapsulated PDF (PS3.3 A.45): a 100 MB Encapsulated Document and no Pixel Data.
    Part10Writer pdf = Instance("1.2.840.10008.5.1.4.1.1.104.1", "3", "DOC");
    Identify(pdf, "3");
    pdf.AddHole(0x0042, 0x0011, "OB", 100 * kMiB).Add(0x0042, 0x0012, "LO", "application/pdf");
    Write(pdf, root / "pdf" / "3.dcm");
    // Multi-frame headers: 4.6 MB of functional groups then 200 MB of pixels (read), and 86 MB of functional
    // groups (past the cap: an error) then 1 GiB of pixels.
    fs::create_directories(root / "multiframe");
    MultiFrame(root / "multiframe" / "4.dcm", "4", 80, 200 * kMiB);
    fs::create_directories(root / "too_long");
    MultiFrame(root / "too_long" / "5.dcm", "5", 1500, 1024 * kMiB);
  }

  static void Write(Part10Writer& w, const fs::path& path) {
    fs::create_directories(path.parent_path());
    w.Write(path);
  }

  // `meta_db extract` of one subdirectory: its single line and the run's peak RSS.
  std::pair<json::object, std::int64_t> Extract(const std::string& sub) {
    const ChildRun run = RunMetaDb({"extract", (dir_.path() / "archive" / sub).string()}, dir_.path() / (sub + ".out"));
    EXPECT_EQ(run.exit_code, 0) << sub;
    const std::string line = run.out.substr(0, run.out.find('\n'));
    if (line.empty()) return {};
    return {json::parse(line).as_object(), run.max_rss_kib};
  }

  test::TempDir dir_;
};

std::string Field(const json::object& line, const char* level, const char* field) {
  const json::value* doc = line.if_contains(level);
  const json::value* v = doc && doc->is_object() ? doc->as_object().if_contains(field) : nullptr;
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

TEST_F(HeaderCap, HugeValuesAreSkippedAndPeakRssStaysFarBelowTheFileSize) {
  const auto [normal, baseline_kib] = Extract("normal");
  EXPECT_EQ(Field(normal, "study", "patient_id"), "CAP-1") << json::serialize(normal);
  // What reading these files may add to a process that read a normal one: a few buffers, never the values.
  const std::int64_t allowance_kib = 48 * 1024;
  const auto [ob, ob_kib] = Extract("ob");
  EXPECT_FALSE(ob.contains("error")) << json::serialize(ob);
  EXPECT_EQ(Field(ob, "study", "patient_id"), "CAP-2") << "values after the skipped one are read";
  EXPECT_EQ(Field(ob, "series", "series_instance_uid"), "1.2.826.0.1.3680043.9.7779.2");
  EXPECT_LT(ob_kib, baseline_kib + allowance_kib) << "300 MB file; baseline " << baseline_kib << " KiB";
  const auto [pdf, pdf_kib] = Extract("pdf");
  EXPECT_FALSE(pdf.contains("error")) << json::serialize(pdf);
  EXPECT_EQ(Field(pdf, "series", "modality"), "DOC");
  EXPECT_LT(pdf_kib, baseline_kib + allowance_kib) << "100 MB file; baseline " << baseline_kib << " KiB";
  const auto [multiframe, multiframe_kib] = Extract("multiframe");
  EXPECT_FALSE(multiframe.contains("error")) << json::serialize(multiframe);
  EXPECT_EQ(Field(multiframe, "instance", "sop_instance_uid"), "1.2.826.0.1.3680043.9.7777.4");
  EXPECT_LT(multiframe_kib, baseline_kib + allowance_kib) << "205 MB file; baseline " << baseline_kib << " KiB";
  std::fprintf(stderr, "peak RSS (KiB): normal %lld, 300 MB OB %lld, 100 MB PDF %lld, multi-frame %lld\n",
               static_cast<long long>(baseline_kib), static_cast<long long>(ob_kib),
               static_cast<long long>(pdf_kib), static_cast<long long>(multiframe_kib));
}

TEST_F(HeaderCap, HeaderPastTheCapIsAnErrorWithItsReasonAndBoundedMemory) {
  const auto [normal, baseline_kib] = Extract("normal");
  const auto [line, kib] = Extract("too_long");
  const std::uint64_t size = fs::file_size(dir_.path() / "archive" / "too_long" / "5.dcm");
  ASSERT_TRUE(line.contains("error")) << json::serialize(line);
  EXPECT_NE(std::string(line.at("error").as_string()).find("header too long: more than 64 MiB"), std::string::npos)
      << line.at("error");
  // The fast scan holds at most 16 MiB, then DCMTK at most the cap (values plus its element objects); ASan's
  // quarantine keeps the freed scan buffer resident.
  EXPECT_LT(kib, baseline_kib + static_cast<std::int64_t>(2 * kMaxHeaderBytes / 1024))
      << "baseline " << baseline_kib << " KiB";
  // The growth over a normal file's extraction, not the process's whole RSS (ASan's shadow alone is ~170 MB).
  EXPECT_LT(static_cast<std::uint64_t>(kib - baseline_kib) * 1024, size / 4) << "file of " << size << " bytes";
  std::fprintf(stderr, "peak RSS (KiB): normal %lld, %llu-byte header past the cap %lld\n",
               static_cast<long long>(baseline_kib), static_cast<unsigned long long>(size),
               static_cast<long long>(kib));
}

TEST_F(HeaderCap, BothPathsAgreeOnEveryFile) {
  const Extractor fast(ProfileSet::Defaults(), ExtractorOptions{.fast_path = true});
  const Extractor dcmtk(ProfileSet::Defaults(), ExtractorOptions{.fast_path = false});
  for (const char* sub : {"normal/1.dcm", "ob/2.dcm", "pdf/3.dcm", "multiframe/4.dcm", "too_long/5.dcm"}) {
    const std::string path = (dir_.path() / "archive" / sub).string();
    const ExtractResult a = fast.ExtractFile(path), b = dcmtk.ExtractFile(path);
    EXPECT_EQ(a.outcome, b.outcome) << sub << ": " << a.error << " / " << b.error;
    EXPECT_EQ(json::serialize(ToExtractLine(a)), json::serialize(ToExtractLine(b))) << sub;
  }
}

TEST_F(HeaderCap, IngestRegistersTheTooLongHeaderAndReadsTheRest) {
  const fs::path db = dir_.path() / "cap.sqlite";
  const ChildRun ingest = RunMetaDb({"ingest", "--db", "sqlite:" + db.string(), "--threads", "2", "--quiet",
                                (dir_.path() / "archive").string()},
                               dir_.path() / "ingest.out");
  ASSERT_EQ(ingest.exit_code, 0) << ingest.out;
  const json::object summary = json::parse(ingest.out.substr(0, ingest.out.find('\n'))).as_object();
  EXPECT_EQ(summary.at("instances").at("inserted"), 4) << ingest.out;
  EXPECT_EQ(summary.at("failed"), 1) << ingest.out;
  const json::array& failures = summary.at("failures").as_array();
  ASSERT_EQ(failures.size(), 1u) << ingest.out;
  EXPECT_NE(json::serialize(failures[0]).find("too_long/5.dcm"), std::string::npos) << ingest.out;
  EXPECT_NE(json::serialize(failures[0]).find("header too long"), std::string::npos) << ingest.out;
  // Two parser threads, each bounded by the cap, never by the files (1.1 GB, 300 MB, 205 MB, 100 MB).
  EXPECT_LT(ingest.max_rss_kib * 1024, 512 * static_cast<std::int64_t>(kMiB)) << ingest.max_rss_kib << " KiB";
  const ChildRun check = RunMetaDb({"check", "--db", "sqlite:" + db.string()}, dir_.path() / "check.out");
  EXPECT_EQ(check.exit_code, 0) << check.out;
  std::fprintf(stderr, "ingest peak RSS: %lld KiB\n", static_cast<long long>(ingest.max_rss_kib));
}

}  // namespace
}  // namespace meta_db::extractor
