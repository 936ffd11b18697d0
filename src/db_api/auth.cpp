// The request guard: authentication (admin token, researchers' tokens), authorization by Route::access, per-caller
// rate limit, CORS, and the audit record of every write, export and refused token use.
#include "db_api/auth.hpp"

#include "common/json_io.hpp"
#include "db_api/audit.hpp"
#include "db_api/auth_rate_limit.hpp"
#include "db_api/auth_tokens.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

namespace meta_db::db_api {

namespace {

constexpr std::size_t kMinAdminTokenLength = 16;

std::string Trim(std::string text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

Response Refuse(Errc code, const std::string& message) {
  Response response = ErrorResponse(Error(code, message));
  if (code == Errc::kUnauthorized) response.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"meta_db\"");
  return response;
}

// The bearer credential of a request: nullopt without an Authorization header, "" for a malformed one.
std::optional<std::string> BearerOf(const Request& request) {
  auto it = request.headers.find("authorization");
  if (it == request.headers.end()) return std::nullopt;
  const std::string& value = it->second;
  if (value.size() < 7 || !std::equal(value.begin(), value.begin() + 7, "bearer ", [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) == b;
      })) {
    return std::string();
  }
  return Trim(value.substr(7));
}

class Guard final : public RequestGuard {
 public:
  Guard(Store& store, SecurityOptions options)
      : store_(store), options_(std::move(options)), limiter_(options_.rate_per_second, options_.rate_burst) {}

  std::optional<Response> Admit(Request& request, const Route* route) override {
    if (auto preflight = Preflight(request)) return preflight;
    if (options_.admin_token.empty()) return std::nullopt;  // the local user: everything, no limit
    if (route == nullptr || route->access == Access::kPublic) return std::nullopt;

    const auto bearer = BearerOf(request);
    std::string failure;
    if (!bearer) {
      if (!(options_.public_read && route->access == Access::kRead)) failure = "this endpoint needs a token";
      request.caller = Caller{};
      request.caller.role = Role::kAnonymous;
    } else {
      failure = Authenticate(*bearer, request.caller);
    }
    const std::string key = failure.empty() && request.caller.role == Role::kResearcher ? "token:" + request.caller.token_id
                            : failure.empty() && request.caller.role == Role::kAdmin     ? std::string("admin")
                                                                                         : "client:" + request.peer;
    if (const int wait = limiter_.Take(key); wait > 0) {
      Response response = Refuse(Errc::kTooManyRequests, "rate limit exceeded; retry in " + std::to_string(wait) + " s");
      response.headers.emplace_back("Retry-After", std::to_string(wait));
      return response;
    }
    if (!failure.empty()) {
      request.caller = Caller{};
      request.caller.role = Role::kAnonymous;
      return Refuse(Errc::kUnauthorized, failure + " (Authorization: Bearer <token>)");
    }
    return Authorize(request.caller, *route);
  }

  void Finish(const Request& request, const Route* route, Response& response) override {
    if (!options_.cors_origins.empty()) {
      response.headers.emplace_back("Vary", "Origin");
      const std::string origin = request.Header("origin");
      if (AllowedOrigin(origin)) {
        response.headers.emplace_back("Access-Control-Allow-Origin", origin);
        response.headers.emplace_back("Access-Control-Expose-Headers", "Retry-After, Location, Content-Disposition");
      }
    }
    // A refused preflight is a browser's question, not a token use: not audited (nor rate-limited).
    if (request.method == "OPTIONS") return;
    // The local user's own writes are recorded too: the log is the catalogue's history, not only a guard's.
    const std::string action = AuditAction(route, response);
    if (action.empty()) return;
    if (response.stream) {
      // A streamed export is recorded once its rows are counted, i.e. after its body went out.
      response.stream = [this, inner = std::move(response.stream), request, route, action,
                         status = response.status](BodySink& sink) {
        Response done;
        done.status = status;
        std::int64_t rows = 0;
        try {
          rows = inner(sink);
        } catch (const std::exception& ex) {
          done.documents = 0;
          AuditRecord record = RequestAudit(request, route, done, action);
          record.detail = std::string("export failed: ") + ex.what();
          store_.Write([&](Session& session) { session.AppendAudit(record); });
          throw;
        }
        done.documents = rows;
        const AuditRecord record = RequestAudit(request, route, done, action);
        store_.Write([&](Session& session) { session.AppendAudit(record); });
        return rows;
      };
      return;
    }
    const AuditRecord record = RequestAudit(request, route, response, action);
    store_.Write([&](Session& session) { session.AppendAudit(record); });
  }

 private:
  bool AllowedOrigin(const std::string& origin) const {
    return !origin.empty() &&
           std::find(options_.cors_origins.begin(), options_.cors_origins.end(), origin) != options_.cors_origins.end();
  }

  // A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) when CORS is on; nullopt otherwise.
  std::optional<Response> Preflight(const Request& request) const {
    if (options_.cors_origins.empty() || request.method != "OPTIONS") return std::nullopt;
    const std::string origin = request.Header("origin");
    if (origin.empty() || request.Header("access-control-request-method").empty()) return std::nullopt;
    if (!AllowedOrigin(origin)) {
      return Refuse(Errc::kForbidden, "origin " + origin + " is not allowed (serve --cors-origin)");
    }
    Response response;
    response.status = 204;
    response.content_type.clear();
    // Access-Control-Allow-Origin is added by Finish, as to every answer to an allowed origin.
    response.headers = {{"Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE, OPTIONS"},
                        {"Access-Control-Allow-Headers", "Authorization, Content-Type"},
                        {"Access-Control-Max-Age", "600"}};
    return response;
  }

