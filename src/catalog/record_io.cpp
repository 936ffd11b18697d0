// Paged server-side finds and job-record writes for the catalog layer.
#include "catalog/record_io.hpp"

#include "common/clock.hpp"
#include "common/error.hpp"
#include "query/query.hpp"

#include <algorithm>

namespace meta_db::catalog {

namespace {

// Pages of job records are kept small: a report or UID chunk is ~100-200 KB, so a page of kMaxLimit of them would be
// one find of many megabytes on a server back-end, past the query budget when the server is slow.
constexpr std::int64_t kRecordsPerPage = 8;

}  // namespace

void VisitFound(CatalogSession& session, Kind kind, const boost::json::object& filter,
                const std::vector<std::string>& projection, const std::function<void(const Document&)>& visit) {
  ScanQuery scan;
  if (!filter.empty()) scan.filter = query::ParseFilter(filter);
  if (!projection.empty()) scan.fields = projection;
  scan.page = kind == Kind::kJobRecords ? kRecordsPerPage : query::kMaxLimit;
  session.ScanPages(kind, scan, [&](std::vector<Document>& page) {
    for (const Document& doc : page) visit(doc);
    return true;
  });
}

std::vector<Document> FindAll(CatalogSession& session, Kind kind, const boost::json::object& filter,
                              const std::vector<std::string>& projection) {
  std::vector<Document> docs;
  VisitFound(session, kind, filter, projection, [&](const Document& doc) { docs.push_back(doc); });
  return docs;
}

void VisitRecords(CatalogSession& session, const boost::json::object& filter,
                  const std::function<void(const Document&)>& visit) {
  VisitFound(session, Kind::kJobRecords, filter, {}, visit);
}

void RemoveRecords(CatalogSession& session, const boost::json::object& filter) {
  std::vector<ObjectId> ids;
  VisitFound(session, Kind::kJobRecords, filter, {"_id"}, [&](const Document& doc) {
    if (auto id = ObjectId::Parse(doc.at("_id").as_string())) ids.push_back(*id);
  });
  for (const ObjectId& id : ids) session.Remove(Kind::kJobRecords, id);
}

void InsertRecord(CatalogSession& session, Document record) {
  Document doc;
  doc.reserve(record.size() + 3);
  doc["_id"] = ObjectId::Generate().ToHex();
  for (auto& field : record) doc.emplace(field.key(), std::move(field.value()));
  const std::string now = NowIsoUtc();
  doc["created_at"] = now;
  doc["updated_at"] = now;
  session.Insert(Kind::kJobRecords, doc);
}

const boost::json::value* AtPath(const Document& doc, std::string_view path) {
  const boost::json::object* at = &doc;
  for (;;) {
    const auto dot = path.find('.');
    const auto* found = at->if_contains(path.substr(0, dot));
    if (dot == std::string_view::npos || found == nullptr) return found;
    if (!found->is_object()) return nullptr;
    at = &found->as_object();
    path = path.substr(dot + 1);
  }
}

}  // namespace meta_db::catalog
