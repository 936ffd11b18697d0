// libmongoc error domains and server codes -> Errc.
#include "store/mongo/mongo_errors.hpp"

#include <array>
#include <string>

namespace meta_db::mongo {

namespace {

// Server codes a retry may cure: HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress,
// PrimarySteppedDown, NotWritablePrimary, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk,
// NotPrimaryOrSecondary, InterruptedAtShutdown, SocketException.
constexpr std::array<std::uint32_t, 11> kTransientCodes{6, 7, 89, 91, 189, 10107, 11602, 13435, 13436, 11600, 9001};

}  // namespace

bool IsAuthentication(const bson_error_t& error) {
  return (error.domain == MONGOC_ERROR_CLIENT && error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) ||
         (error.domain == MONGOC_ERROR_SERVER && (error.code == 18 || error.code == 13));
}

bool IsTransient(const bson_error_t& error) {
  if (error.domain == MONGOC_ERROR_STREAM || error.domain == MONGOC_ERROR_SERVER_SELECTION) return true;
  if (error.domain == MONGOC_ERROR_SERVER || error.domain == MONGOC_ERROR_WRITE_CONCERN ||
      error.domain == MONGOC_ERROR_QUERY || error.domain == MONGOC_ERROR_COMMAND) {
    for (std::uint32_t code : kTransientCodes) {
      if (error.code == code) return true;
    }
  }
  return false;
}

Error ErrorFrom(const bson_error_t& error, std::string_view what) {
  const std::string message = std::string("MongoDB: ") + std::string(what) + ": " + error.message;
  if (IsAuthentication(error)) {
    return Error(Errc::kBadRequest, std::string("MongoDB rejected the credentials (") + std::string(what) + "): " +
                                        error.message);
  }
  if (IsTransient(error)) return Error(Errc::kUnavailable, message);
  if (error.code == kDuplicateKey) return Error(Errc::kConflict, message);
  if (error.code == kMaxTimeExpired) return Error(Errc::kTimeout, "query exceeded its time budget (" + message + ")");
  // BadValue on a write: the server cannot keep a value of the document (FerretDB: arrays inside arrays) — the
  // client's document, not a fault of ours.
  if (error.code == kBadValue && what.starts_with("write")) {
    return Error(Errc::kUnprocessable, "the MongoDB server cannot store this document (" + message + ")");
  }
  return Error(Errc::kInternal, message);
}

void Throw(const bson_error_t& error, std::string_view what) { throw ErrorFrom(error, what); }

}  // namespace meta_db::mongo
