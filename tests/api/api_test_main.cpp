// gtest main for the API tests: one real server process on 127.0.0.1 for the whole run, on a fresh database of the
// back-end under test (META_DB_TEST_BACKEND), stopped gracefully.
#include "api_test_util.hpp"
#include "server_process.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>

namespace meta_db::api_test {

namespace {

// Owned by the environment that gtest keeps for the run; reached through SharedServer().
struct Shared {
  std::unique_ptr<testing::TempDir> dir;
  std::unique_ptr<testing::TestDatabase> db;
  std::unique_ptr<ServerProcess> server;
};

Shared& State() {
  static Shared shared;
  return shared;
}

class ServerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();  // skips every test
    State().dir = std::make_unique<testing::TempDir>();
    State().db = std::make_unique<testing::TestDatabase>("api");
    const auto web = State().dir->path() / "web";
    std::filesystem::create_directories(web / "assets");
    std::ofstream(web / "index.html") << "<!doctype html><title>dashboard</title>";
    std::ofstream(web / "assets" / "app.js") << "console.log('dashboard');";
    std::ofstream(State().dir->path() / "secret.txt") << "outside the web root";
    State().server = std::make_unique<ServerProcess>(State().dir->path(), web.string(), State().db->uri());
  }
  void TearDown() override {
    // Graceful shutdown on SIGTERM must exit 0.
    if (State().server) {
      EXPECT_EQ(State().server->Stop(), 0);
    }
    State().server.reset();
    State().db.reset();  // after the server is gone
    State().dir.reset();
  }
};

}  // namespace

ServerProcess& SharedServer() { return *State().server; }
std::filesystem::path SharedWebRoot() { return State().dir->path() / "web"; }

}  // namespace meta_db::api_test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new meta_db::api_test::ServerEnvironment);  // gtest takes ownership
  return RUN_ALL_TESTS();
}
