// meta_db's HTTP server: the REST API, /openapi.json, Swagger UI at /docs and the dashboard's static files.
// Thread-safety: RunServer uses `store` from several threads at once (Store is thread-safe by contract).
#pragma once

#include "db_api/dictionary.hpp"
#include "db_api/auth.hpp"
#include "store/store.hpp"

#include <cstddef>
#include <functional>
#include <string>

namespace meta_db {

struct ServeOptions {
  std::string host = "127.0.0.1";  // also "::1", "0.0.0.0", "::"
  unsigned short port = 8000;      // 0 picks a free port (see on_listening)
  int threads = 0;                 // network I/O threads; <= 0: one per core
  // Store work runs on its own pool, apart from the I/O threads (docs/api.md "Threads and limits"): `workers`
  // threads (<= 0: 4 per core, at least 4) and at most `queue` requests waiting for one; past that 503 + Retry-After.
  int workers = 0;
  std::size_t queue = 256;
  std::size_t max_connections = 512;  // open connections; more are answered 503 and closed at once
  std::size_t header_limit = 16 * 1024;  // bytes of request line + headers; larger is a 431
  std::size_t max_header_fields = 100;   // more header fields is a 431
  int header_timeout_seconds = 10;       // a request's headers must be complete this long after its first byte
  std::size_t min_body_rate = 4096;      // bytes/s a body must average once `header_timeout_seconds` have passed
  std::size_t body_limit = 1 << 20;  // bytes; larger bodies get 413
  std::string web_root;  // dashboard build; "" looks at $META_DB_WEB_ROOT, then dashboard/dist (landing page if none)
  // swagger-ui-dist directory; "" looks at $META_DB_SWAGGER_DIR, then the source tree's
  // src/db_api/swagger/node_modules/swagger-ui-dist (installed by `npm ci` there).
  std::string swagger_dir;
  int read_timeout_seconds = 30;     // keep-alive idle limit (waiting for a request's first byte); also per write
  int shutdown_grace_seconds = 10;   // in-flight requests get this long after SIGINT/SIGTERM
  bool access_log = true;            // one spdlog line per request
  std::function<void(unsigned short port)> on_listening;  // called once bound (tests pass port 0)
  db_api::SecurityOptions security;  // tokens, roles, rate limit, CORS, audit (db_api/auth.hpp)
  db_api::DictionaryLookup dictionary;  // GET /dictionary; unset: no keyword is known
};

// Serves until SIGINT or SIGTERM, then stops accepting, lets in-flight requests finish and returns 0.
// Returns 1 (after logging why) if the address cannot be bound.
int RunServer(Store& store, const ServeOptions& options);

}  // namespace meta_db
