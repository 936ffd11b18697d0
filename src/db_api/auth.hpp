// Access control of the HTTP API: the security options of `serve`, the bind policy, and the RequestGuard that
// authenticates (admin token, researchers' API tokens), authorizes (Route::access, ownership), rate-limits, answers
// CORS and writes the audit log. docs/security.md, "Security model", states the rules.
// Thread-safety: the guard is shared by every request thread (its rate limiter is synchronised).
#pragma once

#include "db_api/http.hpp"
#include "db_api/router.hpp"
#include "store/store.hpp"

#include <memory>
#include <string>
#include <vector>

namespace meta_db::db_api {

struct SecurityOptions {
  std::string admin_token;  // "" = no access control: the single local user, loopback only
  bool public_read = false;  // read-only endpoints answer without a token
  double rate_per_second = 50;  // per token (or per client address without one); <= 0 disables
  double rate_burst = 200;      // bucket size
  std::vector<std::string> cors_origins;  // exact origins ("http://localhost:5173"); empty = CORS off
};

// The admin token from --admin-token-file (first line, trimmed) or else $META_DB_ADMIN_TOKEN; "" if neither.
// Errors: kBadRequest for an unreadable file, or a token shorter than 16 characters.
std::string LoadAdminToken(const std::string& token_file);

// kBadRequest (with what to do) when `host` is not a loopback address and no admin token is configured.
void CheckBindPolicy(const std::string& host, const SecurityOptions& options);
bool IsLoopbackHost(const std::string& host);

// The guard for a store and options; it reads tokens and appends audit records through `store`.
std::unique_ptr<RequestGuard> MakeRequestGuard(Store& store, SecurityOptions options);

// Ownership, for handlers: whether the caller may change a document owned by researcher `owner` (its _id) or, for
// jobs, `owner_id` (its business id). Admins and the local user may change anything. Throws kForbidden otherwise.
void RequireOwner(const Request& request, Kind kind, const Document& doc);
bool IsResearcher(const Request& request);

}  // namespace meta_db::db_api
