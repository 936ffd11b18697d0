// The audit log: which requests and commands are recorded, how a record is built, and GET /audit.
// Records go to the store (AccessSession::AppendAudit) in a write unit of their own; nothing edits or removes them.
#pragma once

#include "db_api/http.hpp"
#include "db_api/router.hpp"
#include "store/store.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

namespace meta_db::db_api {

// "write", "export" or "denied" when the request is audited, "" when it is not: every write attempt (a route that
// is not read-only), every export, and every refused token use (401, 403).
std::string AuditAction(const Route* route, const Response& response);

// The record of an audited request (who from request.caller, what from the route and the response).
AuditRecord RequestAudit(const Request& request, const Route* route, const Response& response, std::string action);

// Appends a record for a command run from the shell (ingest, check --repair, migrate): who is the OS user.
void AuditCommand(Store& store, std::string action, std::string target, int exit_code, std::int64_t documents,
                  std::string detail);

boost::json::object AuditJson(const AuditRecord& record);

// A database URI without its credentials ("mongodb://user:pw@host/db" -> "mongodb://***@host/db"), for records.
std::string RedactUri(std::string_view uri);

// GET /audit's query parameters (documented from this list).
std::vector<ParamDoc> AuditParams();

}  // namespace meta_db::db_api
