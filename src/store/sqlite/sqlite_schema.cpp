// Schema of the SQLite store, derived from the IndexedFields table so code and schema cannot drift.
#include "store/sqlite/sqlite_schema.hpp"

#include "common/error.hpp"
#include "model/kind.hpp"

#include <string>

namespace meta_db::sqlite {

namespace {

std::string TableSql(Kind kind) {
  const std::string table(CollectionName(kind));
  std::string sql = "CREATE TABLE IF NOT EXISTS " + table +
                    " (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL";
  // Columns without a declared type have no affinity: json_extract's integer/real/text survive unchanged,
  // which the filter translation relies on for MongoDB's type brackets.
  for (const IndexedField& field : IndexedFields(kind)) {
    sql += ", " + std::string(field.column) + " GENERATED ALWAYS AS (json_extract(doc, '$." +
           std::string(field.path) + "')) VIRTUAL";
  }
  if (kind == Kind::kSeries) sql += ", search_text GENERATED ALWAYS AS (json_extract(doc, '$._search_text')) VIRTUAL";
  sql += ");\n";
  for (const IndexedField& field : IndexedFields(kind)) {
    sql += std::string("CREATE ") + (field.unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS ix_" + table + "_" +
           std::string(field.column) + " ON " + table + "(" + std::string(field.column) + ");\n";
  }
  return sql;
}

constexpr const char* kFtsSql = R"sql(
CREATE VIRTUAL TABLE IF NOT EXISTS series_fts USING fts5(search_text, content='series', content_rowid='rowid');
CREATE TRIGGER IF NOT EXISTS series_fts_insert AFTER INSERT ON series BEGIN
  INSERT INTO series_fts(rowid, search_text) VALUES (new.rowid, new.search_text);
END;
CREATE TRIGGER IF NOT EXISTS series_fts_delete AFTER DELETE ON series BEGIN
  INSERT INTO series_fts(series_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
END;
CREATE TRIGGER IF NOT EXISTS series_fts_update AFTER UPDATE OF doc ON series BEGIN
  INSERT INTO series_fts(series_fts, rowid, search_text) VALUES ('delete', old.rowid, old.search_text);
  INSERT INTO series_fts(rowid, search_text) VALUES (new.rowid, new.search_text);
END;
)sql";

constexpr const char* kIngestSql = R"sql(
CREATE TABLE IF NOT EXISTS ingest_files (
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, status TEXT NOT NULL,
  sop_instance_uid TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_ingest_files_sop ON ingest_files(sop_instance_uid);
CREATE TABLE IF NOT EXISTS ingest_errors (
  path TEXT PRIMARY KEY, reason TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta_db_info (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
)sql";

// True when the file already holds this schema version (a read, so opening an existing store takes no write
// lock and no commit).
bool HasCurrentSchema(Database& db) {
  auto exists = db.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta_db_info'");
  if (!exists->Step()) return false;
  auto version = db.Prepare("SELECT value FROM meta_db_info WHERE key = 'schema_version'");
  return version->Step() && version->Text(0) == std::to_string(kSchemaVersion);
}

}  // namespace

void EnsureSchema(Database& db) {
  if (HasCurrentSchema(db)) return;
  Transaction transaction(db, true);
  db.Exec(kIngestSql);
  for (Kind kind : kAllKinds) db.Exec(TableSql(kind));
  db.Exec(kFtsSql);
  auto stored = db.Prepare("SELECT value FROM meta_db_info WHERE key = 'schema_version'");
  if (stored->Step()) {
    const std::string value(stored->Text(0));
    if (value != std::to_string(kSchemaVersion)) {
      throw Error(Errc::kUnavailable, "database schema version " + value + " is not supported (expected " +
                                          std::to_string(kSchemaVersion) + ")");
    }
  } else {
    auto insert = db.Prepare("INSERT INTO meta_db_info(key, value) VALUES ('schema_version', ?)");
    insert->Bind(1, std::to_string(kSchemaVersion)).Run();
  }
  transaction.Commit();
}

}  // namespace meta_db::sqlite
