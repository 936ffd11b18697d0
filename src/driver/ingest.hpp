// Ingest: from an archive root to the catalogue — walk, parallel header extraction, aggregation into the
// seed's documents, idempotent batched upserts, incremental re-ingest, error register, collection cases.
// Crash safety: every batch commits its documents and the file records that produced them in one
// transaction, so after a kill the next run re-parses exactly the files whose batch did not commit.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace meta_db::driver {

struct IngestOptions {
  std::string archive;      // root directory
  std::string collection;   // --collection NAME ("" = none)
  std::string profile_dir;  // --profile DIR ("" = shipped defaults)
  int threads = 0;          // parser threads (0 = all cores)
  std::size_t batch_files = 1000;
  int shard_index = 0, shard_count = 1;  // --shard i/N: this run owns patients whose directory hashes to i
  bool progress = true;                  // progress on the error stream
  // An empty root (no file anywhere under it, nothing unseen) while the catalogue holds files under it is refused
  // (an unmounted file system looks like that) unless this is set: then every file under it has disappeared.
  bool allow_empty = false;
};

struct LevelCounts {
  std::int64_t inserted = 0, updated = 0, unchanged = 0, removed = 0;
};

struct IngestSummary {
  std::int64_t files_seen = 0;
  std::int64_t unchanged_files = 0;  // skipped by (path, size, mtime)
  std::int64_t dicom_parsed = 0;
  std::int64_t not_dicom = 0;
  std::int64_t failed = 0;      // unreadable/corrupt
  std::int64_t incomplete = 0;  // no Study/Series/SOP Instance UID
  std::int64_t duplicates = 0;  // SOP Instance UID already indexed from another file
  std::int64_t disappeared = 0;  // records of files positively seen to be absent (their instances removed)
  // What the walk could not see (extractor::UnseenPath): directories it could not open or list to the end, and
  // listed entries it could not stat. What the catalogue holds there is unknown, not gone: kept as it is, named in
  // the error register until a run sees it again.
  std::int64_t unreadable_dirs = 0;
  std::int64_t unseen_files = 0;
  std::int64_t unknown_files = 0;  // file records kept unjudged because they lie at or under an unseen path
  std::vector<std::pair<std::string, std::string>> unseen;  // the first unseen paths (directories end with '/'), why
  LevelCounts studies, series, instances;
  std::vector<std::pair<std::string, std::string>> failures;  // first failures (path, reason)
  // Files read despite lying about themselves (e.g. a dataset encoded other than its transfer syntax says): the
  // instance carries the note in `read_notes`; the first few are listed here (path, note).
  std::int64_t noted = 0;
  std::vector<std::pair<std::string, std::string>> notes;
  // LIDC reader XML (docs/annotations.md): files read this run, marks linked to a catalogued series and marks kept
  // without one (their series is not in the catalogue yet), series whose annotation summary was recomputed.
  std::int64_t annotation_files = 0;
  std::int64_t annotations_linked = 0, annotations_unlinked = 0, annotated_series = 0;
  std::vector<std::string> warnings;  // problems that lost nothing (e.g. a background checkpoint that failed)
  double seconds = 0;
  double files_per_second = 0;
};

// Opens the store to ingest into (called once, on another thread, while the archive walk already starts).
using StoreOpener = std::function<std::unique_ptr<Store>()>;

// Runs one ingest. Throws Error(kBadRequest) for a missing or bad root, an empty root the catalogue holds files under
// (without allow_empty) or a bad profile, and what `open_store` throws (e.g. kUnavailable for a locked or read-only
// store); per-file and per-directory problems never throw (they are counted and registered).
IngestSummary RunIngest(const StoreOpener& open_store, const IngestOptions& options, std::ostream& progress);

// {"files_seen":..., "studies":{"inserted":...}, ...} for scripts.
std::string SummaryJson(const IngestSummary& summary);
// The human summary printed at the end of a run.
void PrintSummary(const IngestSummary& summary, std::ostream& out);

}  // namespace meta_db::driver
