// Composition of back-ends: turns a --db URI into a Store.
#include "common/error.hpp"
#include "store/mongo/mongo_backend.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace meta_db {

std::unique_ptr<Store> OpenStore(std::string_view uri, const StoreOptions& options) {
  if (uri.starts_with("mongodb://") || uri.starts_with("mongodb+srv://")) {
    return mongo::MongoBackend().open(uri, options);
  }
  if (const std::size_t scheme = uri.find("://"); scheme != std::string_view::npos && !uri.starts_with("sqlite://")) {
    // Never echoed: it may carry a password.
    throw Error(Errc::kBadRequest, "unknown database URI scheme '" + std::string(uri.substr(0, scheme)) +
                                       "' (use sqlite:PATH or mongodb://...)");
  }
  std::string_view path = uri;
  if (path.starts_with("sqlite://")) {
    path.remove_prefix(9);
  } else if (path.starts_with("sqlite:")) {
    path.remove_prefix(7);
  }
  if (path.empty()) throw Error(Errc::kBadRequest, "empty database path in '" + std::string(uri) + "'");
  return sqlite::OpenSqliteStore(std::string(path), options);
}

}  // namespace meta_db
