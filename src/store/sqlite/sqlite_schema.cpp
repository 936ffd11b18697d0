// Schema of the SQLite store, derived from the IndexedFields table so code and schema cannot drift.
#include "store/sqlite/sqlite_schema.hpp"

#include "common/error.hpp"
#include "store/sqlite/sqlite_columns.hpp"
#include "model/kind.hpp"

#include <cstdlib>
#include <optional>
#include <string>

namespace meta_db::sqlite {

namespace {

// The parent reference of a child kind is indexed together with the children's natural order (instances of a
// series by instance_number, series of a study by series_number): one index serves the filter, the order and
// the sort-hazard check, so a page of a 300-slice series never extracts anything from the documents.
// A number field's index also holds its type column (v9): the filter translation tells a stored boolean from the
// integers 0/1 by it (`min_nodules=1` meets every one-nodule series), and from the index alone SQLite never reads the
// row (past its document's overflow pages) to find it.
bool IndexHoldsType(const IndexedField& field) { return field.type != FieldType::kText && !field.unique; }

std::string IndexedColumns(Kind kind, const IndexedField& field) {
  const auto parent = ParentField(kind);
  if (parent && field.path == *parent) {
    return ColumnName(field) + ", " + ColumnName(*FindIndexedField(kind, *ChildOrderField(kind)));
  }
  return IndexHoldsType(field) ? ColumnName(field) + ", " + ColumnName(field) + "_t" : ColumnName(field);
}

// v9: number indexes made before they held their type column are rebuilt (by TableSql, after this).
void DropNumberIndexes(Database& db) {
  for (Kind kind : kAllKinds) {
    const auto parent = ParentField(kind);
    for (const IndexedField& field : IndexedFields(kind)) {
      if (!field.indexed || !IndexHoldsType(field) || (parent && field.path == *parent)) continue;
      db.Exec("DROP INDEX IF EXISTS ix_" + std::string(CollectionName(kind)) + "_" + ColumnName(field));
    }
  }
}

// "<column>_t": the JSON type of the field's value (json_type), which tells a stored boolean from the 1/0 and an
// array from the text json_extract gives for them — the filter translation tests it instead of parsing `doc`.
std::string TypeColumnDefinition(const IndexedField& field, const char* storage) {
  return ColumnName(field) + "_t GENERATED ALWAYS AS (json_type(doc, '$." + std::string(field.path) +
         "')) " + storage;
}

// Version 2 files lack the type columns: SQLite can add generated columns to a table only as VIRTUAL.
void AddTypeColumns(Database& db) {
  for (Kind kind : kAllKinds) {
    const std::string table(CollectionName(kind));
    for (const IndexedField& field : IndexedFields(kind)) {
      auto exists = db.PrepareOnce("SELECT 1 FROM pragma_table_xinfo('" + table + "') WHERE name = '" +
                                   ColumnName(field) + "_t'");
      if (sqlite3_step(exists.get()) == SQLITE_ROW) continue;
      db.Exec("ALTER TABLE " + table + " ADD COLUMN " + TypeColumnDefinition(field, "VIRTUAL"));
    }
  }
}

// v7-v9: indexed fields added since a file was made (annotation summary, qc.kernel_class, ContrastBolusAgent) become VIRTUAL columns of its
// existing tables, as SQLite allows no other kind to be added; their indexes store the values anyway.
void AddMissingColumns(Database& db) {
  for (Kind kind : kAllKinds) {
    const std::string table(CollectionName(kind));
    auto table_exists = db.PrepareOnce("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '" + table + "'");
    if (sqlite3_step(table_exists.get()) != SQLITE_ROW) continue;
    const auto has_column = [&](const std::string& column) {
      auto exists = db.PrepareOnce("SELECT 1 FROM pragma_table_xinfo('" + table + "') WHERE name = '" + column + "'");
      return sqlite3_step(exists.get()) == SQLITE_ROW;
    };
    for (const IndexedField& field : IndexedFields(kind)) {
      if (!has_column(ColumnName(field))) {
        db.Exec("ALTER TABLE " + table + " ADD COLUMN " + ColumnName(field) +
                " GENERATED ALWAYS AS (json_extract(doc, '$." + std::string(field.path) + "')) VIRTUAL");
      }
      if (!has_column(ColumnName(field) + "_t")) {
        db.Exec("ALTER TABLE " + table + " ADD COLUMN " + TypeColumnDefinition(field, "VIRTUAL"));
      }
    }
  }
}

std::string TableSql(Kind kind) {
  const std::string table(CollectionName(kind));
  std::string sql = "CREATE TABLE IF NOT EXISTS " + table +
                    " (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL";
  // Columns without a declared type have no affinity: json_extract's integer/real/text survive unchanged,
  // which the filter translation relies on for MongoDB's type brackets. STORED, not VIRTUAL: the value is
  // extracted once, when the row is written (its index needs it then anyway), so ordering or testing a page of
  // rows by a promoted field never parses their documents again.
  for (const IndexedField& field : IndexedFields(kind)) {
    sql += ", " + ColumnName(field) + " GENERATED ALWAYS AS (json_extract(doc, '$." +
           std::string(field.path) + "')) STORED";
    sql += ", " + TypeColumnDefinition(field, "STORED");
  }
  if (kind == Kind::kSeries) sql += ", search_text GENERATED ALWAYS AS (json_extract(doc, '$._search_text')) STORED";
  sql += ");\n";
  for (const IndexedField& field : IndexedFields(kind)) {
    if (!field.indexed) continue;
    sql += std::string("CREATE ") + (field.unique ? "UNIQUE " : "") + "INDEX IF NOT EXISTS ix_" + table + "_" +
           ColumnName(field) + " ON " + table + "(" + IndexedColumns(kind, field) + ");\n";
  }
  return sql;
}

// Version 1 indexed the parent references alone; they are rebuilt with the order column.
constexpr const char* kUpgradeFrom1Sql = R"sql(
DROP INDEX IF EXISTS ix_series_study_id;
DROP INDEX IF EXISTS ix_instances_series_id;
)sql";

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

// v9: `qc.flags` membership through an index (GET /series?qc_flag=...; sql_compile.cpp reads it). Rows keyed by series
// first, so a rewrite of a series replaces its rows with one range delete; the flag index serves the filter. Text
// elements only (json_each also yields a scalar itself): exactly what MongoDB's equality on an array path matches.
constexpr const char* kQcFlagsSql = R"sql(
CREATE TABLE IF NOT EXISTS series_qc_flags (
  series_rowid INTEGER NOT NULL, flag TEXT NOT NULL, PRIMARY KEY (series_rowid, flag)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_series_qc_flags_flag ON series_qc_flags(flag);
CREATE TRIGGER IF NOT EXISTS series_qc_flags_insert AFTER INSERT ON series BEGIN
  INSERT OR IGNORE INTO series_qc_flags(series_rowid, flag)
    SELECT new.rowid, value FROM json_each(new.doc, '$.qc.flags') WHERE type = 'text';
END;
CREATE TRIGGER IF NOT EXISTS series_qc_flags_delete AFTER DELETE ON series BEGIN
  DELETE FROM series_qc_flags WHERE series_rowid = old.rowid;
END;
CREATE TRIGGER IF NOT EXISTS series_qc_flags_update AFTER UPDATE OF doc ON series BEGIN
  DELETE FROM series_qc_flags WHERE series_rowid = old.rowid;
  INSERT OR IGNORE INTO series_qc_flags(series_rowid, flag)
    SELECT new.rowid, value FROM json_each(new.doc, '$.qc.flags') WHERE type = 'text';
END;
)sql";

// Rows for the series a file held before v9 (the triggers keep them from then on).
constexpr const char* kQcFlagsFillSql = R"sql(
INSERT OR IGNORE INTO series_qc_flags(series_rowid, flag)
  SELECT series.rowid, flags.value FROM series, json_each(series.doc, '$.qc.flags') AS flags WHERE flags.type = 'text';
)sql";

