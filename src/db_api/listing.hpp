// Query-string filters of the list endpoints, turned into one MongoDB-style filter and a query::Query.
#pragma once

#include "db_api/http.hpp"
#include "db_api/router.hpp"
#include "model/kind.hpp"
#include "query/query.hpp"
#include "store/store.hpp"

#include <boost/json/object.hpp>

#include <vector>

namespace meta_db::db_api {

// The parameters a list endpoint of `kind` accepts (documented in OpenAPI from this same list).
std::vector<ParamDoc> ListParams(Kind kind);
// Paging/sort parameters only (child lists, /errors).
std::vector<ParamDoc> PagingParams(bool with_sort);

// skip/limit from the query string; 400 naming the parameter when malformed or over kMaxLimit.
void ParsePaging(const Request& request, std::int64_t& skip, std::int64_t& limit);

// Builds the query for GET /{kind}: every recognised parameter becomes a filter clause, combined with `extra`
// (e.g. {"study_id": id}) under one $and. Throws 400 naming the parameter on a bad value.
query::Query BuildListQuery(Kind kind, const Request& request, const boost::json::object& extra = {});

// Compiles a filter document with the query module (the single entry point to its parser).
query::Query MakeQuery(const boost::json::object& filter);

// {"results", "total", "limit", "skip"}.
Response ListResponse(const FindResult& result, const query::Query& query);

// Escapes regex metacharacters so user text is matched literally.
std::string EscapeRegex(std::string_view text);

}  // namespace meta_db::db_api
