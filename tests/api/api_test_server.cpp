// Test-only launcher: RunServer on a SQLite file, so the API tests do not depend on main.cpp's CLI.
#include "db_api/server.hpp"
#include "store/store.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"meta_db API test server"};
  std::string db = "sqlite:api_test.sqlite";
  meta_db::ServeOptions options;
  app.add_option("--db", db);
  app.add_option("--host", options.host);
  app.add_option("--port", options.port);
  app.add_option("--threads", options.threads);
  app.add_option("--web-root", options.web_root);
  app.add_option("--swagger-dir", options.swagger_dir);
  app.add_option("--body-limit", options.body_limit);
  bool quiet = false;
  app.add_flag("--quiet", quiet, "no access log");
  CLI11_PARSE(app, argc, argv);
  options.access_log = !quiet;
  options.on_listening = [](unsigned short port) { std::cout << "PORT " << port << std::endl; };
  auto store = meta_db::OpenStore(db);
  return meta_db::RunServer(*store, options);
}
