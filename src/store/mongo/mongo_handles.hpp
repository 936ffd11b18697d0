// RAII owners of every libmongoc/libbson handle the MongoDB back-end uses, each a unique_ptr with a one-line
// deleter, plus Bson (an owned bson_t) and PooledClient (a client popped from a pool, pushed back on destruction).
// Thread-safety: as libmongoc's — a pool is shared, a client and everything made from it stay on one thread.
#pragma once

#include <mongoc/mongoc.h>

#include <memory>
#include <string_view>

namespace meta_db::mongo {

template <typename T, void (*Destroy)(T*)>
struct Deleter {
  void operator()(T* handle) const noexcept {
    if (handle != nullptr) Destroy(handle);
  }
};

using UriPtr = std::unique_ptr<mongoc_uri_t, Deleter<mongoc_uri_t, mongoc_uri_destroy>>;
using PoolPtr = std::unique_ptr<mongoc_client_pool_t, Deleter<mongoc_client_pool_t, mongoc_client_pool_destroy>>;
using CollectionPtr = std::unique_ptr<mongoc_collection_t, Deleter<mongoc_collection_t, mongoc_collection_destroy>>;
using DatabasePtr = std::unique_ptr<mongoc_database_t, Deleter<mongoc_database_t, mongoc_database_destroy>>;
using CursorPtr = std::unique_ptr<mongoc_cursor_t, Deleter<mongoc_cursor_t, mongoc_cursor_destroy>>;
using BulkPtr =
    std::unique_ptr<mongoc_bulk_operation_t, Deleter<mongoc_bulk_operation_t, mongoc_bulk_operation_destroy>>;
using WriteConcernPtr =
    std::unique_ptr<mongoc_write_concern_t, Deleter<mongoc_write_concern_t, mongoc_write_concern_destroy>>;

// An owned BSON document (initialised empty, destroyed with its owner). Move-only.
class Bson {
 public:
  Bson() { bson_init(&value_); }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  Bson(Bson&& other) noexcept {
    bson_init(&value_);
    bson_steal(&value_, &other.value_);
    bson_init(&other.value_);
  }
  Bson& operator=(Bson&& other) noexcept {
    if (this != &other) {
      bson_destroy(&value_);
      bson_steal(&value_, &other.value_);
      bson_init(&other.value_);
    }
    return *this;
  }
  ~Bson() { bson_destroy(&value_); }
  // A copy of a document owned elsewhere (e.g. a cursor's current document).
  static Bson CopyOf(const bson_t* other) {
    Bson copy;
    bson_destroy(&copy.value_);  // bson_copy_to fills an uninitialised document
    bson_copy_to(other, &copy.value_);
    return copy;
  }

  bson_t* get() { return &value_; }
  const bson_t* get() const { return &value_; }

 private:
  bson_t value_;
};

// A client of the pool for the current operation; back to the pool when it goes.
class PooledClient {
 public:
  explicit PooledClient(mongoc_client_pool_t* pool) : pool_(pool), client_(mongoc_client_pool_pop(pool)) {}
  PooledClient(const PooledClient&) = delete;
  PooledClient& operator=(const PooledClient&) = delete;
  ~PooledClient() { mongoc_client_pool_push(pool_, client_); }
  mongoc_client_t* get() const { return client_; }

 private:
  mongoc_client_pool_t* pool_;
  mongoc_client_t* client_;
};

}  // namespace meta_db::mongo
