// Classification of libmongoc errors into meta_db's error vocabulary, at the back-end's boundary: network and
// server-selection failures are kUnavailable (retryable), duplicate keys kConflict, an exceeded maxTimeMS kTimeout,
// rejected credentials kBadRequest (a configuration error: the CLI exits 2). Messages never carry a password.
#pragma once

#include "common/error.hpp"

#include <mongoc/mongoc.h>

#include <string_view>

namespace meta_db::mongo {

inline constexpr int kDuplicateKey = 11000;
inline constexpr int kMaxTimeExpired = 50;
inline constexpr int kBadValue = 2;

// `what` says what was being done ("find in series").
Error ErrorFrom(const bson_error_t& error, std::string_view what);
[[noreturn]] void Throw(const bson_error_t& error, std::string_view what);
// True for errors a retry may cure (network, no primary, server shutting down or stepping down).
bool IsTransient(const bson_error_t& error);
// True when the server or the driver refused the credentials.
bool IsAuthentication(const bson_error_t& error);

}  // namespace meta_db::mongo
