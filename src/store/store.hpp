// The storage interfaces every back-end implements (SQLite embedded, MongoDB server): the catalogue (documents of
// the six collections) and the ingest ledger (file records, directory digests, error register).
// Documents cross this interface in the catalogue's neutral form (model/schema.hpp): a JSON object whose ids are
// 24-hex strings and whose timestamps are ISO-8601 UTC strings; each back-end encodes them in its own types (SQLite:
// JSON text; MongoDB: BSON with ObjectIds and dates) and decodes them back.
// Thread-safety: a Store may be used from many threads at once; a Session only by the thread running it.
// Errors: Error(kConflict) on a unique key taken, kNotFound on a missing id, kUnavailable when the back-end cannot be
// reached or is locked, kTimeout when a query exceeds its budget.
#pragma once

#include "common/object_id.hpp"
#include "model/kind.hpp"
#include "query/query.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db {

using Document = boost::json::object;

struct FindResult {
  std::vector<Document> results;        // unless the query asked for JSON text
  std::vector<std::string> json_texts;  // when it did (query::Query::as_json_text): each document's neutral form
                                        // serialised, produced the cheapest way the back-end has
  std::int64_t total = 0;               // matches before skip/limit (-1 when not counted)
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

// A cross-level cohort (POST /cohort): conditions on studies, series and instances, one level returned.
// A series matches when it matches `series`, its study matches `studies` and (when `instances` is set) one of its
// instances matches `instances`; a study when it matches `studies` and has a matching series; the instances are
// those of matching series that match `instances` (all of them without it); the patients the distinct patient_id
// of matching studies. A null condition matches every document of its level.
struct CohortIds {
  std::optional<ObjectId> after;  // only ids greater than this one
  std::int64_t limit = 1000;      // at most kMaxCohortIdsPage
};
inline constexpr std::int64_t kMaxCohortIdsPage = 10000;

struct CohortQuery {
  std::shared_ptr<const query::Filter> studies, series, instances;
  Kind level = Kind::kSeries;  // kStudies, kSeries or kInstances: what `page` (or `ids`) lists
  query::Query page;           // sort, skip, limit, projection, as_json_text of the returned level; filter/text unused
  bool count = true;           // compute CohortResult::counts (the returned level's total is always exact)
  // Ids-only mode, for exporters paging through a whole cohort: the returned level's ids in _id order; `page` is
  // then not answered.
  std::optional<CohortIds> ids;
};

struct CohortCounts {
  std::int64_t patients = 0, studies = 0, series = 0, instances = 0;
};

struct CohortResult {
  FindResult page;              // the page of the returned level and its total
  std::vector<ObjectId> ids;    // ids-only mode
  CohortCounts counts;          // when CohortQuery::count
};

// Throws Error(kBadRequest) for a level other than studies/series/instances or an ids page out of 1..10,000.
void CheckCohortQuery(const CohortQuery& cohort);

// A pass over every document matching a filter, in _id order, for whole-result work (exports, server-built look-ups,
// check, migrate): no skip, no sort, no total, and no cap on the matches.
struct ScanQuery {
  std::shared_ptr<const query::Filter> filter;  // nullptr matches every document
  std::string text;                             // free text, as query::Query::text (series only)
  // Only these dotted paths (and _id), as an include projection (query::Project's semantics); nullopt: whole
  // documents. The back-end then reads no more of each document than it must.
  std::optional<std::vector<std::string>> fields;
  std::optional<ObjectId> after;  // only documents whose _id is greater (resuming a pass)
  std::int64_t page = 1000;       // documents per visit, 1..kMaxScanPage
};
inline constexpr std::int64_t kMaxScanPage = 10000;
// Receives a page (1..ScanQuery::page documents, in _id order; the visitor may move them out); false ends the pass.
using ScanVisitor = std::function<bool(std::vector<Document>& page)>;

// The catalogue's documents.
class CatalogSession {
 public:
  virtual ~CatalogSession() = default;

