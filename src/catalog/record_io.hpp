// Server-built finds over the catalogue for the catalog layer: whole result sets paged through, job records written.
// Filters are built here from constants and chunked values (ChunkValues), so they stay inside the filter language's
// limits. Thread-safety: one session, its thread. Errors: the store's.
#pragma once

#include "store/store.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <string>
#include <vector>

namespace meta_db::catalog {

// Every document matching `filter` (in _id order), `projection` paths only when given (CatalogSession::ScanPages).
void VisitFound(CatalogSession& session, Kind kind, const boost::json::object& filter,
                const std::vector<std::string>& projection, const std::function<void(const Document&)>& visit);
std::vector<Document> FindAll(CatalogSession& session, Kind kind, const boost::json::object& filter,
                              const std::vector<std::string>& projection = {});

// Job records (Kind::kJobRecords) matching `filter`, whole.
void VisitRecords(CatalogSession& session, const boost::json::object& filter,
                  const std::function<void(const Document&)>& visit);
void RemoveRecords(CatalogSession& session, const boost::json::object& filter);
// Inserts a record under a new _id (time-ordered, so records written in order read back in order).
void InsertRecord(CatalogSession& session, Document record);

// The value at a dotted path, or null.
const boost::json::value* AtPath(const Document& doc, std::string_view path);

}  // namespace meta_db::catalog
