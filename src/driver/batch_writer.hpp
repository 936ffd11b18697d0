// BatchWriter: turns parsed files into idempotent upserts of studies, series and instances, one
// transaction per batch together with the file records and error-register entries that produced them.
#pragma once

#include "catalog/series_qc.hpp"
#include "driver/annotation_link.hpp"
#include "driver/ingest.hpp"
#include "driver/known_files.hpp"
#include "driver/written_records.hpp"
#include "meta_extractor/archive_scan.hpp"

#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <set>
#include <unordered_set>

namespace meta_db::driver {

class BatchWriter {
 public:
  // `previous`: file records of the last ingest under the root (to detect changed SOP UIDs).
  BatchWriter(Store& store, std::optional<ObjectId> collection_id,
              const KnownFiles& previous, IngestSummary& summary);

  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;
  ~BatchWriter();

  // Queues a parsed file; a full batch goes to the writer thread (one transaction per batch).
  // Rethrows a failure of an earlier batch's transaction.
  void Add(extractor::ScanItem&& item, std::size_t batch_files);
  // Writes everything queued and waits until it is committed.
  void Flush();
  // Removes what files that no longer exist contributed (instances; series and studies left empty).
  void RemoveDisappeared(const std::vector<FileRecord>& gone);
  // After RemoveDisappeared: the files this run registered as duplicates whose instance is no longer provided by
  // another file — a file moved or renamed is met at its new path while its old one still holds the instance, and
  // the old path is known gone only after the walk. Added again (parsed anew), they provide it from then on.
  std::vector<extractor::WalkEntry> OrphanedDuplicates();
  // Fills the study/series counts of the summary (each document counted once per run).
  void Finish();
  // After Flush: the series UIDs whose LIDC annotations this run wrote or removed, or whose slices it changed.
  const std::set<std::string>& AnnotationSeries() const { return annotation_series_; }
  // After Flush: the file records this run wrote and removed.
  const WrittenRecords& Written() const { return written_; }
  // After Flush: every instance of the series this run created, as the annotation link pass needs them.
  const KnownSlices& CreatedSlices() const { return created_slices_; }

 private:
  struct Touched;
  // Files of one transaction, with their study and series documents already merged per UID.
  struct Batch {
    std::vector<extractor::ScanItem> items;
    std::map<std::string, boost::json::object> studies, series;  // by UID
    std::map<std::string, std::string> series_study;             // series UID -> study UID
    std::vector<boost::json::object> retired;                    // written documents, freed with the batch
    // The stored instances of the batch's SOP Instance UIDs, fetched in one request (absent: none stored); each
    // is taken out by the first file that uses it, so a second file with that UID reads the store again.
    std::map<std::string, std::optional<boost::json::object>> stored_instances;
    std::map<std::string, std::vector<Document>> stored_marks;  // of the batch's LIDC reads, by path
  };
  bool WriterBusy();
  void Submit();
  void RunWriter(std::stop_token stop);
  void WriteBatch(Session& session, Batch& batch, Touched& touched);
  void PrefetchInstances(Session& session, Batch& batch);
  std::map<std::string, boost::json::object> UpsertStudies(Session& session, Batch& batch, Touched& touched);
  std::map<std::string, ObjectId> UpsertSeries(Session& session, Batch& batch,
                                               const std::map<std::string, boost::json::object>& studies,
                                               Touched& touched);
  void WriteFile(Session& session, extractor::ScanItem& item, const std::map<std::string, ObjectId>& series_ids,
                 const std::string& now, Touched& touched, Batch& batch);
  void PutRecord(Session& session, const FileRecord& record);  // the file record, also noted in written_
  void RegisterFailure(Session& session, FileRecord& record, std::string status, const std::string& reason,
                       const std::string& now);
  void DropInstanceOf(Session& session, const std::string& path, const std::string& sop, Touched& touched);
  // Removes the instance if this file provides it (its "path"); `instance` is what the store holds for its SOP UID.
  void DropInstance(Session& session, const std::string& path, const std::optional<boost::json::object>& instance,
                    Touched& touched);
  void FinishTouched(Session& session, Touched& touched);
  std::optional<std::vector<ObjectId>> KnownInstances(const ObjectId& series_id) const;
  std::optional<std::vector<boost::json::object>> KnownSeries(const ObjectId& study_id) const;
  void UpdateCases(Session& session, const std::map<std::string, std::set<std::string>>& patients);
  static boost::json::object MergeCases(const boost::json::object& collection,
                                        const std::map<std::string, std::set<std::string>>& patients);

  static constexpr std::size_t kMaxBatchGrowth = 4;  // a batch grows to this many times --batch at most
  Store& store_;
  std::optional<ObjectId> collection_id_;
  const KnownFiles& previous_;
  IngestSummary& summary_;
  WrittenRecords written_;  // by the writer thread; read after Flush
  Batch pending_;  // filled by the ingest thread
  std::mutex mutex_;
  std::condition_variable changed_;
  Batch handoff_;  // the batch the writer thread commits
  bool has_work_ = false;
  std::exception_ptr error_;
  // Run-wide sets so a study or series touched by several batches is counted once.
  std::set<ObjectId> studies_inserted_, studies_updated_, studies_seen_;
  std::set<ObjectId> series_inserted_, series_updated_, series_seen_;
  // Files registered as duplicates this run (writer thread), with their SOP Instance UIDs; those handed back to
  // Add by OrphanedDuplicates (ingest thread, before the hand-off that orders it with the writer).
  std::vector<std::pair<extractor::WalkEntry, std::string>> duplicates_;
  std::set<std::string> readded_;
  std::map<std::string, std::set<std::string>> run_cases_;  // patient -> accession numbers this run saw (writer)
  // Writer thread. Instances whose stored document must be looked up before they are written: SOP Instance UIDs
  // the last ingest recorded or this run wrote — unless the store holds instances the ledger does not account for
  // (made through the API, or by another ingest), when every one is looked up. A server back-end answers each
  // lookup with a round trip or a scan, and a first ingest needs none.
  std::optional<bool> look_up_every_instance_;
  std::unordered_set<std::string_view> recorded_sops_;  // views into previous_
  std::set<std::string> written_sops_;
  // Series this run created, with every instance they hold and its instance_number: their instances[] is computed
  // here rather than read back from the store on every batch (on a server back-end a scan of all instances).
  // A series with two instances of one number is read back instead (the store's tie order decides).
  std::map<ObjectId, std::map<ObjectId, std::optional<std::int64_t>>> created_series_;
  // The same series' instances' geometry (series.qc), kept even when their order must be read back.
  std::map<ObjectId, std::map<ObjectId, catalog::SliceGeometry>> created_geometry_;
  // Studies this run created, with the summary fields of every series they hold: their series[] is computed here too.
  std::map<ObjectId, std::map<ObjectId, boost::json::object>> created_studies_;
  std::set<std::string> annotation_series_;  // writer thread, read after Flush
  KnownSlices created_slices_;               // the same series by UID (writer thread, read after Flush)
  std::jthread thread_;  // last: started after every member it uses exists
};

}  // namespace meta_db::driver
