// The exported symbol of the MongoDB module (meta_db_mongo.so) that the meta_db binary loads on first use.
#include "store/mongo/mongo_backend.hpp"

extern "C" __attribute__((visibility("default"))) const meta_db::mongo::MongoEntryPoints* meta_db_mongo_entry_points() {
  return &meta_db::mongo::LinkedMongoEntryPoints();
}
