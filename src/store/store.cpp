// The back-end-neutral parts of the store interfaces.
#include "store/store.hpp"

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
