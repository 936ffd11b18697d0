// Shared test helpers: temporary directories, running the real meta_db binary, reading files, and a fresh store of
// the back-end under test for every test (one suite, parameterised by store).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;  // 128+signal when killed
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv (argv[0] a path) and waits; stdout and stderr captured.
CommandResult RunCommand(const std::vector<std::string>& argv);

// Starts argv, lets it run for `millis`, then SIGKILLs it (if still running). Returns its exit code.
int RunAndKill(const std::vector<std::string>& argv, int millis);

// Path of the meta_db binary under test (env META_DB_BIN, set by ctest).
std::string MetaDbBinary();

std::string ReadFile(const std::filesystem::path& path);

// ---- The store back-end under test ----
// Chosen by the environment, so one test binary runs on either store (ctest registers the parameterised suites
// twice: `NAME` on SQLite and `NAME_mongo` with META_DB_TEST_BACKEND=mongodb):
//   META_DB_TEST_BACKEND    "sqlite" (default) or "mongodb"; anything else is an error (a std::runtime_error).
//   META_DB_TEST_MONGO_URI  the MongoDB server of the mongodb back-end, e.g. mongodb://127.0.0.1:27018/ (scripts/test.sh
//                           sets it: a throwaway FerretDB unless the user gave a MongoDB). Its database path, if any,
//                           is ignored: every TestDatabase is a database of its own.

// "sqlite" or "mongodb" (the name Store::Backend() reports).
std::string TestBackend();
inline bool TestingSqlite() { return TestBackend() == "sqlite"; }
inline bool TestingMongo() { return TestBackend() == "mongodb"; }

// Why the back-end under test cannot be used here ("" when it can): mongodb without META_DB_TEST_MONGO_URI.
std::string BackendUnavailable();

// A fresh, empty database of the back-end under test, removed with everything in it on destruction:
//  - sqlite: the file `<hint>.sqlite` in a temporary directory of its own;
//  - mongodb: the database `mdbt_<pid>_<counter>_<random>` on META_DB_TEST_MONGO_URI's server, dropped on destruction.
// Constructing one when BackendUnavailable() is not empty throws: call META_DB_REQUIRE_TEST_BACKEND() first (in the
// test body or the fixture's SetUp) to skip instead.
class TestDatabase {
 public:
  explicit TestDatabase(std::string_view hint = "catalogue");
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;
  ~TestDatabase();

  // The --db URI: "sqlite:/tmp/.../catalogue.sqlite" or "mongodb://host:port/mdbt_...[?options]".
  const std::string& uri() const { return uri_; }
  // sqlite: the database file (throws on mongodb: a test that needs the file is SQLite-only).
  const std::filesystem::path& sqlite_file() const;
  // mongodb: the database name ("" on sqlite).
  const std::string& mongo_database() const { return mongo_database_; }
  // Drops/removes the database now (also done on destruction); the URI then names an empty database again.
  void Drop();

 private:
  std::string uri_;
  std::filesystem::path sqlite_dir_, sqlite_file_;
  std::string mongo_database_;
};

// A MongoDB URI naming `database` on META_DB_TEST_MONGO_URI's server (its options kept). Throws when unset.
std::string MongoTestUri(std::string_view database);

// true when the mongodb back-end under test is a FerretDB (its buildInfo reply has `ferretdbVersion`); false on
// sqlite or a real MongoDB. Asked once per process. For META_DB_SKIP_ON_FERRETDB only: skip a test solely for a
// documented FerretDB gap (no transactions, text indexes, partialFilterExpression, collation, $lookup/$facet, ...).
bool IsFerretDb();

}  // namespace meta_db::testing

// Skips the current test (use in a TEST body or a fixture's SetUp) when the back-end under test cannot run here:
// the message names META_DB_TEST_MONGO_URI.
#define META_DB_REQUIRE_TEST_BACKEND()                                                             \
  do {                                                                                             \
    if (const std::string meta_db_why_ = ::meta_db::testing::BackendUnavailable(); !meta_db_why_.empty()) \
      GTEST_SKIP() << meta_db_why_;                                                                \
  } while (0)

// Skips the current test unless the back-end under test is SQLite; `why` says what makes it SQLite-specific.
#define META_DB_SQLITE_ONLY(why)                                                                       \
  do {                                                                                                 \
    if (!::meta_db::testing::TestingSqlite())                                                          \
      GTEST_SKIP() << "SQLite-only (" << (why) << "); back-end under test: " << ::meta_db::testing::TestBackend(); \
  } while (0)

// Skips the current test on FerretDB, naming the documented FerretDB gap it hits.
#define META_DB_SKIP_ON_FERRETDB(gap)                                                          \
  do {                                                                                         \
    if (::meta_db::testing::IsFerretDb()) GTEST_SKIP() << "documented FerretDB gap: " << (gap); \
  } while (0)
