// Creates and migrates the SQLite schema of the catalogue.
#pragma once

#include "store/sqlite/sqlite_handle.hpp"

namespace meta_db::sqlite {

// 2: composite (parent, order) indexes for children listings. 3: "<column>_t" JSON-type columns. 6: api_tokens, audit_log.
inline constexpr int kSchemaVersion = 9;  // v7: annotations; job_records (job reports, snapshots, links); v8: qc.kernel_class; v9: qc.flags side table

// Idempotent: creates missing tables, generated columns, indexes and the FTS table.
void EnsureSchema(Database& db);

}  // namespace meta_db::sqlite
