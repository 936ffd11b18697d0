// Connection string validation, the client pool, and index creation for the MongoDB back-end.
#include "store/mongo/mongo_connection.hpp"

#include "model/kind.hpp"
#include "store/mongo/mongo_errors.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>
#include <array>
#include <cctype>
#include <vector>

namespace meta_db::mongo {

namespace {

// Bumped whenever the index set changes, so existing databases get the new indexes on their next open.
// 2: annotations and the series annotation summary; job_records; 3: qc.kernel_class;
// 4: qc.flags, metadata.ContrastBolusAgent.
constexpr std::int32_t kIndexVersion = 4;
constexpr std::string_view kInfoCollection = "meta_db_info";

// libmongoc needs mongoc_init once per process and mongoc_cleanup at its end; its log goes through ours.
// Dropped: every failure also reaches meta_db as an error value, which it reports once, at the boundary (libmongoc
// would print a second line for it, to stdout, where the commands' JSON goes).
void MongocLog(mongoc_log_level_t, const char*, const char*, void*) {}

struct Library {
  Library() {
    mongoc_init();
    mongoc_log_set_handler(&MongocLog, nullptr);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library() { mongoc_cleanup(); }
};

void InitLibrary() { static Library library; }

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The password of "mongodb://user:password@host", if any, so no message ever shows it.
std::string PasswordOf(std::string_view uri) {
  const std::size_t scheme = uri.find("://");
  if (scheme == std::string_view::npos) return {};
  const std::string_view rest = uri.substr(scheme + 3);
  const std::size_t at = rest.rfind('@', rest.find('/'));
  if (at == std::string_view::npos) return {};
  const std::string_view credentials = rest.substr(0, at);
  const std::size_t colon = credentials.find(':');
  return colon == std::string_view::npos ? std::string() : std::string(credentials.substr(colon + 1));
}

std::string Redact(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (std::size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
    text.replace(at, secret.size(), "***");
  }
  return text;
}

// Options libmongoc understands but types outside its bool/int/utf8 tables.
constexpr std::array<std::string_view, 8> kOtherOptions{"w",           "readpreferencetags", "authmechanismproperties",
                                                        "authsource",  "authmechanism",      "compressors",
                                                        "readconcernlevel", "gssapiservicename"};

// libmongoc only warns about an unknown option and goes on without it; a misspelt option should stop the command.
void RejectUnknownOptions(std::string_view uri) {
  const std::size_t query = uri.find('?');
  if (query == std::string_view::npos) return;
  std::string_view rest = uri.substr(query + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find_first_of("&;");
    const std::string_view item = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    if (item.empty()) continue;
    const std::string key = Lower(item.substr(0, item.find('=')));
    const bool known = mongoc_uri_option_is_bool(key.c_str()) || mongoc_uri_option_is_int32(key.c_str()) ||
                       mongoc_uri_option_is_int64(key.c_str()) || mongoc_uri_option_is_utf8(key.c_str()) ||
                       std::find(kOtherOptions.begin(), kOtherOptions.end(), key) != kOtherOptions.end();
    if (!known) throw Error(Errc::kBadRequest, "unknown MongoDB connection option '" + key + "'");
  }
}

std::string Describe(const mongoc_uri_t* uri, const std::string& database) {
  std::string hosts;
  for (const mongoc_host_list_t* host = mongoc_uri_get_hosts(uri); host != nullptr; host = host->next) {
    if (!hosts.empty()) hosts += ',';
    hosts += host->host_and_port;
  }
  if (hosts.empty()) hosts = mongoc_uri_get_srv_hostname(uri) ? mongoc_uri_get_srv_hostname(uri) : "?";
  return hosts + "/" + database;
}

bool ValidDatabaseName(std::string_view name) {
  return !name.empty() && name.size() < 64 && name.find_first_of("/\\. \"$") == std::string_view::npos;
}

// One index of createIndexes: key paths in order (1 ascending, or "text").
struct IndexSpec {
  std::string name;
  std::vector<std::pair<std::string, std::string_view>> keys;  // path, "1" or "text"
  bool unique = false;
};

std::vector<IndexSpec> IndexesOf(Kind kind) {
  std::vector<IndexSpec> specs;
  const auto parent = ParentField(kind);
  for (const IndexedField& field : IndexedFields(kind)) {
    if (!field.indexed) continue;
    IndexSpec spec{.name = "ix_" + std::string(field.path), .keys = {{std::string(field.path), "1"}},
                   .unique = field.unique};
    // A parent's children in their order from one index (as on SQLite): instances of a series by instance_number.
    if (parent && field.path == *parent) spec.keys.emplace_back(std::string(*ChildOrderField(kind)), "1");
    specs.push_back(std::move(spec));
  }
  // `qc.flags` is an array (so not an IndexedFields column, which SQLite cannot index for membership; it has a side
  // table there): a plain index on it is multikey, one entry per flag, behind GET /series?qc_flag=...
  if (kind == Kind::kSeries) specs.push_back({.name = "ix_qc.flags", .keys = {{"qc.flags", "1"}}, .unique = false});
  return specs;
}

bool RunCommand(mongoc_client_t* client, const std::string& database, const Bson& command, bson_error_t& error) {
  Bson reply;
  const bool ok = mongoc_client_write_command_with_opts(client, database.c_str(), command.get(), nullptr,
                                                        reply.get(), &error);
  return ok;
}

// createIndexes for one collection; `partial` asks for a unique index over string values only (documents without the
// key, or with null, stay unconstrained — SQLite's UNIQUE semantics); without it the index is sparse. The partial
// filter is a range ({$gte: ""}: every string, nothing else) rather than {$type: "string"}, because MongoDB's
// planner uses a partial index only for queries it can prove inside the filter, and it proves an equality or $in on
// a string inside a range but not inside a $type test.
void AppendIndex(bson_t* indexes, const char* array_key, const IndexSpec& spec, bool partial) {
  bson_t index, key;
  bson_append_document_begin(indexes, array_key, -1, &index);
  bson_append_document_begin(&index, "key", -1, &key);
  for (const auto& [path, type] : spec.keys) {
    if (type == "text") {
      bson_append_utf8(&key, path.c_str(), -1, "text", 4);
    } else {
      bson_append_int32(&key, path.c_str(), -1, 1);
    }
  }
  bson_append_document_end(&index, &key);
  bson_append_utf8(&index, "name", -1, spec.name.c_str(), -1);
  if (spec.unique) {
    bson_append_bool(&index, "unique", -1, true);
    if (partial) {
      bson_t filter, condition;
      bson_append_document_begin(&index, "partialFilterExpression", -1, &filter);
      bson_append_document_begin(&filter, spec.keys.front().first.c_str(), -1, &condition);
      bson_append_utf8(&condition, "$gte", -1, "", 0);
      bson_append_document_end(&filter, &condition);
      bson_append_document_end(&index, &filter);
    } else {
      bson_append_bool(&index, "sparse", -1, true);
    }
  }
  bson_append_document_end(indexes, &index);
}

// One createIndexes command for `specs` of one collection (a command per collection, not per index: each is a round
// trip and, on some servers, a catalogue change of its own).
bool SendCreateIndexes(mongoc_client_t* client, const std::string& database, std::string_view collection,
                       const std::vector<IndexSpec>& specs, bool partial, bson_error_t& error) {
  Bson command;
  bson_append_utf8(command.get(), "createIndexes", -1, collection.data(), static_cast<int>(collection.size()));
  bson_t indexes;
  bson_append_array_begin(command.get(), "indexes", -1, &indexes);
  char buffer[16];
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const char* key = nullptr;
    bson_uint32_to_string(static_cast<std::uint32_t>(i), &key, buffer, sizeof buffer);
    AppendIndex(&indexes, key, specs[i], partial);
  }
  bson_append_array_end(command.get(), &indexes);
  return RunCommand(client, database, command, error);
}

}  // namespace

Connection::Connection(std::string_view uri, const StoreOptions& options) : options_(options) {
  InitLibrary();
  const std::string text(uri);
  const std::string password = PasswordOf(text);
  bson_error_t error;
  uri_.reset(mongoc_uri_new_with_error(text.c_str(), &error));
  if (!uri_) throw Error(Errc::kBadRequest, Redact("malformed MongoDB URI: " + std::string(error.message), password));
  RejectUnknownOptions(text);
  const char* database = mongoc_uri_get_database(uri_.get());
  database_ = database != nullptr && *database != '\0' ? database : "meta_db";
  if (!ValidDatabaseName(database_)) {
    throw Error(Errc::kBadRequest, "invalid MongoDB database name '" + database_ + "' in the URI");
  }
  // Acknowledged by a majority unless the URI says otherwise; never unacknowledged: a ledger record is written only
  // after the documents it vouches for were acknowledged.
  const mongoc_write_concern_t* given = mongoc_uri_get_write_concern(uri_.get());
  const std::int32_t w = mongoc_write_concern_get_w(given);
  if (w == MONGOC_WRITE_CONCERN_W_UNACKNOWLEDGED || w == MONGOC_WRITE_CONCERN_W_ERRORS_IGNORED) {
    throw Error(Errc::kBadRequest, "w=0 (unacknowledged writes) is not supported: meta_db needs every write acknowledged");
  }
  if (w == MONGOC_WRITE_CONCERN_W_DEFAULT && mongoc_write_concern_get_wtag(given) == nullptr) {
    WriteConcernPtr concern(mongoc_write_concern_copy(given));
    mongoc_write_concern_set_wmajority(concern.get(), mongoc_write_concern_get_wtimeout_int64(given));
    mongoc_uri_set_write_concern(uri_.get(), concern.get());
  }
  if (!mongoc_uri_has_option(uri_.get(), MONGOC_URI_RETRYWRITES)) {
    mongoc_uri_set_option_as_bool(uri_.get(), MONGOC_URI_RETRYWRITES, true);
  }
  if (!mongoc_uri_has_option(uri_.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(uri_.get(), MONGOC_URI_SERVERSELECTIONTIMEOUTMS, options_.connect_timeout_ms);
  }
  if (!mongoc_uri_has_option(uri_.get(), MONGOC_URI_CONNECTTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(uri_.get(), MONGOC_URI_CONNECTTIMEOUTMS, options_.connect_timeout_ms);
  }
  if (!mongoc_uri_has_option(uri_.get(), MONGOC_URI_APPNAME)) mongoc_uri_set_appname(uri_.get(), "meta_db");
  description_ = Describe(uri_.get(), database_);
  pool_.reset(mongoc_client_pool_new(uri_.get()));
  if (!pool_) throw Error(Errc::kBadRequest, "unusable MongoDB URI for " + description_);
  mongoc_client_pool_set_error_api(pool_.get(), MONGOC_ERROR_API_VERSION_2);
}

void Connection::CheckReachable(mongoc_client_t* client) const {
  Bson command;
  bson_append_int32(command.get(), "ping", 4, 1);
  Bson reply;
  bson_error_t error;
  if (mongoc_client_command_simple(client, "admin", command.get(), nullptr, reply.get(), &error)) return;
  ThrowUnusable(error, "unreachable");
}

void Connection::ThrowUnusable(const bson_error_t& error, std::string_view state) const {
  // Rejected credentials are a configuration error for a command (exit 2); a server process reports them as the
  // database being unavailable (503) and keeps trying.
  if (IsAuthentication(error)) {
    throw Error(options_.require_reachable ? Errc::kBadRequest : Errc::kUnavailable,
                "MongoDB at " + description_ + " rejected the credentials: " + error.message);
  }
  throw Error(Errc::kUnavailable, "MongoDB at " + description_ + " " + std::string(state) + ": " + error.message);
}

std::string Connection::Ping(mongoc_client_t* client) const {
  try {
    CheckReachable(client);
    // ping needs no credentials; a read of the database does.
    CollectionPtr info(mongoc_client_get_collection(client, database_.c_str(), std::string(kInfoCollection).c_str()));
    Bson filter, opts;
    bson_append_int64(opts.get(), "limit", 5, 1);
    CursorPtr cursor(mongoc_collection_find_with_opts(info.get(), filter.get(), opts.get(), nullptr));
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor.get(), &doc)) {
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) ThrowUnusable(error, "unusable");
    return {};
  } catch (const Error& error) {
    return error.what();
  }
}

void Connection::EnsureReady(mongoc_client_t* client, bool require_catalogue) {
  if (ready_.load(std::memory_order_acquire)) return;
  std::lock_guard lock(ready_mutex_);
  if (ready_.load()) return;
  CheckReachable(client);
  CollectionPtr info(mongoc_client_get_collection(client, database_.c_str(), std::string(kInfoCollection).c_str()));
  Bson selector;
  bson_append_utf8(selector.get(), "_id", 3, "indexes", 7);
  CursorPtr cursor(mongoc_collection_find_with_opts(info.get(), selector.get(), nullptr, nullptr));
  const bson_t* doc = nullptr;
  bool current = false, marked = false;
  while (mongoc_cursor_next(cursor.get(), &doc)) {
    marked = true;
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, "version") && BSON_ITER_HOLDS_INT32(&iter) &&
        bson_iter_int32(&iter) == kIndexVersion) {
      current = true;
      text_index_ = bson_iter_init_find(&iter, doc, "text_index") && bson_iter_as_bool(&iter);
    }
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) ThrowUnusable(error, "unusable");
  // Every database meta_db prepared has the marker (written after its indexes, by the first ingest or migrate).
  if (require_catalogue && !marked) {
    throw Error(Errc::kNotFound, "no catalogue at MongoDB " + description_ +
                                     " (no meta_db marker in its meta_db_info collection); `meta_db ingest` or "
                                     "`meta_db migrate --to` creates one");
  }
  // Several processes may open a fresh database at once (shards of one ingest): every index creation is
  // idempotent, so one that loses a race (or meets a server hiccup) is tried again.
  for (int attempt = 1; !current && !options_.read_only; ++attempt) {
    try {
      CreateIndexes(client);
      break;
    } catch (const Error& e) {
      if (e.code() != Errc::kUnavailable || attempt >= 4) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(250 * attempt));
    }
  }
  ready_.store(true, std::memory_order_release);
}

