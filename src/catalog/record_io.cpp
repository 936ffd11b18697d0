// Paged server-side finds and job-record writes for the catalog layer.
#include "catalog/record_io.hpp"

#include "common/clock.hpp"
#include "common/error.hpp"
#include "query/query.hpp"

#include <algorithm>

namespace meta_db::catalog {

namespace {

// Pages of job records are kept small: a report or UID chunk is ~100-200 KB, so a page of kMaxLimit of them would be
// one find of many megabytes, past the query budget on a slow back-end.
constexpr std::int64_t kRecordsPerPage = 8;

}  // namespace

void VisitFound(CatalogSession& session, Kind kind, const boost::json::object& filter,
                const std::vector<std::string>& projection, const std::function<void(const Document&)>& visit) {
  // Keyset pages (`_id > last`, in _id order) rather than skip: each page is its own short find whatever the depth.
  // A page over the query budget (a slow back-end, a busy machine) is asked again in halves, down to one document:
  // background work is not cut by a budget meant for one interactive query.
  std::int64_t page_size = kind == Kind::kJobRecords ? kRecordsPerPage : query::kMaxLimit;
  std::string last;
  for (;;) {
    boost::json::object page_filter;
    if (last.empty()) {
      page_filter = filter;
    } else {
      boost::json::object after{{"_id", {{"$gt", last}}}};
      if (filter.empty()) page_filter = std::move(after);
      else page_filter["$and"] = boost::json::array{filter, std::move(after)};
    }
    query::Query query;
    if (!page_filter.empty()) query.filter = query::ParseFilter(page_filter);
    if (!projection.empty()) {
      query.projection = query::Projection{true, projection};
      if (std::find(projection.begin(), projection.end(), "_id") == projection.end()) {
        query.projection->paths.push_back("_id");
      }
    }
    query.sort = {{"_id", 1}};
    query.count_total = false;
    FindResult page;
    for (query.limit = page_size;; query.limit = page_size = std::max<std::int64_t>(1, page_size / 2)) {
      try {
        page = session.Find(kind, query);
        break;
      } catch (const Error& error) {
        if (error.code() != Errc::kTimeout || query.limit <= 1) throw;
      }
    }
    for (const Document& doc : page.results) visit(doc);
    if (static_cast<std::int64_t>(page.results.size()) < query.limit || page.results.empty()) break;
    const auto* id = page.results.back().if_contains("_id");
    if (id == nullptr || !id->is_string()) break;
    last = std::string(id->as_string());
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
