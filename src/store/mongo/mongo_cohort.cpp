// FindCohort on the MongoDB store by staged id sets: one projected scan per level with that level's own filter (the
// server, FerretDB in particular, has no index to use for a join), the sets joined in memory, then the page read by
// _id or series_id $in lists cut into chunks.
#include "common/error.hpp"
#include "query/filter_tree.hpp"
#include "store/mongo/mongo_codec.hpp"
#include "store/mongo/mongo_errors.hpp"
#include "store/mongo/mongo_filter.hpp"
#include "store/mongo/mongo_session.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <set>

namespace meta_db::mongo {

namespace {

constexpr std::size_t kIdChunk = 1000;  // $in lists we build: far below the filter language's and servers' limits

class Budget {
 public:
  explicit Budget(int ms) : deadline_(std::chrono::steady_clock::now() + std::chrono::milliseconds(ms)) {}
  // What is left for the next server call (at least 1 ms: 0 would mean "no limit" to the server).
  std::int64_t Left() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
    if (left.count() <= 0) throw Error(Errc::kTimeout, "query exceeded its time budget and was interrupted");
    return left.count();
  }

 private:
  std::chrono::steady_clock::time_point deadline_;
};

std::optional<ObjectId> OidField(const bson_t* doc, const char* field) {
  bson_iter_t iter;
  if (bson_iter_init_find(&iter, doc, field) && BSON_ITER_HOLDS_OID(&iter)) return ToObjectId(*bson_iter_oid(&iter));
  return std::nullopt;
}

// find(filter) projected on `fields` (and _id); every document handed to visit.
template <typename Visit>
void ScanFields(mongoc_collection_t* collection, const Bson& filter, std::initializer_list<const char*> fields,
                const Budget& budget, std::string_view what, Visit&& visit) {
  Bson opts;
  bson_t projection;
  bson_append_document_begin(opts.get(), "projection", 10, &projection);
  bson_append_int32(&projection, "_id", 3, 1);
  for (const char* field : fields) bson_append_int32(&projection, field, -1, 1);
  bson_append_document_end(opts.get(), &projection);
  bson_append_int64(opts.get(), "maxTimeMS", 9, budget.Left());
  CursorPtr cursor(mongoc_collection_find_with_opts(collection, filter.get(), opts.get(), nullptr));
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor.get(), &doc)) visit(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) Throw(error, what);
}

// Instances per series among those matching `filter`: one $group on the server.
std::map<ObjectId, std::int64_t> InstancesPerSeries(mongoc_collection_t* instances, const Bson& filter,
                                                    const Budget& budget) {
  Bson pipeline;
  bson_t stages, match, group, group_doc, count;
  bson_append_array_begin(pipeline.get(), "pipeline", 8, &stages);
  bson_append_document_begin(&stages, "0", 1, &match);
  bson_append_document(&match, "$match", 6, filter.get());
  bson_append_document_end(&stages, &match);
  bson_append_document_begin(&stages, "1", 1, &group);
  bson_append_document_begin(&group, "$group", 6, &group_doc);
  bson_append_utf8(&group_doc, "_id", 3, "$series_id", 10);
  bson_append_document_begin(&group_doc, "n", 1, &count);
  bson_append_int32(&count, "$sum", 4, 1);
  bson_append_document_end(&group_doc, &count);
  bson_append_document_end(&group, &group_doc);
  bson_append_document_end(&stages, &group);
  bson_append_array_end(pipeline.get(), &stages);
  Bson opts;
  bson_append_int64(opts.get(), "maxTimeMS", 9, budget.Left());
  CursorPtr cursor(mongoc_collection_aggregate(instances, MONGOC_QUERY_NONE, pipeline.get(), opts.get(), nullptr));
  std::map<ObjectId, std::int64_t> counts;
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    bson_iter_t n;
    const auto series = OidField(doc, "_id");
    if (series && bson_iter_init_find(&n, doc, "n")) counts[*series] += bson_iter_as_int64(&n);
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) Throw(error, "count instances per series");
  return counts;
}

// {path: {$in: ids[begin, begin + kIdChunk)}} AND-ed with `own` when there is one.
query::Filter ChunkFilter(const query::Filter* own, std::string_view path, const std::vector<ObjectId>& ids,
                          std::size_t begin) {
  query::Filter in;
  in.op = query::Op::kIn;
  in.path = std::string(path);
  in.parts = {std::string(path)};
  boost::json::array values;
  for (std::size_t i = begin; i < std::min(ids.size(), begin + kIdChunk); ++i) values.emplace_back(ids[i].ToHex());
  in.value = std::move(values);
  if (own == nullptr) return in;
  query::Filter both;
  both.op = query::Op::kAnd;
  both.children = {*own, std::move(in)};
  return both;
}

}  // namespace

