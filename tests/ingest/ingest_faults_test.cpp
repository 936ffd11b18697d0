// Faults never lose data: the real binary re-ingests an archive while the OS refuses parts of it (permissions as the
// unprivileged user `nobody`, and EIO/ESTALE/ENOENT from the test-only LD_PRELOAD fault injector), on the back-end
// under test. Each fault must leave the catalogue exactly as it was, name what could not be seen in the summary and
// the error register, and the run after the fault must reconcile to a clean ingest's catalogue. Plus: an unmounted
// (empty) or missing root, symlinks out of the root, and commands refusing a path that holds no catalogue.
#include "common/json_io.hpp"
#include "ingest_checks.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <unistd.h>

#include <fstream>
#include <map>
#include <set>

namespace meta_db::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

std::int64_t Int(const json::object& doc, std::string_view key) { return doc.at(key).to_number<std::int64_t>(); }

// Everything a re-ingest could lose or change: the documents, the file records and the error register.
struct CatalogueState {
  std::vector<std::string> documents;             // Fingerprint
  std::map<std::string, std::string> records;     // path -> "size mtime status sop"
  std::map<std::string, std::string> errors;      // path -> reason
  std::set<std::string> instance_uids;
  std::int64_t studies = 0, series = 0, instances = 0;
};

CatalogueState StateOf(const std::string& db, bool with_timestamps) {
  CatalogueState state;
  auto store = OpenStore(db);
  state.documents = Fingerprint(*store, with_timestamps);
  store->Read([&](Session& session) {
    session.VisitFileRecords("", [&](const FileRecordView& r) {
      state.records[std::string(r.path)] = std::to_string(r.size) + " " + std::to_string(r.mtime_ns) + " " +
                                           std::string(r.status) + " " + std::string(r.sop_instance_uid);
    });
    for (const ErrorRecord& error : session.Errors(0, 100000)) state.errors[error.path] = error.reason;
    query::Query all;
    all.limit = 1 << 30;
    for (const Document& doc : session.Find(Kind::kInstances, all).results) {
      state.instance_uids.emplace(doc.at("sop_instance_uid").as_string());
    }
    const StoreCounts counts = session.Counts();
    state.studies = counts.studies;
    state.series = counts.series;
    state.instances = counts.instances;
  });
  return state;
}

// The catalogue equals another (a clean ingest's), timestamps and file mtimes aside.
void ExpectSameCatalogue(const CatalogueState& got, const CatalogueState& want) {
  EXPECT_EQ(got.studies, want.studies);
  EXPECT_EQ(got.series, want.series);
  EXPECT_EQ(got.instances, want.instances);
  EXPECT_EQ(got.instance_uids, want.instance_uids);
  EXPECT_TRUE(got.documents == want.documents) << "the documents differ from a clean ingest's";
  std::set<std::string> got_paths, want_paths;
  for (const auto& [path, record] : got.records) got_paths.insert(path + " " + record.substr(record.find(' ', record.find(' ') + 1)));
  for (const auto& [path, record] : want.records) want_paths.insert(path + " " + record.substr(record.find(' ', record.find(' ') + 1)));
  EXPECT_EQ(got_paths, want_paths);
  std::set<std::string> got_errors, want_errors;
  for (const auto& [path, reason] : got.errors) got_errors.insert(path);
  for (const auto& [path, reason] : want.errors) want_errors.insert(path);
  EXPECT_EQ(got_errors, want_errors);
}

// The unseen paths a summary names, with their reasons.
std::map<std::string, std::string> UnseenOf(const json::object& summary) {
  std::map<std::string, std::string> unseen;
  for (const json::value& entry : summary.at("unseen").as_array()) {
    unseen[std::string(entry.at("path").as_string())] = std::string(entry.at("reason").as_string());
  }
  return unseen;
}

// The fields of a CatalogueState record.
std::string StatusOf(const std::string& record) {
  const std::size_t status = record.find(' ', record.find(' ') + 1) + 1;
  return record.substr(status, record.find(' ', status) - status);
}
std::string SopOf(const std::string& record) { return record.substr(record.rfind(' ') + 1); }

std::int64_t FilesUnder(const fs::path& dir) {
  std::int64_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) files += entry.is_regular_file() ? 1 : 0;
  return files;
}

std::vector<fs::path> SortedChildren(const fs::path& dir, bool directories) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() == directories) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The one series directory of a synth patient (patient/study/series).
fs::path SeriesDirOf(const fs::path& patient) {
  return SortedChildren(SortedChildren(patient, true).at(0), true).at(0);
}

class IngestFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();
    // `nobody` must reach the archive and, on SQLite, the database file: everything lives under a world-writable
    // directory of the test's own.
    fs::permissions(dir_.path(), fs::perms::all);
    shared_ = dir_.path() / "shared";
    fs::create_directory(shared_);
    fs::permissions(shared_, fs::perms::all);
    manifest_ = Synthesize(shared_ / "archive", 4);
    archive_ = fs::canonical(shared_ / "archive");
    MakeAccessible();
    if (TestingSqlite()) {
      db_uri_ = "sqlite:" + (shared_ / "catalogue.sqlite").string();
    } else {
      db_ = std::make_unique<TestDatabase>("faults");
      db_uri_ = db_->uri();
    }
  }

  void MakeAccessible() {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(shared_, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_symlink()) continue;
      const fs::perms perms = it->is_directory() ? fs::perms::all
                                                 : fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                                       fs::perms::group_write | fs::perms::others_read |
                                                       fs::perms::others_write;
      fs::permissions(it->path(), perms, ec);
    }
  }

  // `meta_db ARGS` as nobody when the test runs as root (permissions mean nothing to root), with `faults` for the
  // fault injector (META_DB_FAULTS) if given.
  CommandResult Run(std::vector<std::string> args, const std::string& faults = "") {
    std::vector<std::string> argv;
    if (::geteuid() == 0) argv = {"/usr/sbin/runuser", "-u", "nobody", "--"};
    argv.push_back("/usr/bin/env");
    if (!faults.empty()) {
      const char* injector = std::getenv("META_DB_FAULT_INJECTOR");
      if (injector == nullptr) throw std::runtime_error("META_DB_FAULT_INJECTOR is not set");
      argv.push_back(std::string("LD_PRELOAD=") + injector);
      argv.push_back("META_DB_FAULTS=" + faults);
      // ASan wants to be the first library loaded; the injector comes first instead, which it tolerates if told.
      const char* asan = std::getenv("ASAN_OPTIONS");
      argv.push_back(std::string("ASAN_OPTIONS=") + (asan != nullptr && *asan != '\0' ? std::string(asan) + ":" : "") +
                     "verify_asan_link_order=0");
    }
    argv.push_back(MetaDbBinary());
    argv.insert(argv.end(), args.begin(), args.end());
    ShareDatabaseFiles();  // the test's own reads may have made the -wal or -shm as root
    CommandResult result = RunCommand(argv);
    ShareDatabaseFiles();
    return result;
  }

  // The SQLite catalogue's files, whoever made them, stay readable and writable by every run.
  void ShareDatabaseFiles() {
    if (!TestingSqlite()) return;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      std::error_code ec;
      fs::permissions(shared_ / (std::string("catalogue.sqlite") + suffix),
                      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::group_write |
                          fs::perms::others_read | fs::perms::others_write,
                      ec);
    }
  }

  json::object IngestOk(const std::string& faults = "", const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args{"ingest", archive_.string(), "--db", db_uri_, "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    const CommandResult result = Run(args, faults);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.exit_code == 0 ? ParseJsonObject(result.out) : json::object{};
  }

  // The catalogue a clean ingest of the archive as it is now makes (into a database of its own).
  CatalogueState CleanIngest() {
    TestDatabase reference("reference");
    Ingest(archive_, reference.uri());
    return StateOf(reference.uri(), false);
  }

  CatalogueState State(bool with_timestamps = true) { return StateOf(db_uri_, with_timestamps); }

  // A first, clean ingest; returns the state it left.
  CatalogueState Seed() {
    IngestOk();
    return State();
  }

  std::int64_t BrokenFiles() const {
    std::int64_t total = 0;
    for (const auto& [kind, count] : manifest_.at("broken_files").as_object()) total += count.to_number<std::int64_t>();
    return total;
  }

  fs::path Patient(int i) const { return archive_ / ("LIDC-IDRI-000" + std::to_string(i)); }

  // The fault run left every document, file record and register entry there was, plus register entries for (only)
  // `unseen`; the summary names exactly `unseen` and counts `unknown` files kept.
  void ExpectNothingLost(const CatalogueState& before, const json::object& summary,
                         const std::set<std::string>& unseen, std::int64_t unknown) {
    const CatalogueState after = State();
    EXPECT_TRUE(after.documents == before.documents) << "the fault changed the catalogue's documents";
    EXPECT_EQ(after.instance_uids, before.instance_uids);
    EXPECT_EQ(after.records, before.records) << "the fault changed the file records";
    std::set<std::string> named;
    for (const auto& [path, reason] : UnseenOf(summary)) named.insert(path);
    EXPECT_EQ(named, unseen);
    EXPECT_EQ(Int(summary, "unknown_files"), unknown);
    EXPECT_EQ(Int(summary, "disappeared"), 0);
    EXPECT_EQ(summary.at("instances").at("removed").to_number<std::int64_t>(), 0);
    std::set<std::string> registered;
    for (const auto& [path, reason] : after.errors) {
      if (!before.errors.contains(path)) {
        registered.insert(path);
        EXPECT_TRUE(reason.starts_with("not seen by ingest: ")) << path << ": " << reason;
      }
    }
    EXPECT_EQ(registered, unseen);
  }

  // After the fault is gone: a plain run names nothing unseen, clears the register entries and leaves exactly the
  // catalogue of a clean ingest of the archive as it now is.
  void ExpectReconciled() {
    const json::object summary = IngestOk();
    EXPECT_TRUE(summary.at("unseen").as_array().empty()) << json::serialize(summary);
    EXPECT_EQ(Int(summary, "unknown_files"), 0);
    ExpectSameCatalogue(State(false), CleanIngest());
  }

  TempDir dir_;
  fs::path shared_, archive_;
  json::object manifest_;
  std::unique_ptr<TestDatabase> db_;
  std::string db_uri_;
};

