// MongoStore: the server back-end over libmongoc (a client pool shared by the process's threads).
#pragma once

#include "store/store.hpp"

#include <memory>
#include <string_view>

namespace meta_db::mongo {

// Validates the connection string (kBadRequest: malformed, unknown option, w=0) and, unless
// options.require_reachable is false, waits up to options.connect_timeout_ms for the server (kUnavailable: a
// one-line reason naming the host) and prepares its indexes.
std::unique_ptr<Store> OpenMongoStore(std::string_view uri, const StoreOptions& options);

}  // namespace meta_db::mongo
