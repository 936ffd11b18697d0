// The back-end-neutral parts of the store interfaces.
#include "store/store.hpp"

#include "common/error.hpp"

#include <boost/json/string.hpp>

namespace meta_db {

void CheckCohortQuery(const CohortQuery& cohort) {
  if (cohort.level != Kind::kStudies && cohort.level != Kind::kSeries && cohort.level != Kind::kInstances) {
    throw Error(Errc::kBadRequest, "a cohort returns studies, series or instances", boost::json::object{{"field", "return"}});
  }
  if (cohort.ids && (cohort.ids->limit < 1 || cohort.ids->limit > kMaxCohortIdsPage)) {
    throw Error(Errc::kBadRequest, "an ids page holds 1 to " + std::to_string(kMaxCohortIdsPage) + " ids",
                boost::json::object{{"field", "limit"}});
  }
  if (cohort.page.skip < 0 || cohort.page.limit < 0) {
    throw Error(Errc::kBadRequest, "skip and limit must be non-negative");
  }
}

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
  ScanQuery scan;
  scan.page = page;
  ScanPages(kind, scan, [&](std::vector<Document>& docs) {
    visit(docs);
    return true;
  });
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