// The issue's own report: chmod 000 on one patient directory of a 4-patient archive, re-ingested as an unprivileged
// user, deleted that patient. Now it is unknown: kept, named, and reconciled once readable again.
TEST_F(IngestFaultsTest, UnreadablePatientDirectoryAsNobodyLosesNothing) {
  const CatalogueState before = Seed();
  const fs::path patient = Patient(2);
  const std::int64_t files = FilesUnder(patient);
  fs::permissions(patient, fs::perms::none);
  const CommandResult run = Run({"ingest", archive_.string(), "--db", db_uri_});  // with the printed summary
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const json::object summary = ParseJsonObject(run.out);
  EXPECT_NE(run.err.find("not seen: " + patient.string() + "/: cannot open directory: Permission denied"),
            std::string::npos)
      << run.err;
  fs::permissions(patient, fs::perms::all);
  EXPECT_EQ(Int(summary, "unreadable_dirs"), 1);
  ExpectNothingLost(before, summary, {patient.string() + "/"}, files);
  EXPECT_NE(UnseenOf(summary)[patient.string() + "/"].find("Permission denied"), std::string::npos);
  ExpectReconciled();
}

// readdir failing (NULL with errno set) at once on a patient directory, and part-way through a series directory:
// nothing under either is judged; the partly listed directory's digest is not confirmed.
TEST_F(IngestFaultsTest, ReaddirErrorsLeaveWhatWasNotListedUnknown) {
  Seed();
  const fs::path patient = Patient(1);
  const fs::path series = SeriesDirOf(Patient(3));
  // Every file of the series changes, so whatever part of it the listing yields is parsed and its digest cleared.
  for (const fs::path& file : SortedChildren(series, false)) {
    fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
  }
  const CatalogueState before = State();
  const json::object summary =
      IngestOk("readdir:EIO:" + patient.string() + ";readdir:ESTALE:" + series.string() + ":3");
  EXPECT_EQ(Int(summary, "unreadable_dirs"), 2);
  const auto unseen = UnseenOf(summary);
  EXPECT_NE(unseen.at(patient.string() + "/").find("cannot list directory: Input/output error"), std::string::npos);
  EXPECT_NE(unseen.at(series.string() + "/").find("Stale file handle"), std::string::npos);
  // The three files listed were parsed again (same instances); the others were not judged at all.
  EXPECT_EQ(Int(summary, "dicom_parsed") + Int(summary, "not_dicom") + Int(summary, "failed") +
                Int(summary, "incomplete"),
            3);
  const CatalogueState after = State();
  EXPECT_EQ(after.instance_uids, before.instance_uids);
  EXPECT_EQ(after.studies, before.studies);
  EXPECT_EQ(after.series, before.series);
  const std::int64_t patient_files = FilesUnder(patient);
  EXPECT_EQ(Int(summary, "unknown_files"), patient_files + FilesUnder(series) - 3);
  for (const auto& [path, record] : before.records) EXPECT_TRUE(after.records.contains(path)) << path;
  auto store = OpenStore(db_uri_);
  store->Read([&](Session& session) {
    session.VisitDirectoryDigests(series.string() + "/", [&](const DirectoryDigest& row) {
      if (row.directory == series.string() + "/") {
        EXPECT_FALSE(row.digest) << "a partly listed directory's digest";
      }
    });
  });
  store.reset();
  ExpectReconciled();
}

