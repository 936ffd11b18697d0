// Starts the API server under test as a real process on 127.0.0.1 and stops it with SIGTERM.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace meta_db::api_test {

class ServerProcess {
 public:
  // Runs the test server (or, with META_DB_API_USE_MAIN=1, `$META_DB_BIN serve`) with `--db db_uri` (a store of the
  // back-end under test: testing::TestDatabase); its log goes to dir/server.log.
  ServerProcess(const std::filesystem::path& dir, const std::string& web_root, const std::string& db_uri);
  // Always `$META_DB_BIN serve --db db_uri` plus `extra_args`, with `env` ("NAME=value") added to its environment.
  ServerProcess(const std::filesystem::path& dir, const std::string& db_uri, const std::vector<std::string>& extra_args,
                const std::vector<std::string>& env);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  unsigned short port() const { return port_; }
  // The --db URI the server runs on.
  const std::string& db_uri() const { return db_uri_; }
  // SIGTERM, then waits (bounded); returns the exit status (or -1 if it had to be killed).
  int Stop();
  // The server's log so far (for diagnostics).
  std::string Log() const;
  void Signal(int signal) const;

 private:
  pid_t pid_ = -1;
  mutable bool signalled_ = false;  // a second SIGTERM would cut the graceful shutdown short
  unsigned short port_ = 0;
  std::string db_uri_;
  std::filesystem::path log_path_;

  void Start(std::vector<std::string> args, const std::vector<std::string>& env);
};

// The server shared by all tests of the binary (started by the test environment in api_test_main.cpp).
ServerProcess& SharedServer();
std::filesystem::path SharedWebRoot();

}  // namespace meta_db::api_test
