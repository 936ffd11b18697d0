// The MongoDB back-end behind one table of entry points. The meta_db binary loads it as a module on first use
// (meta_db_mongo.so): libmongoc and what it pulls in (TLS, SASL, compression, ICU) cost every process start-up
// time, and most runs (an unchanged re-ingest or a server on SQLite) never speak to MongoDB. Tests link it in.
#pragma once

#include "store/store.hpp"

#include <memory>
#include <string_view>

namespace meta_db::mongo {

struct MongoEntryPoints {
  // OpenMongoStore (mongo_store.hpp).
  std::unique_ptr<Store> (*open)(std::string_view uri, const StoreOptions& options);
};

// This program's entry points: loaded from the module beside the executable on the first call, or linked in —
// whichever library the program links defines it. Thread-safe; Error(kInternal) when the module cannot be loaded.
const MongoEntryPoints& MongoBackend();

// The entry points as compiled into the back-end itself (what the module hands out).
const MongoEntryPoints& LinkedMongoEntryPoints();

}  // namespace meta_db::mongo