// opendir/openat failing with EIO and ESTALE (a network mount), and a subdirectory gone between its parent's
// listing and its opening (ENOENT) or replaced by a file meanwhile (ENOTDIR): unknown, not gone.
TEST_F(IngestFaultsTest, DirectoriesThatCannotBeOpenedAreUnknown) {
  const CatalogueState before = Seed();
  const std::string faults = "openat:EIO:" + Patient(1).string() + ";openat:ESTALE:" + SeriesDirOf(Patient(2)).string() +
                             ";openat:ENOENT:" + Patient(3).string() + ";openat:ENOTDIR:" + Patient(4).string();
  const json::object summary = IngestOk(faults);
  EXPECT_EQ(Int(summary, "unreadable_dirs"), 4);
  ExpectNothingLost(before, summary,
                    {Patient(1).string() + "/", SeriesDirOf(Patient(2)).string() + "/", Patient(3).string() + "/",
                     Patient(4).string() + "/"},
                    FilesUnder(Patient(1)) + FilesUnder(SeriesDirOf(Patient(2))) + FilesUnder(Patient(3)) +
                        FilesUnder(Patient(4)));
  ExpectReconciled();
}

// A file that cannot be stat'ed (EIO), one that cannot be opened (nobody has no permission; ENOENT after the stat) and
// one whose read fails (EIO): their instances stay, the register names them, and the next run reads them again.
TEST_F(IngestFaultsTest, UnreadableFilesKeepTheirInstances) {
  Seed();
  const std::vector<fs::path> files = SortedChildren(SeriesDirOf(Patient(1)), false);
  ASSERT_GE(files.size(), 4u);
  // Changed files, so the run has to read them (an unchanged one is left alone and never opened).
  for (const fs::path& file : files) fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
  const CatalogueState before = State();
  fs::permissions(files[1], fs::perms::owner_write);  // unreadable to nobody (and to its owner, when not root)
  const std::string faults = "fstatat:EIO:" + files[0].string() + ";pread:EIO:" + files[2].string() +
                             ";open:ENOENT:" + files[3].string();
  const json::object summary = IngestOk(faults);
  fs::permissions(files[1], fs::perms::owner_all | fs::perms::group_all | fs::perms::others_read);
  EXPECT_EQ(Int(summary, "unseen_files"), 1);
  std::map<std::string, std::string> failures;
  for (const json::value& failure : summary.at("failures").as_array()) {
    failures[std::string(failure.at("path").as_string())] = std::string(failure.at("reason").as_string());
  }
  for (int i = 1; i < 4; ++i) EXPECT_TRUE(failures.contains(files[i].string())) << files[i];
  EXPECT_FALSE(failures.contains(files[0].string())) << "not stat'ed, so not read either";
  const CatalogueState after = State();
  EXPECT_TRUE(after.documents == before.documents) << "the instances of unreadable files changed";
  EXPECT_EQ(after.records.at(files[0].string()), before.records.at(files[0].string())) << "the unseen file's record";
  for (int i = 1; i < 4; ++i) {
    const std::string& record = after.records.at(files[i].string());
    EXPECT_EQ(StatusOf(record), "unreadable") << files[i] << ": " << record;
    EXPECT_EQ(SopOf(record), SopOf(before.records.at(files[i].string()))) << "still vouches for its instance";
    EXPECT_TRUE(after.errors.contains(files[i].string())) << files[i];
  }
  EXPECT_TRUE(after.errors.at(files[0].string()).starts_with("not seen by ingest: cannot stat: Input/output error"));
  EXPECT_TRUE(after.errors.at(files[1].string()).starts_with("cannot open: Permission denied"));
  EXPECT_TRUE(after.errors.at(files[2].string()).starts_with("read error"));
  // The directory was not listed completely (one file not stat'ed) and holds files read every run: no digest.
  auto store = OpenStore(db_uri_);
  store->Read([&](Session& session) {
    session.VisitDirectoryDigests(SeriesDirOf(Patient(1)).string() + "/", [&](const DirectoryDigest& row) {
      EXPECT_FALSE(row.digest) << row.directory;
    });
  });
  store.reset();
  ExpectReconciled();
}

