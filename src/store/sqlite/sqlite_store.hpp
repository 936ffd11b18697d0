// SqliteStore: the embedded back-end (one file, WAL) with a pool of reader connections and one writer.
#pragma once

#include "store/store.hpp"

#include <memory>
#include <string>

namespace meta_db::sqlite {

// Opens or creates the database file and its schema. Errors: kUnavailable (cannot open, locked, read-only).
std::unique_ptr<Store> OpenSqliteStore(const std::string& path, const StoreOptions& options);

}  // namespace meta_db::sqlite
