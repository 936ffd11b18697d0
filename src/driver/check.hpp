// `meta_db check`: verifies every invariant of the hierarchy and of the ingest ledger on any store, and repairs
// them on request. Reads the catalogue in pages and children in batches, so it works at archive scale on a server
// back-end. Thread-safety: one call at a time per store. Errors: the store's (kUnavailable, ...).
#pragma once

#include "store/store.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace meta_db::driver {

struct Violation {
  std::string invariant;   // e.g. "series.instances", "dangling study_id"
  std::string collection;  // where the offending document (or ledger entry) is
  std::string id;          // its _id, or the ledger path
  std::string detail;
};

struct CheckReport {
  std::int64_t documents = 0;  // documents and ledger entries looked at
  std::vector<Violation> violations;
  std::int64_t repaired = 0;
  boost::json::object ToJson(std::size_t max_listed) const;
};

// Verifies: studies.series[] equals the summaries of the study's series in order; series.instances[] and
// num_instances equal its instances; series.qc equals the facets of its instances' geometry (catalog/series_qc.hpp);
// series.study_id and instances.series_id point at existing parents;
// collection_ids[] (studies, series) and jobs.collection_id at existing collections; researchers.jobs[] equals the
// ids of the jobs naming the researcher; every "ok" file record's instance exists and names that file; every failed
// file record has its error register entry; every directory digest is the digest of the records it covers (else
// cleared: the next ingest looks at each file).
// With `repair`, fixes each violation (summaries and lists recomputed, dangling references dropped, orphaned
// children of deleted parents removed, stale ledger entries removed so the next ingest reads those files again).
CheckReport Check(Store& store, bool repair, const std::function<void(const std::string&)>& progress);

}  // namespace meta_db::driver
