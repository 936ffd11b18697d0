// MongoStore: read and write units over pooled clients; a server that is down makes units fail with kUnavailable
// and /health say why, and every later unit tries again.
#include "store/mongo/mongo_store.hpp"

#include "store/mongo/mongo_backend.hpp"

#include "common/error.hpp"
#include "store/mongo/mongo_connection.hpp"
#include "store/mongo/mongo_session.hpp"

#include <mutex>

namespace meta_db::mongo {

namespace {

class MongoStore final : public Store {
 public:
  MongoStore(std::string_view uri, const StoreOptions& options) : connection_(uri, options) {}

  std::string_view Backend() const override { return "mongodb"; }

  void Read(const std::function<void(Session&)>& fn) override {
    PooledClient client(connection_.pool());
    Prepare(client.get());
    MongoSession session(connection_, client.get(), false);
    fn(session);
  }

  // Units of one process are applied one at a time, as on SQLite, so the catalogue's read-modify-write of a
  // summary never races another unit of the same process (other processes: `meta_db check --repair`).
  void Write(const std::function<void(Session&)>& fn) override {
    if (connection_.options().read_only) throw Error(Errc::kUnavailable, "store opened read-only");
    std::lock_guard lock(write_mutex_);
    PooledClient client(connection_.pool());
    Prepare(client.get());
    MongoSession session(connection_, client.get(), true);
    fn(session);
    session.Commit();
  }

  std::string Unreachable() override {
    PooledClient client(connection_.pool());
    return connection_.Ping(client.get());
  }

  void Open() {
    PooledClient client(connection_.pool());
    connection_.EnsureReady(client.get(), connection_.options().must_exist);
  }

 private:
  // Once per process (the first unit after start, or after the server was first reached); afterwards a server that
  // goes away makes the operation itself fail with kUnavailable.
  void Prepare(mongoc_client_t* client) { connection_.EnsureReady(client); }

  Connection connection_;
  std::mutex write_mutex_;
};

}  // namespace

std::unique_ptr<Store> OpenMongoStore(std::string_view uri, const StoreOptions& options) {
  auto store = std::make_unique<MongoStore>(uri, options);
  if (options.require_reachable) {
    store->Open();
  } else if (options.must_exist) {
    // A server process asks once whether there is a catalogue; a server that is down (or refuses the credentials)
    // cannot say, and the process starts anyway, answering 503 until it can be used.
    try {
      store->Open();
    } catch (const Error& error) {
      if (error.code() != Errc::kUnavailable) throw;
    }
  }
  return store;
}

const MongoEntryPoints& LinkedMongoEntryPoints() {
  static constexpr MongoEntryPoints kEntryPoints{.open = &OpenMongoStore};
  return kEntryPoints;
}

}  // namespace meta_db::mongo
