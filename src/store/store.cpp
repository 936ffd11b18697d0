// The back-end-neutral parts of the store interfaces.
#include "store/store.hpp"

#include <boost/json/string.hpp>

namespace meta_db {

std::vector<Document> CatalogSession::GetByKeys(Kind kind, const std::vector<std::string>& values) {
  std::vector<Document> docs;
  for (const std::string& value : values) {
    if (auto doc = GetByKey(kind, value)) docs.push_back(std::move(*doc));
  }
  return docs;
}

std::map<ObjectId, std::vector<ObjectId>> CatalogSession::ChildIdsOf(Kind child_kind,
                                                                    const std::vector<ObjectId>& parents) {
  std::map<ObjectId, std::vector<ObjectId>> children;
  for (const ObjectId& parent : parents) children[parent] = ChildIds(child_kind, parent);
  return children;
}

void CatalogSession::VisitAll(Kind kind, std::int64_t page,
                              const std::function<void(std::vector<Document>& docs)>& visit) {
  std::string last;
  while (true) {
    query::Query q;
    if (!last.empty()) {
      q.filter = query::ParseFilter(boost::json::object{{"_id", boost::json::object{{"$gt", last}}}});
    }
    q.sort = {{"_id", 1}};
    q.limit = page;
    q.count_total = false;
    FindResult result = Find(kind, q);
    if (result.results.empty()) return;
    last = result.results.back().at("_id").as_string();
    const bool more = static_cast<std::int64_t>(result.results.size()) == page;
    visit(result.results);
    if (!more) return;
  }
}

StoreCounts Session::Counts() {
  return {.researchers = Count(Kind::kResearchers),
          .collections = Count(Kind::kCollections),
          .studies = Count(Kind::kStudies),
          .series = Count(Kind::kSeries),
          .instances = Count(Kind::kInstances),
          .jobs = Count(Kind::kJobs),
          .errors = CountErrors()};
}

}  // namespace meta_db
