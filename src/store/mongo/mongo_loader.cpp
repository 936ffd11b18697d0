// MongoBackend() for the meta_db binary: loads the MongoDB module from beside the executable on first use.
#include "common/module_loader.hpp"
#include "store/mongo/mongo_backend.hpp"

namespace meta_db::mongo {

const MongoEntryPoints& MongoBackend() {
  using EntryPoints = const MongoEntryPoints* (*)();
  // Once; a failure is retried by the next call.
  static const MongoEntryPoints* const entry_points = reinterpret_cast<EntryPoints>(
      LoadModuleSymbol("meta_db_mongo.so", "meta_db_mongo_entry_points", "MongoDB module"))();
  return *entry_points;
}

}  // namespace meta_db::mongo
