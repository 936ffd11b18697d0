// Audit records of API requests and shell commands, and their JSON form.
#include "db_api/audit.hpp"

#include "common/clock.hpp"
#include "common/json_io.hpp"
#include "common/object_id.hpp"

#include <boost/json/array.hpp>

#include <pwd.h>
#include <unistd.h>

namespace meta_db::db_api {

namespace {

std::string OsUser() {
  // getpwuid_r: the reentrant form (no static buffer shared between threads).
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(::geteuid(), &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return found->pw_name;
  }
  return "uid " + std::to_string(::geteuid());
}

// The id a create answered with (201 bodies carry the stored document).
std::string CreatedId(const Response& response) {
  if (response.status != 201 || response.content_type != "application/json") return {};
  try {
    const auto body = ParseJsonObject(response.body);
    if (const auto* id = body.if_contains("_id"); id != nullptr && id->is_string()) return std::string(id->as_string());
    if (const auto* id = body.if_contains("token_id"); id != nullptr && id->is_string()) {
      return std::string(id->as_string());
    }
  } catch (const Error&) {
  }  // a body that is not JSON names no document: the record keeps the path's ids
  return {};
}

}  // namespace

std::string AuditAction(const Route* route, const Response& response) {
  if (response.status == 401 || response.status == 403) return "denied";
  if (route == nullptr || response.status == 429) return {};
  if (route->exports) return "export";
  if (route->method != "GET" && route->access != Access::kRead && route->access != Access::kPublic) return "write";
  return {};
}

AuditRecord RequestAudit(const Request& request, const Route* route, const Response& response, std::string action) {
  AuditRecord record;
  record.id = ObjectId::Generate().ToHex();
  record.at = NowIsoUtc();
  record.actor = std::string(RoleName(request.caller.role));
  record.researcher_id = request.caller.researcher_id;
  record.token_id = request.caller.token_id;
  record.action = std::move(action);
  // The route's group names what was acted on ("jobs", "studies", "access"); unrouted requests by their path.
  if (route != nullptr) {
    record.kind = route->tag;
  } else {
    const std::string_view path = std::string_view(request.path).substr(1);
    record.kind = std::string(path.substr(0, path.find('/')));
  }
  record.method = request.method;
  record.path = request.path;
  record.status = response.status;
  record.client = request.peer;
  for (const auto& [name, value] : request.path_params) {
    if (name == "id" || name == "token_id") record.document_ids.push_back(value);
  }
  if (std::string created = CreatedId(response); !created.empty()) record.document_ids.push_back(created);
  if (response.documents >= 0) {
    record.documents = response.documents;
  } else if (response.status < 300 && record.action == "write") {
    record.documents = 1;
  }
  if (response.status >= 400 && response.content_type == "application/json") {
    try {
      const auto body = ParseJsonObject(response.body);
      if (const auto* error = body.if_contains("error"); error != nullptr && error->is_object()) {
        if (const auto* message = error->as_object().if_contains("message"); message != nullptr && message->is_string()) {
          record.detail = std::string(message->as_string()).substr(0, 300);
        }
      }
    } catch (const Error&) {
    }  // not our error shape: no detail
  }
  return record;
}

void AuditCommand(Store& store, std::string action, std::string target, int exit_code, std::int64_t documents,
                  std::string detail) {
  AuditRecord record;
  record.id = ObjectId::Generate().ToHex();
  record.at = NowIsoUtc();
  record.actor = "os";
  record.researcher_id = OsUser();
  record.action = action;
  record.kind = "catalogue";
  record.method = std::move(action);
  record.path = std::move(target);
  record.status = exit_code;
  record.documents = documents;
  record.detail = std::move(detail);
  store.Write([&](Session& session) { session.AppendAudit(record); });
}

boost::json::object AuditJson(const AuditRecord& record) {
  boost::json::array ids;
  for (const std::string& id : record.document_ids) ids.emplace_back(id);
  return {{"_id", record.id},
          {"at", record.at},
          {"actor", record.actor},
          {"researcher_id", record.researcher_id},
          {"token_id", record.token_id},
          {"action", record.action},
          {"kind", record.kind},
          {"method", record.method},
          {"path", record.path},
          {"status", record.status},
          {"documents", record.documents},
          {"document_ids", std::move(ids)},
          {"client", record.client},
          {"detail", record.detail}};
}

std::string RedactUri(std::string_view uri) {
  const auto scheme = uri.find("://");
  if (scheme == std::string_view::npos) return std::string(uri);
  const auto host_end = uri.find('/', scheme + 3);
  const auto at = uri.substr(0, host_end).rfind('@');
  if (at == std::string_view::npos || at < scheme) return std::string(uri);
  return std::string(uri.substr(0, scheme + 3)) + "***" + std::string(uri.substr(at));
}

std::vector<ParamDoc> AuditParams() {
  return {{"actor", "string", "admin | researcher | local | anonymous | os"},
          {"researcher_id", "string", "a researcher's business id (for os: the OS user)"},
          {"token_id", "string", "the token used"},
          {"action", "string", "write | export | denied | ingest | check | migrate"},
          {"kind", "string", "what was acted on: researchers | collections | studies | series | instances | jobs | "
                             "access | query | catalogue (commands) | ..."},
          {"method", "string", "HTTP method (GET, POST, PATCH, DELETE) or the command"},
          {"status", "integer", "HTTP status (or a command's exit code)"},
          {"path_prefix", "string", "request paths starting with this"},
          {"since", "string", "ISO-8601 UTC, inclusive"},
          {"until", "string", "ISO-8601 UTC, exclusive"},
          {"limit", "integer", "page size, default 50, max 1000"},
          {"skip", "integer", "records to skip, default 0"}};
}

}  // namespace meta_db::db_api