CohortResult MongoSession::FindCohort(const CohortQuery& cohort) {
  CheckCohortQuery(cohort);
  FlushCatalog();
  const Budget budget(connection_.options().query_budget_ms);
  const bool text_index = connection_.text_index();
  const bool need_studies = cohort.studies || cohort.count || cohort.level == Kind::kStudies;
  std::map<ObjectId, std::string> studies;  // matching the studies filter -> patient_id
  if (need_studies) {
    ScanFields(Collection(Kind::kStudies), EncodeFilter(cohort.studies.get(), "", text_index), {"patient_id"}, budget,
               "cohort studies", [&](const bson_t* doc) {
                 const auto id = OidField(doc, "_id");
                 if (!id) return;
                 bson_iter_t patient;
                 std::string& value = studies[*id];
                 if (bson_iter_init_find(&patient, doc, "patient_id") && BSON_ITER_HOLDS_UTF8(&patient)) {
                   value = bson_iter_utf8(&patient, nullptr);
                 }
               });
  }
  std::map<ObjectId, std::int64_t> instances_of;  // series -> instances matching the instances filter
  // Without an instance filter a series' instances are its num_instances, which the catalogue maintains with them
  // (docs/mongodb.md): read with the series instead of grouping every instance on the server.
  if (cohort.instances) {
    instances_of = InstancesPerSeries(Collection(Kind::kInstances),
                                      EncodeFilter(cohort.instances.get(), "", text_index), budget);
  }
  std::vector<ObjectId> series;  // matching, in _id order
  std::set<ObjectId> study_ids;
  ScanFields(Collection(Kind::kSeries), EncodeFilter(cohort.series.get(), "", text_index), {"study_id", "num_instances"},
             budget, "cohort series", [&](const bson_t* doc) {
               const auto id = OidField(doc, "_id");
               if (!id) return;
               const auto study = OidField(doc, "study_id");
               if (cohort.studies && (!study || !studies.contains(*study))) return;
               if (cohort.instances && !instances_of.contains(*id)) return;
               if (!cohort.instances) {
                 bson_iter_t n;
                 if (bson_iter_init_find(&n, doc, "num_instances") && BSON_ITER_HOLDS_NUMBER(&n)) {
                   instances_of[*id] = bson_iter_as_int64(&n);
                 }
               }
               series.push_back(*id);
               if (study && studies.contains(*study)) study_ids.insert(*study);
             });
  std::sort(series.begin(), series.end());
  CohortResult result;
  std::set<std::string> patients;
  for (const ObjectId& study : study_ids) {
    if (const std::string& patient = studies.at(study); !patient.empty()) patients.insert(patient);
  }
  std::int64_t instances = 0;
  for (const ObjectId& id : series) {
    if (auto it = instances_of.find(id); it != instances_of.end()) instances += it->second;
  }
  result.counts = {.patients = static_cast<std::int64_t>(patients.size()),
                   .studies = static_cast<std::int64_t>(study_ids.size()),
                   .series = static_cast<std::int64_t>(series.size()),
                   .instances = instances};
  if (!cohort.count) result.counts = {};
  std::vector<ObjectId> level_ids;  // studies/series: the answer itself
  if (cohort.level == Kind::kStudies) level_ids.assign(study_ids.begin(), study_ids.end());
  if (cohort.level == Kind::kSeries) level_ids = series;
  const bool by_series = cohort.level == Kind::kInstances;
  const std::vector<ObjectId>& chunked = by_series ? series : level_ids;
  const query::Filter* own = by_series ? cohort.instances.get() : nullptr;
  const std::string_view path = by_series ? "series_id" : "_id";

  if (cohort.ids) {
    if (!by_series) {
      auto from = cohort.ids->after ? std::upper_bound(level_ids.begin(), level_ids.end(), *cohort.ids->after)
                                    : level_ids.begin();
      for (; from != level_ids.end() && static_cast<std::int64_t>(result.ids.size()) < cohort.ids->limit; ++from) {
        result.ids.push_back(*from);
      }
      return result;
    }
    for (std::size_t begin = 0; begin < chunked.size(); begin += kIdChunk) {
      query::Filter filter = ChunkFilter(own, path, chunked, begin);
      if (cohort.ids->after) {
        query::Filter after;
        after.op = query::Op::kGt;
        after.path = "_id";
        after.parts = {"_id"};
        after.value = cohort.ids->after->ToHex();
        query::Filter both;
        both.op = query::Op::kAnd;
        both.children = {std::move(filter), std::move(after)};
        filter = std::move(both);
      }
      Bson opts;
      bson_t sort;
      bson_append_document_begin(opts.get(), "sort", 4, &sort);
      bson_append_int32(&sort, "_id", 3, 1);
      bson_append_document_end(opts.get(), &sort);
      bson_append_int64(opts.get(), "limit", 5, cohort.ids->limit);
      bson_append_int64(opts.get(), "maxTimeMS", 9, budget.Left());
      bson_t projection;
      bson_append_document_begin(opts.get(), "projection", 10, &projection);
      bson_append_int32(&projection, "_id", 3, 1);
      bson_append_document_end(opts.get(), &projection);
      const Bson encoded = EncodeFilter(&filter, "", text_index);
      CursorPtr cursor(mongoc_collection_find_with_opts(Collection(Kind::kInstances), encoded.get(), opts.get(), nullptr));
      const bson_t* doc = nullptr;
      while (mongoc_cursor_next(cursor.get(), &doc)) {
        if (auto id = OidField(doc, "_id")) result.ids.push_back(*id);
      }
      bson_error_t error;
      if (mongoc_cursor_error(cursor.get(), &error)) Throw(error, "cohort instance ids");
    }
    std::sort(result.ids.begin(), result.ids.end());
    if (static_cast<std::int64_t>(result.ids.size()) > cohort.ids->limit) {
      result.ids.resize(static_cast<std::size_t>(cohort.ids->limit));
    }
    return result;
  }

  const query::Query& page = cohort.page;
  result.page.total = cohort.level == Kind::kStudies  ? static_cast<std::int64_t>(study_ids.size())
                      : cohort.level == Kind::kSeries ? static_cast<std::int64_t>(series.size())
                                                      : instances;
  std::vector<query::SortKey> sort = page.sort;
  if (std::none_of(sort.begin(), sort.end(), [](const query::SortKey& key) { return key.path == "_id"; })) {
    sort.push_back({"_id", 1});  // ties in _id order, the same on every store
  }
  std::vector<Document> docs;
  if (!by_series && page.sort.empty()) {
    // _id order: the page's ids are known; read just them.
    std::vector<ObjectId> wanted;
    for (std::int64_t i = page.skip; i < static_cast<std::int64_t>(level_ids.size()) && i - page.skip < page.limit; ++i) {
      wanted.push_back(level_ids[static_cast<std::size_t>(i)]);
    }
    for (std::size_t begin = 0; begin < wanted.size(); begin += kIdChunk) {
      query::Query q;
      q.filter = std::make_shared<query::Filter>(ChunkFilter(nullptr, "_id", wanted, begin));
      q.sort = sort;
      q.limit = static_cast<std::int64_t>(kIdChunk);
      q.count_total = false;
      for (Document& doc : Find(cohort.level, q).results) docs.push_back(std::move(doc));
    }
  } else if (page.limit > 0) {
    // Each chunk's first skip+limit in order, merged.
    for (std::size_t begin = 0; begin < chunked.size(); begin += kIdChunk) {
      budget.Left();
      query::Query q;
      q.filter = std::make_shared<query::Filter>(ChunkFilter(own, path, chunked, begin));
      q.sort = sort;
      q.limit = page.skip + page.limit;
      q.count_total = false;
      for (Document& doc : Find(cohort.level, q).results) docs.push_back(std::move(doc));
    }
    std::stable_sort(docs.begin(), docs.end(),
                     [&](const Document& a, const Document& b) { return query::CompareDocuments(a, b, sort) < 0; });
    const auto skip = std::min<std::size_t>(docs.size(), static_cast<std::size_t>(page.skip));
    docs.erase(docs.begin(), docs.begin() + static_cast<std::ptrdiff_t>(skip));
    if (docs.size() > static_cast<std::size_t>(page.limit)) docs.resize(static_cast<std::size_t>(page.limit));
  }
  for (Document& doc : docs) {
    if (page.projection) doc = query::Project(doc, *page.projection);
    if (page.as_json_text) {
      result.page.json_texts.push_back(boost::json::serialize(doc));
    } else {
      result.page.results.push_back(std::move(doc));
    }
  }
  return result;
}

}  // namespace meta_db::mongo
