// Test helpers over POSIX processes, the filesystem, and the back-end under test (libmongoc for MongoDB databases).
#include "test_support.hpp"

#include <mongoc/mongoc.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace meta_db::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::random_device device;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path candidate = fs::temp_directory_path() / ("meta_db_test_" + std::to_string(device()));
    if (fs::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

namespace {

std::vector<char*> ArgvOf(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& arg : argv) out.push_back(const_cast<char*>(arg.c_str()));
  out.push_back(nullptr);
  return out;
}

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

namespace {

// Starts argv with stdin from /dev/null and stdout/stderr to the given files.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  auto args = ArgvOf(argv);
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
  return pid;
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv) {
  TempDir scratch;
  const std::string out_path = (scratch.path() / "out").string();
  const std::string err_path = (scratch.path() / "err").string();
  const pid_t pid = Spawn(argv, out_path, err_path);
  int status = 0;
  waitpid(pid, &status, 0);
  return {ExitCodeOf(status), ReadFile(out_path), ReadFile(err_path)};
}

int RunAndKill(const std::vector<std::string>& argv, int millis) {
  const pid_t pid = Spawn(argv, "/dev/null", "/dev/null");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(millis);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return ExitCodeOf(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  return ExitCodeOf(status);
}

std::string MetaDbBinary() {
  const char* bin = std::getenv("META_DB_BIN");
  if (bin == nullptr) throw std::runtime_error("META_DB_BIN is not set");
  return bin;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// ---- The store back-end under test ----

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : std::string();
}

constexpr const char* kMongoUriVariable = "META_DB_TEST_MONGO_URI";

void InitMongoc() {
  // Once per process; libmongoc's own once-guards make this safe beside the product's mongoc_init. No cleanup here:
  // the product's store library calls mongoc_cleanup at exit when it used the driver.
  static std::once_flag once;
  std::call_once(once, [] { mongoc_init(); });
}

struct ClientDeleter {
  void operator()(mongoc_client_t* client) const { mongoc_client_destroy(client); }
};
using ClientPtr = std::unique_ptr<mongoc_client_t, ClientDeleter>;

// A client on META_DB_TEST_MONGO_URI's server; the error message names the variable.
ClientPtr MongoClient(const std::string& uri) {
  InitMongoc();
  bson_error_t error;
  mongoc_uri_t* parsed = mongoc_uri_new_with_error(uri.c_str(), &error);
  if (parsed == nullptr) {
    throw std::runtime_error(std::string(kMongoUriVariable) + ": malformed MongoDB URI '" + uri + "': " + error.message);
  }
  if (!mongoc_uri_has_option(parsed, MONGOC_URI_SERVERSELECTIONTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(parsed, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 10000);
  }
  ClientPtr client(mongoc_client_new_from_uri(parsed));
  mongoc_uri_destroy(parsed);
  if (!client) throw std::runtime_error(std::string(kMongoUriVariable) + ": unusable MongoDB URI '" + uri + "'");
  mongoc_client_set_error_api(client.get(), MONGOC_ERROR_API_VERSION_2);
  mongoc_client_set_appname(client.get(), "meta_db-tests");
  return client;
}

}  // namespace

std::string TestBackend() {
  const std::string backend = Env("META_DB_TEST_BACKEND");
  if (backend.empty() || backend == "sqlite") return "sqlite";
  if (backend == "mongodb" || backend == "mongo") return "mongodb";
  throw std::runtime_error("META_DB_TEST_BACKEND='" + backend + "': expected 'sqlite' or 'mongodb'");
}

std::string BackendUnavailable() {
  if (TestBackend() == "mongodb" && Env(kMongoUriVariable).empty()) {
    return std::string("META_DB_TEST_BACKEND=mongodb needs a MongoDB server: set ") + kMongoUriVariable +
           "=mongodb://HOST:PORT/ (scripts/test.sh starts a FerretDB and sets it)";
  }
  return {};
}

std::string MongoTestUri(std::string_view database) {
  const std::string base = Env(kMongoUriVariable);
  if (base.empty()) throw std::runtime_error(BackendUnavailable());
  // mongodb://[credentials@]hosts[/[database]][?options]: keep the scheme, hosts and options, put our database.
  const std::size_t scheme = base.find("://");
  if (scheme == std::string::npos) {
    throw std::runtime_error(std::string(kMongoUriVariable) + "='" + base + "' is not a mongodb:// URI");
  }
  const std::size_t query = base.find('?', scheme + 3);
  const std::string options = query == std::string::npos ? std::string() : base.substr(query);
  const std::string authority = base.substr(0, std::min(base.find('/', scheme + 3), query));
  return authority + "/" + std::string(database) + options;
}

TestDatabase::TestDatabase(std::string_view hint) {
  if (const std::string why = BackendUnavailable(); !why.empty()) throw std::runtime_error(why);
  if (TestBackend() == "sqlite") {
    std::random_device device;
    for (int attempt = 0; attempt < 100 && sqlite_dir_.empty(); ++attempt) {
      fs::path candidate = fs::temp_directory_path() / ("meta_db_testdb_" + std::to_string(device()));
      if (fs::create_directory(candidate)) sqlite_dir_ = candidate;
    }
    if (sqlite_dir_.empty()) throw std::runtime_error("cannot create a temporary directory");
    sqlite_file_ = sqlite_dir_ / (std::string(hint.empty() ? "catalogue" : hint) + ".sqlite");
    uri_ = "sqlite:" + sqlite_file_.string();
    return;
  }
  // Unique across processes (pid), tests of one process (counter) and runs reusing a pid (random); MongoDB wants
  // fewer than 64 characters and none of "/\\. \"$".
  static std::atomic<unsigned> counter{0};
  std::random_device device;
  char random[9];
  std::snprintf(random, sizeof random, "%08x", static_cast<unsigned>(device()));
  mongo_database_ = "mdbt_" + std::to_string(::getpid()) + "_" + std::to_string(counter.fetch_add(1)) + "_" + random;
  uri_ = MongoTestUri(mongo_database_);
}

const fs::path& TestDatabase::sqlite_file() const {
  if (sqlite_file_.empty()) throw std::runtime_error("TestDatabase::sqlite_file() on the " + TestBackend() + " back-end");
  return sqlite_file_;
}

void TestDatabase::Drop() {
  if (!sqlite_dir_.empty()) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(sqlite_dir_, ec)) fs::remove_all(entry.path(), ec);
    return;
  }
  if (mongo_database_.empty()) return;
  try {
    ClientPtr client = MongoClient(uri_);
    mongoc_database_t* database = mongoc_client_get_database(client.get(), mongo_database_.c_str());
    bson_error_t error;
    const bool ok = mongoc_database_drop_with_opts(database, nullptr, &error);
    mongoc_database_destroy(database);
    // "ns not found" (code 26): nothing was ever written there.
    if (!ok && error.code != 26) {
      std::cerr << "warning: cannot drop the test database " << mongo_database_ << ": " << error.message << "\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "warning: cannot drop the test database " << mongo_database_ << ": " << e.what() << "\n";
  }
}

TestDatabase::~TestDatabase() {
  Drop();
  if (!sqlite_dir_.empty()) {
    std::error_code ec;
    fs::remove_all(sqlite_dir_, ec);
  }
}

bool IsFerretDb() {
  if (TestBackend() != "mongodb" || !BackendUnavailable().empty()) return false;
  static std::once_flag once;
  static bool ferret = false;
  std::call_once(once, [] {
    ClientPtr client = MongoClient(MongoTestUri("admin"));
    bson_t command, reply;
    bson_init(&command);
    BSON_APPEND_INT32(&command, "buildInfo", 1);
    bson_error_t error;
    const bool ok = mongoc_client_command_simple(client.get(), "admin", &command, nullptr, &reply, &error);
    bson_destroy(&command);
    if (!ok) {
      bson_destroy(&reply);
      throw std::runtime_error(std::string("buildInfo on ") + kMongoUriVariable + " failed: " + error.message);
    }
    bson_iter_t iter;
    ferret = bson_iter_init_find(&iter, &reply, "ferretdbVersion");
    bson_destroy(&reply);
  });
  return ferret;
}

}  // namespace meta_db::testing
