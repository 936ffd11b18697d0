// Document, file-record and error-register operations of the SQLite session (Find lives in sqlite_find.cpp).
#include "store/sqlite/sqlite_session.hpp"

#include "common/error.hpp"
#include "store/sqlite/sqlite_columns.hpp"
#include "common/json_io.hpp"

#include <boost/json/serialize.hpp>

#include <string>

namespace meta_db::sqlite {

namespace {

std::string Table(Kind kind) { return std::string(CollectionName(kind)); }

std::string IdOf(const Document& doc) {
  const auto* id = doc.if_contains("_id");
  if (id == nullptr || !id->is_string() || !ObjectId::IsValid(id->as_string())) {
    throw Error(Errc::kInternal, "document without a valid _id reached the store");
  }
  return std::string(id->as_string());
}

// Rewrites a unique-constraint failure as a conflict naming the business key.
[[noreturn]] void ThrowConflict(Kind kind, const Document& doc) {
  const auto key = UniqueKey(kind);
  std::string message = std::string(CollectionName(kind)) + ": duplicate key";
  boost::json::object details;
  if (key) {
    const auto* value = doc.if_contains(*key);
    message = std::string(CollectionName(kind)) + ": " + std::string(*key) + " " +
              (value ? boost::json::serialize(*value) : std::string("(missing)")) + " already exists";
    details["field"] = *key;
  }
  throw Error(Errc::kConflict, message, std::move(details));
}

template <typename Fn>
void WithConflict(Kind kind, const Document& doc, Fn&& fn) {
  try {
    fn();
  } catch (const Error& error) {
    if (error.code() == Errc::kConflict) ThrowConflict(kind, doc);
    throw;
  }
}

std::vector<Document> ReadDocuments(Statement& statement) {
  std::vector<Document> docs;
  while (statement.Step()) docs.push_back(ParseStoredDocument(statement.Text(0)));
  return docs;
}

std::string ParentColumn(Kind child_kind) {
  const auto parent = ParentField(child_kind);
  if (!parent) throw Error(Errc::kInternal, std::string(CollectionName(child_kind)) + " has no parent");
  return ColumnName(*FindIndexedField(child_kind, *parent));
}

// The file-record columns every query of ingest_files selects, in FileRecordRow's order.
constexpr std::string_view kSelectFileRecords = "SELECT path, size, mtime_ns, status, sop_instance_uid FROM ingest_files";

FileRecordView FileRecordRow(const Statement& statement) {
  return {.path = statement.Text(0),
          .size = statement.Int(1),
          .mtime_ns = statement.Int(2),
          .status = statement.Text(3),
          .sop_instance_uid = statement.Text(4)};
}

}  // namespace

Document ParseStoredDocument(std::string_view text) {
  boost::json::value value = ParseJson(text);
  if (!value.is_object()) throw Error(Errc::kInternal, "stored document is not a JSON object");
  return std::move(value.as_object());
}

std::optional<Document> SqliteSession::Get(Kind kind, const ObjectId& id) {
  auto statement = db_.Prepare("SELECT doc FROM " + Table(kind) + " WHERE id = ?");
  statement->Bind(1, id.ToHex());
  if (!statement->Step()) return std::nullopt;
  return ParseStoredDocument(statement->Text(0));
}

std::optional<Document> SqliteSession::GetByKey(Kind kind, std::string_view value) {
  const auto key = UniqueKey(kind);
  if (!key) throw Error(Errc::kInternal, std::string(CollectionName(kind)) + " has no unique key");
  const std::string column = ColumnName(*FindIndexedField(kind, *key));
  auto statement = db_.Prepare("SELECT doc FROM " + Table(kind) + " WHERE " + column + " = ?");
  statement->Bind(1, value);
  if (!statement->Step()) return std::nullopt;
  return ParseStoredDocument(statement->Text(0));
}

std::vector<Document> SqliteSession::Children(Kind child_kind, const ObjectId& parent_id) {
  const std::string order = ColumnName(*FindIndexedField(child_kind, *ChildOrderField(child_kind)));
  auto statement = db_.Prepare("SELECT doc FROM " + Table(child_kind) + " WHERE " + ParentColumn(child_kind) +
                               " = ? ORDER BY " + order + ", rowid");
  statement->Bind(1, parent_id.ToHex());
  return ReadDocuments(*statement);
}

std::vector<ObjectId> SqliteSession::ChildIds(Kind child_kind, const ObjectId& parent_id) {
  const std::string order = ColumnName(*FindIndexedField(child_kind, *ChildOrderField(child_kind)));
  auto statement = db_.Prepare("SELECT id FROM " + Table(child_kind) + " WHERE " + ParentColumn(child_kind) +
                               " = ? ORDER BY " + order + ", rowid");
  statement->Bind(1, parent_id.ToHex());
  std::vector<ObjectId> ids;
  while (statement->Step()) {
    if (auto id = ObjectId::Parse(statement->Text(0))) ids.push_back(*id);
  }
  return ids;
}

std::int64_t SqliteSession::CountChildren(Kind child_kind, const ObjectId& parent_id) {
  auto statement =
      db_.Prepare("SELECT count(*) FROM " + Table(child_kind) + " WHERE " + ParentColumn(child_kind) + " = ?");
  statement->Bind(1, parent_id.ToHex());
  statement->Step();
  return statement->Int(0);
}

void SqliteSession::Insert(Kind kind, const Document& doc) {
  const std::string id = IdOf(doc);
  WithConflict(kind, doc, [&] {
    auto statement = db_.Prepare("INSERT INTO " + Table(kind) + " (id, doc) VALUES (?, ?)");
    statement->Bind(1, id).Bind(2, boost::json::serialize(doc)).Run();
  });
}

void SqliteSession::Replace(Kind kind, const Document& doc) {
  const std::string id = IdOf(doc);
  WithConflict(kind, doc, [&] {
    auto statement = db_.Prepare("UPDATE " + Table(kind) + " SET doc = ? WHERE id = ?");
    statement->Bind(1, boost::json::serialize(doc)).Bind(2, id).Run();
  });
  if (db_.Changes() == 0) throw Error(Errc::kNotFound, std::string(CollectionName(kind)) + " " + id + " not found");
}

void SqliteSession::Put(Kind kind, const Document& doc) {
  const std::string id = IdOf(doc);
  WithConflict(kind, doc, [&] {
    auto statement = db_.Prepare("INSERT INTO " + Table(kind) +
                                 " (id, doc) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc");
    statement->Bind(1, id).Bind(2, boost::json::serialize(doc)).Run();
  });
}

// The write transaction holds the database from the read to this write: nobody can have changed it.
bool SqliteSession::ReplaceIfUnchanged(Kind kind, const Document& doc, const Document& /*stored*/) {
  Replace(kind, doc);
  return true;
}

bool SqliteSession::Remove(Kind kind, const ObjectId& id) {
  auto statement = db_.Prepare("DELETE FROM " + Table(kind) + " WHERE id = ?");
  statement->Bind(1, id.ToHex()).Run();
  return db_.Changes() > 0;
}

void SqliteSession::VisitFileRecords(std::string_view path_prefix,
                                     const std::function<void(const FileRecordView&)>& visit) {
  auto read = [&](Statement& statement) {
    while (statement.Step()) visit(FileRecordRow(statement));
  };
  // ORDER BY path costs nothing (the key order of a WITHOUT ROWID table) and makes the order a promise.
  if (path_prefix.empty()) {
    auto statement = db_.Prepare(std::string(kSelectFileRecords) + " ORDER BY path");
    read(*statement);
    return;
  }
  // Paths under the prefix form one contiguous key range: [prefix, prefix with its last byte incremented).
  std::string upper(path_prefix);
  upper.back() = static_cast<char>(upper.back() + 1);
  auto statement = db_.Prepare(std::string(kSelectFileRecords) + " WHERE path >= ? AND path < ? ORDER BY path");
  statement->Bind(1, path_prefix).Bind(2, upper);
  read(*statement);
}

void SqliteSession::PutFileRecord(const FileRecord& record) {
  auto statement = db_.Prepare(
      "INSERT INTO ingest_files (path, size, mtime_ns, status, sop_instance_uid) VALUES (?, ?, ?, ?, ?) "
      "ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, "
      "status = excluded.status, sop_instance_uid = excluded.sop_instance_uid");
  statement->Bind(1, record.path).Bind(2, record.size).Bind(3, record.mtime_ns).Bind(4, record.status);
  if (record.sop_instance_uid.empty()) {
    statement->BindNull(5);
  } else {
    statement->Bind(5, record.sop_instance_uid);
  }
  statement->Run();
  Touch(record.path);
}

void SqliteSession::RemoveFileRecord(std::string_view path) {
  auto statement = db_.Prepare("DELETE FROM ingest_files WHERE path = ?");
  statement->Bind(1, path).Run();
  Touch(path);
}

void SqliteSession::Touch(std::string_view path) {
  const std::string_view directory = DirectoryOf(path);
  // A batch writes its files in path order, so most calls find their directory the greatest one noted.
  if (!touched_directories_.empty() && *std::prev(touched_directories_.end()) == directory) return;
  touched_directories_.emplace(directory);
}

void SqliteSession::ClearTouchedDigests() {
  if (touched_directories_.empty()) return;
  auto statement = db_.Prepare(
      "INSERT INTO ingest_dirs (path, digest) VALUES (?, NULL) ON CONFLICT(path) DO UPDATE SET digest = NULL");
  for (const std::string& directory : touched_directories_) {
    statement->Bind(1, directory).Run();
    statement->Reset();
  }
  touched_directories_.clear();
}

void SqliteSession::VisitDirectoryDigests(std::string_view path_prefix,
                                          const std::function<void(const DirectoryDigest&)>& visit) {
  // The same key range as VisitFileRecords'; "" selects every row.
  std::string upper(path_prefix);
  if (!upper.empty()) upper.back() = static_cast<char>(upper.back() + 1);
  auto statement =
      db_.Prepare("SELECT path, digest, files FROM ingest_dirs WHERE path >= ?1 AND (?2 = '' OR path < ?2)");
  statement->Bind(1, path_prefix).Bind(2, upper);
  while (statement->Step()) {
    visit({.directory = statement->Text(0),
           .digest = statement->IsNull(1) ? std::nullopt : std::optional<std::int64_t>(statement->Int(1)),
           .files = statement->Int(2)});
  }
}

void SqliteSession::PutDirectoryDigest(std::string_view directory, std::int64_t digest, std::int64_t files) {
  auto statement = db_.Prepare(
      "INSERT INTO ingest_dirs (path, digest, files) VALUES (?, ?, ?) "
      "ON CONFLICT(path) DO UPDATE SET digest = excluded.digest, files = excluded.files");
  statement->Bind(1, directory).Bind(2, digest).Bind(3, files).Run();
}

void SqliteSession::RemoveDirectoryDigest(std::string_view directory) {
  auto statement = db_.Prepare("DELETE FROM ingest_dirs WHERE path = ?");
  statement->Bind(1, directory).Run();
}

std::optional<FileRecord> SqliteSession::GetFileRecord(std::string_view path) {
  auto statement = db_.Prepare(std::string(kSelectFileRecords) + " WHERE path = ?");
  statement->Bind(1, path);
  if (!statement->Step()) return std::nullopt;
  return FileRecordRow(*statement).Copy();
}

void SqliteSession::PutError(std::string_view path, std::string_view reason, std::string_view when) {
  auto statement = db_.Prepare(
      "INSERT INTO ingest_errors (path, reason, first_seen, last_seen) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, last_seen = excluded.last_seen");
  statement->Bind(1, path).Bind(2, reason).Bind(3, when).Bind(4, when).Run();
}

void SqliteSession::ClearError(std::string_view path) {
  auto statement = db_.Prepare("DELETE FROM ingest_errors WHERE path = ?");
  statement->Bind(1, path).Run();
}

std::vector<ErrorRecord> SqliteSession::Errors(std::int64_t skip, std::int64_t limit) {
  auto statement = db_.Prepare(
      "SELECT path, reason, first_seen, last_seen FROM ingest_errors ORDER BY path LIMIT ? OFFSET ?");
  statement->Bind(1, limit).Bind(2, skip);
  std::vector<ErrorRecord> errors;
  while (statement->Step()) {
    errors.push_back({.path = std::string(statement->Text(0)),
                      .reason = std::string(statement->Text(1)),
                      .first_seen = std::string(statement->Text(2)),
                      .last_seen = std::string(statement->Text(3))});
  }
  return errors;
}

std::int64_t SqliteSession::CountErrors() {
  auto statement = db_.Prepare("SELECT count(*) FROM ingest_errors");
  statement->Step();
  return statement->Int(0);
}

std::int64_t SqliteSession::Count(Kind kind) {
  auto statement = db_.Prepare("SELECT count(*) FROM " + Table(kind));
  statement->Step();
  return statement->Int(0);
}

std::vector<ObjectId> SqliteSession::AllIds(Kind kind) {
  auto statement = db_.Prepare("SELECT id FROM " + Table(kind) + " ORDER BY id");
  std::vector<ObjectId> ids;
  while (statement->Step()) {
    if (auto id = ObjectId::Parse(statement->Text(0))) ids.push_back(*id);
  }
  return ids;
}

}  // namespace meta_db::sqlite
