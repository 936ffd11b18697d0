// The MongoDB implementation of Session. Reads go to the server; a write unit's writes are kept in an overlay
// (reads see them) and applied as unordered bulk writes — catalogue first, then the ledger — when a query needs
// them on the server or the unit commits. No multi-document transaction is ever used (store.hpp, "Write").
// Ledger layout: ingest_files {_id: path, size, mtime_ns, status, sop_instance_uid}, ingest_dirs {_id: directory,
// digest, files}, ingest_errors {_id: path, reason, first_seen, last_seen}: path-keyed, so a prefix is an _id range.
// Access layout: api_tokens {_id: token id, researcher, label, salt, hash, created_at, revoked_at}, audit_log {_id:
// ObjectId, at, actor, researcher_id, token_id, action, kind, method, path, status, documents, document_ids[], client,
// detail}.
#pragma once

#include "store/mongo/mongo_connection.hpp"
#include "store/store.hpp"

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>

namespace meta_db::mongo {

class MongoSession final : public Session {
 public:
  MongoSession(Connection& connection, mongoc_client_t* client, bool writing);

  std::optional<Document> Get(Kind kind, const ObjectId& id) override;
  std::optional<Document> GetByKey(Kind kind, std::string_view value) override;
  std::vector<Document> GetByKeys(Kind kind, const std::vector<std::string>& values) override;
  FindResult Find(Kind kind, const query::Query& query) override;
  CohortResult FindCohort(const CohortQuery& cohort) override;  // mongo_cohort.cpp
  std::vector<Document> Children(Kind child_kind, const ObjectId& parent_id) override;
  std::int64_t CountChildren(Kind child_kind, const ObjectId& parent_id) override;
  std::vector<ObjectId> ChildIds(Kind child_kind, const ObjectId& parent_id) override;
  std::map<ObjectId, std::vector<ObjectId>> ChildIdsOf(Kind child_kind, const std::vector<ObjectId>& parents) override;
  std::vector<ObjectId> AllIds(Kind kind) override;
  void ScanPages(Kind kind, const ScanQuery& scan, const ScanVisitor& visit) override;
  void Insert(Kind kind, const Document& doc) override;
  void Replace(Kind kind, const Document& doc) override;
  void Put(Kind kind, const Document& doc) override;
  bool ReplaceIfUnchanged(Kind kind, const Document& doc, const Document& stored) override;
  bool Remove(Kind kind, const ObjectId& id) override;
  std::int64_t Count(Kind kind) override;

  void VisitFileRecords(std::string_view path_prefix,
                        const std::function<void(const FileRecordView&)>& visit) override;
  void PutFileRecord(const FileRecord& record) override;
  void RemoveFileRecord(std::string_view path) override;
  std::optional<FileRecord> GetFileRecord(std::string_view path) override;
  void VisitDirectoryDigests(std::string_view path_prefix,
                             const std::function<void(const DirectoryDigest&)>& visit) override;
  void PutDirectoryDigest(std::string_view directory, std::int64_t digest, std::int64_t files) override;
  void RemoveDirectoryDigest(std::string_view directory) override;
  void PutError(std::string_view path, std::string_view reason, std::string_view when) override;
  void ClearError(std::string_view path) override;
  std::vector<ErrorRecord> Errors(std::int64_t skip, std::int64_t limit) override;
  std::int64_t CountErrors() override;

  // mongo_access.cpp: written at once (not through the overlay), so a record never waits for the unit's commit.
  void PutToken(const TokenRecord& token) override;
  std::optional<TokenRecord> GetToken(std::string_view token_id) override;
  std::vector<TokenRecord> Tokens(std::string_view researcher) override;
  bool RevokeToken(std::string_view token_id, std::string_view when) override;
  void AppendAudit(const AuditRecord& record) override;
  AuditPage FindAudit(const AuditQuery& query) override;

  // Applies what the unit has not applied yet: catalogue writes, then digests, then file records and errors.
  void Commit();

 private:
  struct PendingDocument {
    std::optional<Document> doc;  // nullopt: removed
    bool insert = false;          // must not exist yet (an API create)
    bool stored = false;          // known to be stored already (replaced): sent as a replace, not an insert first
  };
  struct PendingError {
    std::string reason, when;
    std::string first_when;  // the unit's first sighting: first_seen of an entry the unit creates
    bool clear = false;
  };
  using Digest = std::optional<std::pair<std::int64_t, std::int64_t>>;  // (digest, files); nullopt: removed

  mongoc_collection_t* Collection(std::string_view name);
  mongoc_collection_t* Collection(Kind kind);
  void RequireWriting() const;
  void Stage(Kind kind, const Document& doc, bool insert);
  // The overlay's answer for an id: nullopt when the unit has not written it.
  const PendingDocument* Pending(Kind kind, const ObjectId& id) const;
  std::optional<Document> FromServer(Kind kind, const ObjectId& id);
  void FlushCatalog();
  void FlushLedger();

  Connection& connection_;
  mongoc_client_t* client_;
  bool writing_;
  std::map<std::string, CollectionPtr, std::less<>> collections_;
  std::array<std::map<ObjectId, PendingDocument>, std::size(kAllKinds)> pending_;
  std::array<std::map<std::string, ObjectId, std::less<>>, std::size(kAllKinds)> pending_keys_;
  std::map<std::string, std::optional<FileRecord>, std::less<>> files_;
  std::set<std::string, std::less<>> touched_directories_;
  std::map<std::string, Digest, std::less<>> digests_;
  std::map<std::string, PendingError, std::less<>> errors_;
};

}  // namespace meta_db::mongo