  virtual std::optional<Document> Get(Kind kind, const ObjectId& id) = 0;
  // The document whose unique key (UniqueKey(kind)) equals `value`.
  virtual std::optional<Document> GetByKey(Kind kind, std::string_view value) = 0;
  // The documents whose unique keys are among `values` (any order; absent keys are left out): one round trip
  // for a batch's lookups on a server back-end.
  virtual std::vector<Document> GetByKeys(Kind kind, const std::vector<std::string>& values);
  virtual FindResult Find(Kind kind, const query::Query& query) = 0;
  // Errors: kBadRequest for a level other than studies/series/instances or an ids page above kMaxCohortIdsPage;
  // kTimeout past the query budget.
  virtual CohortResult FindCohort(const CohortQuery& cohort) = 0;
  // Children of a parent (series of a study, instances of a series) ordered by ChildOrderField, then insertion.
  virtual std::vector<Document> Children(Kind child_kind, const ObjectId& parent_id) = 0;
  virtual std::int64_t CountChildren(Kind child_kind, const ObjectId& parent_id) = 0;
  // Only the ids of those children, same order (cheap: no document is decoded).
  virtual std::vector<ObjectId> ChildIds(Kind child_kind, const ObjectId& parent_id) = 0;
  // ChildIds of several parents in one request (a server back-end's round trips and scans): parent -> child ids.
  // A parent without children maps to an empty list.
  virtual std::map<ObjectId, std::vector<ObjectId>> ChildIdsOf(Kind child_kind, const std::vector<ObjectId>& parents);
  // Every id of a collection in id order, for whole-catalogue passes (check, migrate) that then Get in chunks.
  virtual std::vector<ObjectId> AllIds(Kind kind) = 0;
  // The documents matching `scan`, a page at a time (ScanQuery, ScanVisitor). Each page costs the same however deep
  // the pass is. A pass as a whole is not bound by the query budget, a page is: a page that finds no document within
  // the budget throws kTimeout (SQLite streams one statement, restarted after the last _id when a page runs out of
  // time; MongoDB asks a page over the budget again in halves). The visitor may read through this session; what it
  // writes to the kind being scanned, the pass may or may not see. Errors: kBadRequest as Find (free text on another
  // level than series, a page out of 1..kMaxScanPage).
  virtual void ScanPages(Kind kind, const ScanQuery& scan, const ScanVisitor& visit) = 0;

  // `doc` carries its "_id". kConflict if a unique key is taken.
  virtual void Insert(Kind kind, const Document& doc) = 0;
  // Replaces the document with doc["_id"]; kNotFound if absent (a server back-end, which checks no existence
  // before writing, may instead write it anew), kConflict on a unique key.
  virtual void Replace(Kind kind, const Document& doc) = 0;
  // Writes `doc` under its "_id" whether or not one is stored there: an idempotent upsert, so two writers of the
  // same document (ingests of overlapping archives, whose ids derive from DICOM UIDs) never conflict.
  // kConflict if another document holds its unique key.
  virtual void Put(Kind kind, const Document& doc) = 0;
  // Replaces the document only if what is stored under its _id still has `stored`'s updated_at: a compare-and-swap
  // for documents that other processes also rewrite (a collection's cases, merged by every shard's ingest).
  // false when another writer changed it meanwhile: re-read, merge again, retry.
  virtual bool ReplaceIfUnchanged(Kind kind, const Document& doc, const Document& stored) = 0;
  // false if no such document.
  virtual bool Remove(Kind kind, const ObjectId& id) = 0;

  virtual std::int64_t Count(Kind kind) = 0;

  // Every document of a collection in _id order, `page` at a time (whole-catalogue passes: check, migrate): ScanPages
  // with no filter.
  void VisitAll(Kind kind, std::int64_t page, const std::function<void(std::vector<Document>& docs)>& visit);
};

// The ingest ledger: what the last ingest saw of each archive file, and which paths failed.
class LedgerSession {
 public:
  virtual ~LedgerSession() = default;

  // File records under a directory prefix ("" = all), in path (byte) order.
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
  // directory's digest (creating the row) no later than the record changes, whoever writes, so a digest never
  // outlives the records it vouches for.
  virtual void VisitDirectoryDigests(std::string_view path_prefix,
                                     const std::function<void(const DirectoryDigest&)>& visit) = 0;
  virtual void PutDirectoryDigest(std::string_view directory, std::int64_t digest, std::int64_t files) = 0;
  virtual void RemoveDirectoryDigest(std::string_view directory) = 0;

