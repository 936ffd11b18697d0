// One MongoDB deployment as the store sees it: the validated connection string, the client pool, the database, and
// the one-time preparation of its collections (indexes), retried until the server answers.
// Thread-safety: everything may be called from many threads; clients come from the pool, one per operation.
#pragma once

#include "store/mongo/mongo_handles.hpp"
#include "store/store.hpp"

#include <atomic>
#include <mutex>
#include <string>
#include <string_view>

namespace meta_db::mongo {

class Connection {
 public:
  // Errors: kBadRequest for a malformed URI, an unknown option or an unusable write concern (w=0).
  Connection(std::string_view uri, const StoreOptions& options);

  mongoc_client_pool_t* pool() const { return pool_.get(); }
  const std::string& database() const { return database_; }
  const StoreOptions& options() const { return options_; }
  // "host:port[,...]/database", never credentials: for messages.
  const std::string& description() const { return description_; }

  // Creates the indexes once per deployment and process (kept in the database's meta_db_info, so a later process
  // only reads a marker). kUnavailable while the server does not answer; the next call tries again.
  // `require_catalogue`: kNotFound ("no catalogue at ...") and nothing created when the database has no marker.
  void EnsureReady(mongoc_client_t* client, bool require_catalogue = false);
  // Whether series._search_text has a text index (servers without text indexes fall back to a regex match).
  bool text_index() const { return text_index_.load(); }
  // Pings the server: kUnavailable (unreachable) or kBadRequest (credentials rejected), with a one-line reason.
  void CheckReachable(mongoc_client_t* client) const;
  // "" when the server answers a ping; otherwise why not.
  std::string Ping(mongoc_client_t* client) const;

 private:
  void CreateIndexes(mongoc_client_t* client);
  [[noreturn]] void ThrowUnusable(const bson_error_t& error, std::string_view state) const;

  StoreOptions options_;
  UriPtr uri_;
  PoolPtr pool_;
  std::string database_;
  std::string description_;
  std::mutex ready_mutex_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> text_index_{false};
};

}  // namespace meta_db::mongo