  // "" when the credential names the admin or a valid researcher token (filling `caller`), else why not.
  std::string Authenticate(const std::string& credential, Caller& caller) {
    if (credential.empty()) return "malformed Authorization header";
    if (SameSecret(credential, options_.admin_token)) {
      caller = Caller{};
      caller.role = Role::kAdmin;
      return {};
    }
    const auto parsed = ParseToken(credential);
    if (!parsed) return "invalid token";
    std::optional<TokenRecord> token;
    std::optional<Document> researcher;
    store_.Read([&](Session& session) {
      token = session.GetToken(parsed->token_id);
      if (token) {
        if (auto id = ObjectId::Parse(token->researcher)) researcher = session.Get(Kind::kResearchers, *id);
      }
    });
    // One message for every failure: a client learns nothing about which part was wrong.
    if (!token || !VerifySecret(parsed->secret, token->salt, token->hash)) return "invalid token";
    if (!token->revoked_at.empty()) return "invalid token (revoked)";
    if (!researcher) return "invalid token (its researcher was removed)";
    caller = Caller{};
    caller.role = Role::kResearcher;
    caller.researcher = token->researcher;
    caller.token_id = token->token_id;
    if (const auto* rid = researcher->if_contains("researcher_id"); rid != nullptr && rid->is_string()) {
      caller.researcher_id = std::string(rid->as_string());
    }
    return {};
  }

  static std::optional<Response> Authorize(const Caller& caller, const Route& route) {
    switch (route.access) {
      case Access::kPublic:
      case Access::kRead: return std::nullopt;
      case Access::kWrite:
        if (caller.role == Role::kAnonymous) return Refuse(Errc::kUnauthorized, "writing needs a token");
        return std::nullopt;
      case Access::kAdmin:
        if (caller.role == Role::kAnonymous) return Refuse(Errc::kUnauthorized, "this endpoint needs the admin token");
        if (caller.role == Role::kResearcher) return Refuse(Errc::kForbidden, "only an admin may do this");
        return std::nullopt;
    }
    return std::nullopt;
  }

  Store& store_;
  SecurityOptions options_;
  RateLimiter limiter_;
};

}  // namespace

std::string LoadAdminToken(const std::string& token_file) {
  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in) throw Error(Errc::kBadRequest, "cannot read --admin-token-file " + token_file);
    std::getline(in, token);
    token = Trim(token);
    if (token.empty()) throw Error(Errc::kBadRequest, "--admin-token-file " + token_file + " is empty");
  } else if (const char* env = std::getenv("META_DB_ADMIN_TOKEN"); env != nullptr) {
    token = Trim(env);
  }
  if (!token.empty() && token.size() < kMinAdminTokenLength) {
    throw Error(Errc::kBadRequest, "the admin token must have at least " + std::to_string(kMinAdminTokenLength) +
                                       " characters (e.g. openssl rand -hex 32)");
  }
  return token;
}

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8, written as four decimal octets.
  if (!host.starts_with("127.")) return false;
  int parts = 0;
  std::size_t start = 0;
  while (start <= host.size()) {
    std::size_t end = host.find('.', start);
    if (end == std::string::npos) end = host.size();
    const std::string part = host.substr(start, end - start);
    if (part.empty() || part.size() > 3 || part.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(part) > 255) {
      return false;
    }
    ++parts;
    start = end + 1;
  }
  return parts == 4;
}

void CheckBindPolicy(const std::string& host, const SecurityOptions& options) {
  if (!options.admin_token.empty() || IsLoopbackHost(host)) return;
  throw Error(Errc::kBadRequest,
              "refusing to serve on " + host +
                  " without access control: anyone who can reach the port could read and change the catalogue. "
                  "Set META_DB_ADMIN_TOKEN (or --admin-token-file), or bind to 127.0.0.1");
}

std::unique_ptr<RequestGuard> MakeRequestGuard(Store& store, SecurityOptions options) {
  return std::make_unique<Guard>(store, std::move(options));
}

bool IsResearcher(const Request& request) { return request.caller.role == Role::kResearcher; }

void RequireOwner(const Request& request, Kind kind, const Document& doc) {
  if (!IsResearcher(request)) return;
  const Caller& caller = request.caller;
  bool owns = false;
  if (kind == Kind::kJobs) {
    const auto* owner = doc.if_contains("researcher_id");
    owns = owner != nullptr && owner->is_string() && owner->as_string() == caller.researcher_id;
  } else if (kind == Kind::kCollections) {
    const auto* owner = doc.if_contains("owner_id");
    owns = owner != nullptr && owner->is_string() && owner->as_string() == caller.researcher;
  }
  if (!owns) {
    throw Error(Errc::kForbidden, "researcher " + caller.researcher_id + " may change only its own " +
                                      std::string(CollectionName(kind)),
                boost::json::object{{"collection", CollectionName(kind)}});
  }
}

}  // namespace meta_db::db_api