  // The error register: one entry per failing path.
  virtual void PutError(std::string_view path, std::string_view reason, std::string_view when) = 0;
  virtual void ClearError(std::string_view path) = 0;
  virtual std::vector<ErrorRecord> Errors(std::int64_t skip, std::int64_t limit) = 0;
  virtual std::int64_t CountErrors() = 0;
};

// An API token as the store keeps it: never the secret, only a keyed hash of it (db_api/auth_tokens.cpp).
struct TokenRecord {
  std::string token_id;       // 24-hex, the public part of the token and the record's key
  std::string researcher;     // _id (24-hex) of the researcher the token authenticates
  std::string label;          // what the admin called it ("laptop", "pipeline")
  std::string salt;           // hex, random per token
  std::string hash;           // hex, keyed hash of the secret under the salt
  std::string created_at;     // ISO-8601
  std::string revoked_at;     // ISO-8601, "" while the token is valid
};

// One entry of the audit log: who did what, when, to how many documents.
struct AuditRecord {
  std::string id;             // 24-hex, time-ordered (ObjectId::Generate)
  std::string at;             // ISO-8601
  std::string actor;          // "admin", "local", "anonymous", "researcher", "os" (a command run by a user)
  std::string researcher_id;  // the researcher's business id, for actor "researcher"; the OS user for "os"
  std::string token_id;       // the token used, if any
  std::string action;         // "write", "export", "denied", "ingest", "check", "migrate"
  std::string kind;           // what was acted on: the collection ("jobs", "studies", ...), "access", "audit", ...
  std::string method;         // HTTP method, or the command
  std::string path;           // request path, or the archive / database
  int status = 0;             // HTTP status, or the exit code
  std::vector<std::string> document_ids;
  std::int64_t documents = 0;  // how many documents were written, exported or examined
  std::string client;          // peer address ("" for commands)
  std::string detail;          // a short reason or summary
};

// Filters of an audit query; empty fields do not filter. Newest first.
struct AuditQuery {
  std::string actor, researcher_id, token_id, action, kind, method, path_prefix;
  std::optional<int> status;
  std::string since, until;  // ISO-8601, [since, until)
  std::int64_t skip = 0;
  std::int64_t limit = 50;
};

struct AuditPage {
  std::vector<AuditRecord> records;
  std::int64_t total = 0;
};

// Access control's records: API tokens and the append-only audit log.
class AccessSession {
 public:
  virtual ~AccessSession() = default;
  // Errors: kConflict if the token id exists.
  virtual void PutToken(const TokenRecord& token) = 0;
  virtual std::optional<TokenRecord> GetToken(std::string_view token_id) = 0;
  // The tokens of one researcher (its _id), or of everyone for "", oldest first.
  virtual std::vector<TokenRecord> Tokens(std::string_view researcher) = 0;
  // Marks a token revoked; false if no such token (an already revoked one keeps its first revocation time).
  virtual bool RevokeToken(std::string_view token_id, std::string_view when) = 0;
  // Appends; there is no update and no removal (the interface offers none on purpose).
  virtual void AppendAudit(const AuditRecord& record) = 0;
  virtual AuditPage FindAudit(const AuditQuery& query) = 0;
};

// All three, on one view of the store.
class Session : public CatalogSession, public LedgerSession, public AccessSession {
 public:
  StoreCounts Counts();
};

class Store {
 public:
  virtual ~Store() = default;
  virtual std::string_view Backend() const = 0;  // "sqlite" or "mongodb"
  // Runs fn on a read-only view (on SQLite one consistent snapshot; on MongoDB each read sees the latest
  // acknowledged writes).
  virtual void Read(const std::function<void(Session&)>& fn) = 0;
  // Read for one long pass over much of the catalogue (an export): the back-end keeps the process's memory bounded
  // whatever the catalogue's size (SQLite: a connection that maps none of the file and caches few pages), and may
  // give up speed for it on short reads, so interactive reads use Read.
  virtual void ReadPass(const std::function<void(Session&)>& fn) { Read(fn); }
  // Runs fn as one unit of writes, which never needs a multi-document transaction:
  //  - every catalogue write is a single-document write, and the ledger writes of the unit are applied only after
  //    every catalogue write of the unit was acknowledged (a ledger record never vouches for a document that is not
  //    there);
  //  - a read inside the unit sees the unit's own writes;
  //  - an exception from fn discards what the unit had not yet applied and propagates. SQLite applies the whole
  //    unit in one transaction, so nothing of it stays; a server back-end may keep catalogue writes already
  //    applied, so callers order their writes so that re-running the unit (ingest) or `meta_db check --repair`
  //    restores every invariant.
  virtual void Write(const std::function<void(Session&)>& fn) = 0;
  // "" when the back-end answers; otherwise a one-line reason (for /health). Never throws.
  virtual std::string Unreachable() { return {}; }
  // Problems the store recovered from by itself since the last call (e.g. deferred maintenance that failed and
  // will be retried), for a batch job's summary.
  virtual std::vector<std::string> TakeWarnings() { return {}; }
};

struct StoreOptions {
  bool read_only = false;
  int query_budget_ms = 2000;  // long queries are interrupted with Error(kTimeout)
  int lock_wait_ms = 10000;    // how long a write waits for another writer before kUnavailable
  // The store serves one long bulk writer (ingest, migrate) rather than many readers: the back-end tunes for
  // throughput and keeps the process's memory bounded as the catalogue grows.
  bool bulk_load = false;
  // How long opening waits for a server back-end to answer before kUnavailable (a server that is down makes
  // batch commands fail fast; a server process keeps retrying in the background).
  int connect_timeout_ms = 10000;
  // false: opening succeeds while the server is down (a long-running server answers /health 503 meanwhile and
  // recovers by itself); true: opening fails with kUnavailable after connect_timeout_ms.
  bool require_reachable = true;
  // Opening fails with Error(kNotFound, "no catalogue at ...") and creates nothing unless the store already holds a
  // catalogue (SQLite: the file exists and has meta_db's schema; MongoDB: the database has meta_db's marker). For
  // the commands that read one (stats, serve, check, migrate --from): only ingest and migrate --to make a catalogue.
  // A server back-end that is unreachable while require_reachable is false cannot be asked; it opens (kUnavailable
  // meanwhile) and prepares the database as usual once the server answers.
  bool must_exist = false;
};

// Opens the store named by a URI: "sqlite:PATH" (or a bare path) or "mongodb://..." (MongoDB's connection string;
// the database is its path, "meta_db" when none is given). Errors: kBadRequest for a malformed URI or unknown
// option; kUnavailable when the store cannot be opened; kNotFound when options.must_exist and there is no catalogue.
std::unique_ptr<Store> OpenStore(std::string_view uri, const StoreOptions& options = {});

}  // namespace meta_db
