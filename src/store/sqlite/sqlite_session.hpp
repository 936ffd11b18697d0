// The SQLite implementation of Session: one connection, inside one transaction opened by SqliteStore.
// Layout: one table per collection (rowid, id = 24-hex _id, doc = JSON text) plus, for each IndexedFields()
// entry, a STORED generated column json_extract(doc, '$.<path>') declared WITHOUT a type (no affinity, so
// values keep their JSON types), its JSON type in "<column>_t" (json_type), and an index; series also has
// search_text and the FTS5 table series_fts.
#pragma once

#include "store/sqlite/sqlite_handle.hpp"
#include "store/store.hpp"

#include <chrono>
#include <set>
#include <string>

namespace meta_db::sqlite {

class SqliteSession final : public Session {
 public:
  SqliteSession(Database& db, std::chrono::milliseconds query_budget) : db_(db), query_budget_(query_budget) {}

  std::optional<Document> Get(Kind kind, const ObjectId& id) override;
  std::optional<Document> GetByKey(Kind kind, std::string_view value) override;
  FindResult Find(Kind kind, const query::Query& query) override;  // sqlite_find.cpp
  CohortResult FindCohort(const CohortQuery& cohort) override;    // sqlite_cohort.cpp
  std::vector<Document> Children(Kind child_kind, const ObjectId& parent_id) override;
  std::int64_t CountChildren(Kind child_kind, const ObjectId& parent_id) override;
  std::vector<ObjectId> ChildIds(Kind child_kind, const ObjectId& parent_id) override;
  std::vector<ObjectId> AllIds(Kind kind) override;
  void ScanPages(Kind kind, const ScanQuery& scan, const ScanVisitor& visit) override;  // sqlite_find_pages.cpp
  std::int64_t Count(Kind kind) override;

  void Insert(Kind kind, const Document& doc) override;
  void Replace(Kind kind, const Document& doc) override;
  void Put(Kind kind, const Document& doc) override;
  bool ReplaceIfUnchanged(Kind kind, const Document& doc, const Document& stored) override;
  bool Remove(Kind kind, const ObjectId& id) override;

  void VisitFileRecords(std::string_view path_prefix,
                        const std::function<void(const FileRecordView&)>& visit) override;
  void PutFileRecord(const FileRecord& record) override;
  void RemoveFileRecord(std::string_view path) override;
  std::optional<FileRecord> GetFileRecord(std::string_view path) override;

  void VisitDirectoryDigests(std::string_view path_prefix,
                             const std::function<void(const DirectoryDigest&)>& visit) override;
  void PutDirectoryDigest(std::string_view directory, std::int64_t digest, std::int64_t files) override;
  void RemoveDirectoryDigest(std::string_view directory) override;
  // Clears the digests of the directories whose file records this session wrote; SqliteStore calls it before
  // committing (once per directory and transaction rather than once per file record).
  void ClearTouchedDigests();

  void PutError(std::string_view path, std::string_view reason, std::string_view when) override;
  void ClearError(std::string_view path) override;
  std::vector<ErrorRecord> Errors(std::int64_t skip, std::int64_t limit) override;
  std::int64_t CountErrors() override;

  // sqlite_access.cpp
  void PutToken(const TokenRecord& token) override;
  std::optional<TokenRecord> GetToken(std::string_view token_id) override;
  std::vector<TokenRecord> Tokens(std::string_view researcher) override;
  bool RevokeToken(std::string_view token_id, std::string_view when) override;
  void AppendAudit(const AuditRecord& record) override;
  AuditPage FindAudit(const AuditQuery& query) override;

  Database& database() { return db_; }
  std::chrono::milliseconds query_budget() const { return query_budget_; }

 private:
  void Touch(std::string_view path);

  Database& db_;
  std::chrono::milliseconds query_budget_;
  std::set<std::string, std::less<>> touched_directories_;
  std::set<std::string> scanning_;  // SQL of the scans running on this session (sqlite_find_pages.cpp)
};

// Parses a stored JSON document (kInternal if the stored text is not an object).
Document ParseStoredDocument(std::string_view text);

}  // namespace meta_db::sqlite
