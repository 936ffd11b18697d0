// BatchWriter: turns parsed files into idempotent upserts of studies, series and instances, one
// transaction per batch together with the file records and error-register entries that produced them.
#pragma once

#include "driver/ingest.hpp"
#include "meta_extractor/archive_scan.hpp"

#include <map>
#include <set>
#include <unordered_map>

namespace meta_db::driver {

class BatchWriter {
 public:
  // `previous`: file records of the last ingest under the root (to detect changed SOP UIDs).
  BatchWriter(Store& store, std::optional<ObjectId> collection_id,
              const std::unordered_map<std::string, FileRecord>& previous, IngestSummary& summary);

  // Queues a parsed file; flushes when the batch is full.
  void Add(extractor::ScanItem&& item, std::size_t batch_files);
  // Writes everything queued in one transaction.
  void Flush();
  // Removes what files that no longer exist contributed (instances; series and studies left empty).
  void RemoveDisappeared(const std::vector<FileRecord>& gone);
  // Fills the study/series counts of the summary (each document counted once per run).
  void Finish();

 private:
  struct Touched;
  void WriteBatch(Session& session, std::vector<extractor::ScanItem>& items, Touched& touched);
  void DropInstanceOf(Session& session, const std::string& path, const std::string& sop, Touched& touched);
  void FinishTouched(Session& session, Touched& touched);
  void UpdateCases(Session& session, const std::map<std::string, std::set<std::string>>& patients);

  Store& store_;
  std::optional<ObjectId> collection_id_;
  const std::unordered_map<std::string, FileRecord>& previous_;
  IngestSummary& summary_;
  std::vector<extractor::ScanItem> pending_;
  // Run-wide sets so a study or series touched by several batches is counted once.
  std::set<ObjectId> studies_inserted_, studies_updated_, studies_seen_;
  std::set<ObjectId> series_inserted_, series_updated_, series_seen_;
};

}  // namespace meta_db::driver
