// Paged server-side finds and job-record writes for the catalog layer.
#include "catalog/record_io.hpp"

#include "common/clock.hpp"
#include "query/query.hpp"

namespace meta_db::catalog {

void VisitFound(CatalogSession& session, Kind kind, const boost::json::object& filter,
                const std::vector<std::string>& projection, const std::function<void(const Document&)>& visit) {
  query::Query query;
  if (!filter.empty()) query.filter = query::ParseFilter(filter);
  if (!projection.empty()) query.projection = query::Projection{true, projection};
  query.sort = {{"_id", 1}};
  query.count_total = false;
  query.limit = query::kMaxLimit;
  for (query.skip = 0;; query.skip += query.limit) {
    FindResult page = session.Find(kind, query);
    for (const Document& doc : page.results) visit(doc);
    if (static_cast<std::int64_t>(page.results.size()) < query.limit) break;
  }
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
