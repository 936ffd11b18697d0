// Shared test helpers: temporary directories, running the real meta_db binary, reading files.
#pragma once

#include <filesystem>
#include <string>
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

}  // namespace meta_db::testing