// Files removed between the listing of their directory and their stat: this run saw them listed, so it cannot say
// they are gone; the next one lists the directory without them and removes them.
TEST_F(IngestFaultsTest, FilesVanishingDuringTheWalkAreRemovedByTheNextRun) {
  const CatalogueState before = Seed();
  const std::vector<fs::path> files = SortedChildren(SeriesDirOf(Patient(2)), false);
  const std::string faults = "vanish:0:" + files[0].string() + ";vanish:0:" + files[1].string();
  const json::object summary = IngestOk(faults);
  ASSERT_FALSE(fs::exists(files[0]));
  ASSERT_FALSE(fs::exists(files[1]));
  EXPECT_EQ(Int(summary, "unseen_files"), 2);
  EXPECT_NE(UnseenOf(summary)[files[0].string()].find("vanished"), std::string::npos);
  ExpectNothingLost(before, summary, {files[0].string(), files[1].string()}, 2);
  const json::object next = IngestOk();
  EXPECT_EQ(Int(next, "disappeared"), 2);
  ExpectSameCatalogue(State(false), CleanIngest());
}

// A series directory replaced by a (non-DICOM) file: the file is judged as a file, and what was under the directory
// is gone — only when its parent was listed completely; otherwise it is unknown.
TEST_F(IngestFaultsTest, DirectoryReplacedByAFile) {
  const CatalogueState before = Seed();
  const fs::path series = SeriesDirOf(Patient(1));
  const fs::path study = series.parent_path();
  const std::int64_t files = FilesUnder(series);
  fs::remove_all(series);
  std::ofstream(series) << "notes, not DICOM\n";
  MakeAccessible();
  // The parent's listing yields every entry (the new file included), then fails: not listed completely.
  const std::int64_t entries = static_cast<std::int64_t>(std::distance(fs::directory_iterator(study), {}));
  const json::object partial = IngestOk("readdir:EIO:" + study.string() + ":" + std::to_string(entries));
  EXPECT_EQ(Int(partial, "disappeared"), 0);
  const CatalogueState after = State();
  EXPECT_EQ(after.instance_uids, before.instance_uids) << "removed under a parent not listed completely";
  EXPECT_EQ(StatusOf(after.records.at(series.string())), "skipped") << "the file is judged as a file";
  // Listed completely: what was under the directory has disappeared.
  const json::object complete = IngestOk();
  EXPECT_EQ(Int(complete, "disappeared"), files);
  ExpectSameCatalogue(State(false), CleanIngest());
}

