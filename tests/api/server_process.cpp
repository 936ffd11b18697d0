// Process control for the black-box API tests.
#include "server_process.hpp"

#include "http_client.hpp"

#include <csignal>
#include <fstream>
#include <iostream>
#include <cstdlib>
#include <fcntl.h>
#include <stdexcept>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace meta_db::api_test {

ServerProcess::ServerProcess(const std::filesystem::path& dir, const std::string& web_root, const std::string& db_uri)
    : port_(FreePort()), db_uri_(db_uri) {
  std::vector<std::string> args;
  const char* use_main = std::getenv("META_DB_API_USE_MAIN");
  if (use_main != nullptr && std::string(use_main) == "1") {
    args = {std::getenv("META_DB_BIN"), "serve"};
  } else {
    args = {META_DB_API_TEST_SERVER, "--body-limit", "1048576"};
  }
  for (const std::string& arg : {std::string("--db"), db_uri_, std::string("--port"),
                                 std::to_string(port_), std::string("--threads"), std::string("4")}) {
    args.push_back(arg);
  }
  if (!web_root.empty()) {
    args.push_back("--web-root");
    args.push_back(web_root);
  }
  log_path_ = dir / "server.log";
  Start(std::move(args), {});
}

ServerProcess::ServerProcess(const std::filesystem::path& dir, const std::string& db_uri,
                             const std::vector<std::string>& extra_args, const std::vector<std::string>& env)
    : port_(FreePort()), db_uri_(db_uri) {
  std::vector<std::string> args{std::getenv("META_DB_BIN"), "serve", "--db", db_uri_, "--port", std::to_string(port_),
                                "--threads", "4"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  log_path_ = dir / ("server-" + std::to_string(port_) + ".log");
  Start(std::move(args), env);
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_path_);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void ServerProcess::Start(std::vector<std::string> args, const std::vector<std::string>& env) {
  const std::string log = log_path_.string();
  std::vector<std::string> environment = env;
  pid_ = ::fork();
  if (pid_ == 0) {
    for (std::string& entry : environment) ::putenv(entry.data());
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a crashed test run must not leave servers behind
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  // Ready when /health answers (bounded: 20 s).
  for (int i = 0; i < 400; ++i) {
    try {
      HttpClient client(port_);
      if (client.Get("/health").status == 200) return;
    } catch (const std::exception&) {
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("server exited at start; see " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("server did not become ready; see " + log);
}

ServerProcess::~ServerProcess() { Stop(); }

void ServerProcess::Signal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
  signalled_ = signalled_ || signal == SIGTERM;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  if (!signalled_) ::kill(pid_, SIGTERM);
  signalled_ = true;
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      if (code != 0) {
        // The server's own log says why (sanitizer report, exception): show its tail with the failure.
        std::ifstream in(log_path_);
        std::string line, tail;
        while (std::getline(in, line)) tail = (tail.size() > 20000 ? tail.substr(10000) : tail) + line + "\n";
        std::cerr << "server exited with " << code << " (signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0)
                  << "); log tail:\n" << tail;
      }
      return code;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

}  // namespace meta_db::api_test