constexpr const char* kIngestSql = R"sql(
CREATE TABLE IF NOT EXISTS ingest_files (
  path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, status TEXT NOT NULL,
  sop_instance_uid TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ingest_errors (
  path TEXT PRIMARY KEY, reason TEXT NOT NULL, first_seen TEXT NOT NULL, last_seen TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ingest_dirs (
  path TEXT PRIMARY KEY, digest INTEGER, files INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta_db_info (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
)sql";

// v6: API tokens (only salted hashes) and the append-only audit log (document_ids: a JSON array).
constexpr const char* kAccessSql = R"sql(
CREATE TABLE IF NOT EXISTS api_tokens (
  token_id TEXT PRIMARY KEY, researcher TEXT NOT NULL, label TEXT NOT NULL, salt TEXT NOT NULL, hash TEXT NOT NULL,
  created_at TEXT NOT NULL, revoked_at TEXT NOT NULL DEFAULT '') WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_api_tokens_researcher ON api_tokens(researcher);
CREATE TABLE IF NOT EXISTS audit_log (
  id TEXT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, researcher_id TEXT NOT NULL, token_id TEXT NOT NULL,
  action TEXT NOT NULL, kind TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, documents INTEGER NOT NULL,
  document_ids TEXT NOT NULL, client TEXT NOT NULL, detail TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS ix_audit_log_at ON audit_log(at);
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
  db.Exec(kAccessSql);
  // The creation statements are idempotent, so an older file is upgraded by running them after the version's
  // own steps; a newer file (written by a later meta_db) is refused rather than half-understood.
  std::optional<int> stored_version;
  {
    auto stored = db.Prepare("SELECT value FROM meta_db_info WHERE key = 'schema_version'");
    if (stored->Step()) stored_version = std::atoi(std::string(stored->Text(0)).c_str());
  }  // reset before the schema changes: an open read of a table blocks DROP INDEX
  if (stored_version) {
    const int version = *stored_version;
    if (version > kSchemaVersion) {
      throw Error(Errc::kUnavailable, "database schema version " + std::to_string(version) +
                                          " is newer than this meta_db supports (" + std::to_string(kSchemaVersion) + ")");
    }
    if (version == 1) db.Exec(kUpgradeFrom1Sql);
    if (version <= 2) AddTypeColumns(db);
    // v4: file records are only ever looked up by path; the SOP index cost every ingested file a random insert.
    if (version <= 3) db.Exec("DROP INDEX IF EXISTS ix_ingest_files_sop");
    // v5: directory digests. Every directory holding records gets its row, with no digest: the next ingest looks at
    // its files one by one, as before, and records their digest. (rtrim of every character but '/' keeps the
    // directory part.)
    if (version <= 4) {
      db.Exec(
          "INSERT OR IGNORE INTO ingest_dirs (path, digest, files) "
          "SELECT rtrim(path, replace(path, '/', '')), NULL, count(*) FROM ingest_files GROUP BY 1");
    }
    if (version <= 8) AddMissingColumns(db);  // v8 adds qc.kernel_class, v9 metadata.ContrastBolusAgent
    if (version <= 8) DropNumberIndexes(db);
  }
  for (Kind kind : kAllKinds) db.Exec(TableSql(kind));
  db.Exec(kFtsSql);
  db.Exec(kQcFlagsSql);
  if (stored_version && *stored_version <= 8) db.Exec(kQcFlagsFillSql);
  auto put = db.Prepare("INSERT OR REPLACE INTO meta_db_info(key, value) VALUES ('schema_version', ?)");
  put->Bind(1, std::to_string(kSchemaVersion)).Run();
  transaction.Commit();
}

}  // namespace meta_db::sqlite
