// A job's resolution: its identifiers (accession numbers, patient ids, StudyInstanceUIDs) looked up in chunks over
// the studies' indexed fields, a per-identifier report, totals per level, a snapshot of the matched series (with
// what changed since the previous one), and the job's collection linked (collection_links.hpp).
// Thread-safety: ResolveJob takes the Store (read units, then one write unit); the rest work on one session.
// Errors: the store's; kNotFound when the job is gone.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace meta_db::catalog {

inline constexpr std::size_t kMaxJobIdentifiers = 100000;

// Called as resolution advances (0..100); returning false abandons it (a server stopping), leaving the job as it
// was for the next start to resume.
using JobProgress = std::function<bool(int percent)>;

// Resolves job `id` and writes its report, snapshot, links and the job itself (status done). Returns the stored
// job, or nullopt when it was deleted meanwhile or the progress callback abandoned the run.
// only_when_changed (re-evaluation after an ingest): a done job whose series and totals are what its snapshot says is
// left untouched (no snapshot, no write).
std::optional<Document> ResolveJob(Store& store, const ObjectId& id, const JobProgress& progress = {},
                                   bool only_when_changed = false);

// Re-resolves every job whose status is done (after an ingest). Returns how many were resolved.
std::int64_t ReevaluateJobs(Store& store);

// Undoes what the job linked and removes its records (before the job itself is removed).
void UnlinkJob(CatalogSession& session, const Document& job);

// One page of a job's report, entries in request order: {identifier, type, status, reason, patient_id, studies,
// series, instances}. `status` "" for all; limit < 0 for no limit.
struct ReportPage {
  std::vector<Document> results;
  std::int64_t total = 0;
};
ReportPage JobReport(CatalogSession& session, const ObjectId& job, std::string_view status, std::int64_t skip,
                     std::int64_t limit);

// A job's snapshots, oldest first: {hash, series, at, ingest, added, removed}.
std::vector<Document> JobSnapshots(CatalogSession& session, const ObjectId& job);

}  // namespace meta_db::catalog
