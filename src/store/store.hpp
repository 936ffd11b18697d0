// The storage interface every back-end implements (SQLite embedded, MongoDB server).
// Documents are JSON objects in the HTTP form: ids as 24-hex strings, dates as ISO-8601 UTC strings.
// Thread-safety: a Store may be used from many threads at once; a Session only by the thread running it.
// Errors: Error(kConflict) on a unique key taken, kNotFound on a missing id, kUnavailable when locked/busy.
#pragma once

#include "common/object_id.hpp"
#include "model/kind.hpp"
#include "query/query.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db {

using Document = boost::json::object;

struct FindResult {
  std::vector<Document> results;  // when the query did not ask for raw documents
  std::vector<std::string> raw;   // when it did (query::Query::raw_documents): each a JSON object's text
  std::int64_t total = 0;         // matches before skip/limit (-1 when not counted)
};

// What the last ingest knew of one archive file, for incremental re-ingest.
struct FileRecord {
  std::string path;  // absolute, normalised
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::string status;            // "ok", "skipped" (not DICOM), "error"
  std::string sop_instance_uid;  // for "ok"
};

// A file record as a visit hands it out: the views are valid during the call only.
struct FileRecordView {
  std::string_view path;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::string_view status;
  std::string_view sop_instance_uid;

  FileRecord Copy() const {
    return {std::string(path), size, mtime_ns, std::string(status), std::string(sop_instance_uid)};
  }
};

// One failing path in the error register.
struct ErrorRecord {
  std::string path;
  std::string reason;
  std::string first_seen;  // ISO-8601
  std::string last_seen;   // ISO-8601
};

// The directory part of a file path with its trailing '/': the key of the directory's digest.
inline std::string_view DirectoryOf(std::string_view path) { return path.substr(0, path.rfind('/') + 1); }

// One directory's row (see Session::VisitDirectoryDigests).
struct DirectoryDigest {
  std::string_view directory;  // with its trailing '/'
  std::optional<std::int64_t> digest;
  std::int64_t files = 0;  // how many files the digest covered (kept when it is cleared): a hint for progress
};

// Counts per collection plus the error register.
struct StoreCounts {
  std::int64_t researchers = 0, collections = 0, studies = 0, series = 0, instances = 0, jobs = 0, errors = 0;
};

// Operations on one consistent view of the store; inside Store::Write all of them commit or none do.
class Session {
 public:
  virtual ~Session() = default;

  virtual std::optional<Document> Get(Kind kind, const ObjectId& id) = 0;
  // The document whose unique key (UniqueKey(kind)) equals `value`.
  virtual std::optional<Document> GetByKey(Kind kind, std::string_view value) = 0;
  virtual FindResult Find(Kind kind, const query::Query& query) = 0;
  // Children of a parent (series of a study, instances of a series) ordered by ChildOrderField.
  virtual std::vector<Document> Children(Kind child_kind, const ObjectId& parent_id) = 0;
  virtual std::int64_t CountChildren(Kind child_kind, const ObjectId& parent_id) = 0;
  // Only the ids of those children, same order (cheap: no document is parsed).
  virtual std::vector<ObjectId> ChildIds(Kind child_kind, const ObjectId& parent_id) = 0;

  // `doc` carries its "_id". kConflict if a unique key is taken.
  virtual void Insert(Kind kind, const Document& doc) = 0;
  // Replaces the document with doc["_id"]; kNotFound if absent, kConflict on a unique key.
  virtual void Replace(Kind kind, const Document& doc) = 0;
  // false if no such document.
  virtual bool Remove(Kind kind, const ObjectId& id) = 0;

  // Incremental-ingest bookkeeping: file records under a directory prefix ("" = all), in path (byte) order.
  // Visiting copies nothing, so a large archive's records load at the speed of the store's scan.
  virtual void VisitFileRecords(std::string_view path_prefix,
                                const std::function<void(const FileRecordView&)>& visit) = 0;
  std::vector<FileRecord> FileRecords(std::string_view path_prefix) {
    std::vector<FileRecord> records;
    VisitFileRecords(path_prefix, [&](const FileRecordView& record) { records.push_back(record.Copy()); });
    return records;
  }
  virtual void PutFileRecord(const FileRecord& record) = 0;
  virtual void RemoveFileRecord(std::string_view path) = 0;
  virtual std::optional<FileRecord> GetFileRecord(std::string_view path) = 0;

  // Directory digests, for incremental ingest: a row for every directory that holds file records (keyed by its
  // path with a trailing '/'), carrying a digest of its files' names, sizes and mtimes as the last ingest found
  // them to match its records — or none, meaning: look at each file. Writing or removing a file record clears its
  // directory's digest (creating the row) in the same transaction, whoever writes, so a digest never outlives the
  // records it vouches for.
  virtual void VisitDirectoryDigests(std::string_view path_prefix,
                                     const std::function<void(const DirectoryDigest&)>& visit) = 0;
  virtual void PutDirectoryDigest(std::string_view directory, std::int64_t digest, std::int64_t files) = 0;
  virtual void RemoveDirectoryDigest(std::string_view directory) = 0;

  // The error register: one entry per failing path.
  virtual void PutError(std::string_view path, std::string_view reason, std::string_view when) = 0;
  virtual void ClearError(std::string_view path) = 0;
  virtual std::vector<ErrorRecord> Errors(std::int64_t skip, std::int64_t limit) = 0;

  virtual StoreCounts Counts() = 0;
};

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string_view Backend() const = 0;  // "sqlite" or "mongodb"
  // Runs fn on a read-only, consistent view.
  virtual void Read(const std::function<void(Session&)>& fn) = 0;
  // Runs fn in one atomic write transaction; an exception from fn rolls everything back and propagates.
  virtual void Write(const std::function<void(Session&)>& fn) = 0;
  // Moves committed writes from a write-ahead log into the main file without blocking readers or the writer
  // (a bulk writer calls it from another thread, so its writes never wait for the copy). No-op without a log.
  virtual void Checkpoint() {}
};

struct StoreOptions {
  bool read_only = false;
  int query_budget_ms = 2000;   // long queries are interrupted with Error(kTimeout)
  int busy_timeout_ms = 10000;  // how long a write waits for another process's lock before kUnavailable
  // Bytes of the file readers memory-map (fast reads for serving). Mapped pages count as resident memory, so
  // batch jobs that touch the whole file (ingest) pass 0 to keep their RSS bounded.
  std::int64_t mmap_bytes = 256LL << 20;
  // WAL pages between automatic checkpoints (SQLite's default is 1,000).
  int wal_checkpoint_pages = 1000;
};

// Opens the store named by a URI: "sqlite:PATH" (or a bare path) or "mongodb://...".
std::unique_ptr<Store> OpenStore(std::string_view uri, const StoreOptions& options = {});

}  // namespace meta_db