// The mount point without its file system is an empty directory: refused (exit 2, nothing removed) unless
// --allow-empty; a missing root is refused too.
TEST_F(IngestFaultsTest, EmptyOrMissingRootNeverEmptiesTheCatalogue) {
  const CatalogueState before = Seed();
  const fs::path mounted = shared_ / "archive.real";
  fs::rename(archive_, mounted);
  fs::create_directory(archive_);
  fs::permissions(archive_, fs::perms::all);
  CommandResult empty = Run({"ingest", archive_.string(), "--db", db_uri_, "--quiet"});
  EXPECT_EQ(empty.exit_code, 2) << empty.err;
  EXPECT_NE(empty.err.find("is empty"), std::string::npos) << empty.err;
  EXPECT_NE(empty.err.find("--allow-empty"), std::string::npos) << empty.err;
  EXPECT_TRUE(empty.out.empty()) << empty.out;
  EXPECT_TRUE(State().documents == before.documents);
  EXPECT_EQ(State().records, before.records);
  fs::remove(archive_);
  CommandResult missing = Run({"ingest", archive_.string(), "--db", db_uri_, "--quiet"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
  EXPECT_NE(missing.err.find("does not exist"), std::string::npos) << missing.err;
  EXPECT_TRUE(State().documents == before.documents);
  EXPECT_EQ(State().records, before.records);
  // Mounted again: nothing to do.
  fs::rename(mounted, archive_);
  const json::object again = IngestOk();
  EXPECT_EQ(Int(again, "disappeared"), 0);
  EXPECT_EQ(Int(again, "dicom_parsed"), 0);
  EXPECT_TRUE(State().documents == before.documents);
  // Really emptied, and said so.
  fs::rename(archive_, mounted);
  fs::create_directory(archive_);
  fs::permissions(archive_, fs::perms::all);
  const json::object emptied = IngestOk("", {"--allow-empty"});
  EXPECT_EQ(Int(emptied, "disappeared"), static_cast<std::int64_t>(before.records.size()));
  const CatalogueState none = State();
  EXPECT_EQ(none.instances, 0);
  EXPECT_EQ(none.studies, 0);
  EXPECT_TRUE(none.records.empty());
}

// Nothing outside the root is read: symlinks below it (to a directory or a file outside) are skipped, a root given
// through a symlink is resolved once, and the paths stored are the canonical ones under it.
TEST_F(IngestFaultsTest, NoPathOutsideTheRootIsRead) {
  const fs::path outside = shared_ / "outside";
  Synthesize(outside, 1, 99);
  MakeAccessible();
  fs::create_directory_symlink(outside / "LIDC-IDRI-0001", archive_ / "LIDC-IDRI-9999");
  const fs::path one_file = SortedChildren(SeriesDirOf(outside / "LIDC-IDRI-0001"), false).at(0);
  fs::create_symlink(one_file, SeriesDirOf(Patient(1)) / "linked.dcm");
  const fs::path alias = shared_ / "alias";
  fs::create_directory_symlink(archive_, alias);
  const CommandResult result = Run({"ingest", alias.string(), "--db", db_uri_, "--quiet"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json::object summary = ParseJsonObject(result.out);
  EXPECT_EQ(Int(summary, "dicom_parsed"), Int(manifest_, "instances"));
  const CatalogueState state = State();
  EXPECT_EQ(state.instances, Int(manifest_, "instances"));
  for (const auto& [path, record] : state.records) {
    EXPECT_TRUE(path.starts_with(archive_.string() + "/")) << path;
  }
}

// Commands that read a catalogue refuse a path that holds none, and create nothing there; only ingest and
// migrate --to create one.
TEST_F(IngestFaultsTest, CommandsOnAPathWithoutACatalogueExit2) {
  std::vector<std::string> targets;
  if (TestingSqlite()) {
    const fs::path empty_file = shared_ / "empty.sqlite";
    std::ofstream(empty_file).flush();
    targets = {"sqlite:" + (shared_ / "typo.sqlite").string(), "sqlite:" + empty_file.string(),
               "sqlite:" + (shared_ / "manifest-not-a-db.sqlite").string()};
    fs::copy_file(archive_ / "manifest.json", shared_ / "manifest-not-a-db.sqlite");
  } else {
    targets = {db_uri_};
  }
  for (const std::string& target : targets) {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"stats", "--db", target}, {"check", "--db", target, "--quiet"},
          {"migrate", "--from", target, "--to", "sqlite:" + (shared_ / "copy.sqlite").string(), "--quiet"}}) {
      const CommandResult result = RunCommand([&] {
        std::vector<std::string> argv{MetaDbBinary()};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
      }());
      EXPECT_EQ(result.exit_code, 2) << args[0] << " " << target << ": " << result.err;
      EXPECT_NE(result.err.find("no catalogue at"), std::string::npos) << result.err;
      EXPECT_TRUE(result.out.empty()) << result.out;
    }
    EXPECT_EQ(RunAndKill({MetaDbBinary(), "serve", "--db", target, "--port", "0"}, 20000), 2) << "serve " << target;
  }
  EXPECT_FALSE(fs::exists(shared_ / "typo.sqlite"));
  EXPECT_FALSE(fs::exists(shared_ / "copy.sqlite"));
  if (TestingSqlite()) {
    EXPECT_EQ(fs::file_size(shared_ / "empty.sqlite"), 0u);
  } else {
    // Still no marker: the commands created nothing in the database.
    const CommandResult again = RunCommand({MetaDbBinary(), "stats", "--db", db_uri_});
    EXPECT_EQ(again.exit_code, 2) << again.err;
  }
  // ingest creates one; then every command works.
  Ingest(archive_, db_uri_);
  EXPECT_EQ(Int(Stats(db_uri_), "instances"), Int(manifest_, "instances"));
  EXPECT_EQ(RunCommand({MetaDbBinary(), "check", "--db", db_uri_, "--quiet"}).exit_code, 0);
}

}  // namespace
}  // namespace meta_db::testing