void Connection::CreateIndexes(mongoc_client_t* client) {
  bson_error_t error;
  // Unique indexes are partial (see AppendIndex) unless the server turns partial indexes down (FerretDB:
  // NotImplemented); then they are sparse, for this collection and the ones after it.
  bool partial = true;
  for (Kind kind : kAllKinds) {
    const std::string collection(CollectionName(kind));
    const std::vector<IndexSpec> specs = IndexesOf(kind);
    if (SendCreateIndexes(client, database_, collection, specs, partial, error)) continue;
    if (IsAuthentication(error)) Throw(error, "create indexes");
    // One by one, to learn which the server refuses — and because FerretDB v1.24 drops the connection on a
    // command of several indexes some of which exist already (another process made them first).
    for (const IndexSpec& spec : specs) {
      bool ok = SendCreateIndexes(client, database_, collection, {spec}, partial, error);
      if (!ok && spec.unique && partial && !IsTransient(error)) {
        ok = SendCreateIndexes(client, database_, collection, {spec}, false, error);
        partial = !ok;
      }
      if (!ok) {
        if (IsTransient(error) || IsAuthentication(error)) Throw(error, "create indexes");
        // An index of that name with other options (made by hand) is kept; queries work without ours.
        std::fprintf(stderr, "meta_db: warning: MongoDB index %s on %s not created: %s\n", spec.name.c_str(),
                     collection.c_str(), error.message);
      }
    }
  }
  const IndexSpec text{.name = "tx_search_text", .keys = {{"_search_text", "text"}}};
  const bool text_ok = SendCreateIndexes(client, database_, "series", {text}, false, error);
  if (!text_ok && IsTransient(error)) Throw(error, "create indexes");
  text_index_ = text_ok;

  CollectionPtr info(mongoc_client_get_collection(client, database_.c_str(), std::string(kInfoCollection).c_str()));
  Bson selector, marker;
  bson_append_utf8(selector.get(), "_id", 3, "indexes", 7);
  bson_append_utf8(marker.get(), "_id", 3, "indexes", 7);
  bson_append_int32(marker.get(), "version", -1, kIndexVersion);
  bson_append_bool(marker.get(), "text_index", -1, text_ok);
  Bson opts, reply;
  bson_append_bool(opts.get(), "upsert", -1, true);
  // A duplicate key here is another process recording the same marker first.
  if (!mongoc_collection_replace_one(info.get(), selector.get(), marker.get(), opts.get(), reply.get(), &error) &&
      error.code != kDuplicateKey) {
    Throw(error, "record the index version");
  }
}

}  // namespace meta_db::mongo
