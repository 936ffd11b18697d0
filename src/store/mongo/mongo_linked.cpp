// MongoBackend() for programs linked with the MongoDB back-end (the tests): the entry points are right here.
#include "store/mongo/mongo_backend.hpp"

namespace meta_db::mongo {

const MongoEntryPoints& MongoBackend() { return LinkedMongoEntryPoints(); }

}  // namespace meta_db::mongo
