// Reads, the write overlay and its bulk application for the MongoDB back-end.
#include "store/mongo/mongo_session.hpp"

#include "common/error.hpp"
#include "store/mongo/mongo_bulk.hpp"
#include "store/mongo/mongo_codec.hpp"
#include "store/mongo/mongo_errors.hpp"
#include "store/mongo/mongo_filter.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>

namespace meta_db::mongo {

namespace {

namespace json = boost::json;

constexpr std::string_view kFiles = "ingest_files";
constexpr std::string_view kDirectories = "ingest_dirs";
constexpr std::string_view kErrors = "ingest_errors";
// $in lists the store builds itself are cut into chunks far below any server's limits.
constexpr std::size_t kKeyChunk = 1000;

std::size_t Slot(Kind kind) { return static_cast<std::size_t>(kind); }

std::string Name(Kind kind) { return std::string(CollectionName(kind)); }

ObjectId IdOf(const Document& doc) {
  const auto* id = doc.if_contains("_id");
  if (id != nullptr && id->is_string()) {
    if (auto parsed = ObjectId::Parse(id->as_string())) return *parsed;
  }
  throw Error(Errc::kInternal, "document without a valid _id reached the store");
}

// The unique business key's value of a document ("" when it has none).
std::string KeyOf(Kind kind, const Document& doc) {
  const auto key = UniqueKey(kind);
  if (!key) return {};
  const auto* value = doc.if_contains(*key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

[[noreturn]] void ThrowConflict(Kind kind, const Document& doc) {
  const auto key = UniqueKey(kind);
  boost::json::object details;
  std::string message = Name(kind) + ": duplicate key";
  if (key) {
    const auto* value = doc.if_contains(*key);
    message = Name(kind) + ": " + std::string(*key) + " " +
              (value ? json::serialize(*value) : std::string("(missing)")) + " already exists";
    details["field"] = *key;
  }
  throw Error(Errc::kConflict, message, std::move(details));
}

void AppendUtf8(bson_t* out, std::string_view key, std::string_view value) {
  bson_append_utf8(out, key.data(), static_cast<int>(key.size()), value.data(), static_cast<int>(value.size()));
}

Bson PathSelector(std::string_view path) {
  Bson selector;
  AppendUtf8(selector.get(), "_id", path);
  return selector;
}

// {"_id": {"$gte": prefix, "$lt": prefix with its last byte incremented}}, or {} for "" (every path).
Bson PrefixFilter(std::string_view prefix) {
  Bson filter;
  if (prefix.empty()) return filter;
  std::string upper(prefix);
  upper.back() = static_cast<char>(upper.back() + 1);
  bson_t range;
  bson_append_document_begin(filter.get(), "_id", 3, &range);
  AppendUtf8(&range, "$gte", prefix);
  AppendUtf8(&range, "$lt", upper);
  bson_append_document_end(filter.get(), &range);
  return filter;
}

// {field: {$in: [values[begin], ... up to kKeyChunk of them]}}, each value appended by `append(list, key, value)`.
template <typename Value, typename Append>
Bson InFilter(std::string_view field, const std::vector<Value>& values, std::size_t begin, Append append) {
  Bson filter;
  bson_t condition, list;
  bson_append_document_begin(filter.get(), field.data(), static_cast<int>(field.size()), &condition);
  bson_append_array_begin(&condition, "$in", 3, &list);
  char buffer[16];
  const std::size_t end = std::min(values.size(), begin + kKeyChunk);
  for (std::size_t i = begin; i < end; ++i) {
    const char* index = nullptr;
    const auto length = bson_uint32_to_string(static_cast<std::uint32_t>(i - begin), &index, buffer, sizeof buffer);
    append(&list, std::string_view(index, length), values[i]);
  }
  bson_append_array_end(&condition, &list);
  bson_append_document_end(filter.get(), &condition);
  return filter;
}

struct FindOptions {
  const Bson* sort = nullptr;
  std::int64_t skip = 0;
  std::int64_t limit = 0;  // 0: no limit
  bool ids_only = false;
  const Bson* projection = nullptr;  // a server-side projection (ids_only wins)
  int max_time_ms = 0;
};

Bson OptionsOf(const FindOptions& options) {
  Bson opts;
  if (options.sort != nullptr) bson_append_document(opts.get(), "sort", 4, options.sort->get());
  if (options.skip > 0) bson_append_int64(opts.get(), "skip", 4, options.skip);
  if (options.limit > 0) bson_append_int64(opts.get(), "limit", 5, options.limit);
  if (options.ids_only) {
    bson_t projection;
    bson_append_document_begin(opts.get(), "projection", 10, &projection);
    bson_append_int32(&projection, "_id", 3, 1);
    bson_append_document_end(opts.get(), &projection);
  } else if (options.projection != nullptr) {
    bson_append_document(opts.get(), "projection", 10, options.projection->get());
  }
  if (options.max_time_ms > 0) bson_append_int64(opts.get(), "maxTimeMS", 9, options.max_time_ms);
  return opts;
}

// Runs a find and hands every document to `visit`; the cursor is always closed.
template <typename Visit>
void Scan(mongoc_collection_t* collection, const Bson& filter, const FindOptions& options, std::string_view what,
          Visit&& visit) {
  const Bson opts = OptionsOf(options);
  CursorPtr cursor(mongoc_collection_find_with_opts(collection, filter.get(), opts.get(), nullptr));
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor.get(), &doc)) visit(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) Throw(error, what);
}

std::vector<Document> FindDocuments(mongoc_collection_t* collection, const Bson& filter, const FindOptions& options,
                                    std::string_view what) {
  std::vector<Document> docs;
  Scan(collection, filter, options, what, [&](const bson_t* doc) { docs.push_back(DecodeDocument(doc)); });
  return docs;
}

std::vector<ObjectId> FindIds(mongoc_collection_t* collection, const Bson& filter, FindOptions options,
                              std::string_view what) {
  options.ids_only = true;
  std::vector<ObjectId> ids;
  Scan(collection, filter, options, what, [&](const bson_t* doc) {
    bson_iter_t iter;
    if (bson_iter_init_find(&iter, doc, "_id") && BSON_ITER_HOLDS_OID(&iter)) ids.push_back(ToObjectId(*bson_iter_oid(&iter)));
  });
  return ids;
}

std::int64_t CountOf(mongoc_collection_t* collection, const Bson& filter, int max_time_ms, std::string_view what) {
  Bson opts;
  if (max_time_ms > 0) bson_append_int64(opts.get(), "maxTimeMS", 9, max_time_ms);
  bson_error_t error;
  const std::int64_t count =
      mongoc_collection_count_documents(collection, filter.get(), opts.get(), nullptr, nullptr, &error);
  if (count < 0) Throw(error, what);
  return count;
}

Bson ParentFilter(Kind child_kind, const ObjectId& parent_id) {
  const auto parent = ParentField(child_kind);
  if (!parent) throw Error(Errc::kInternal, Name(child_kind) + " has no parent");
  Bson filter;
  AppendObjectId(filter.get(), *parent, parent_id);
  return filter;
}

Bson ChildOrder(Kind child_kind) {
  Bson sort;
  const std::string order(*ChildOrderField(child_kind));
  bson_append_int32(sort.get(), order.c_str(), -1, 1);
  bson_append_int32(sort.get(), "_id", 3, 1);
  return sort;
}

std::string StringField(const bson_t* doc, const char* key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, doc, key) || !BSON_ITER_HOLDS_UTF8(&iter)) return {};
  std::uint32_t length = 0;
  const char* text = bson_iter_utf8(&iter, &length);
  return std::string(text, length);
}

std::string_view StringView(const bson_t* doc, const char* key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, doc, key) || !BSON_ITER_HOLDS_UTF8(&iter)) return {};
  std::uint32_t length = 0;
  const char* text = bson_iter_utf8(&iter, &length);
  return {text, length};
}

std::int64_t IntField(const bson_t* doc, const char* key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, doc, key) || !BSON_ITER_HOLDS_NUMBER(&iter)) return 0;
  return bson_iter_as_int64(&iter);
}

FileRecordView FileRecordOf(const bson_t* doc) {
  return {.path = StringView(doc, "_id"),
          .size = IntField(doc, "size"),
          .mtime_ns = IntField(doc, "mtime_ns"),
          .status = StringView(doc, "status"),
          .sop_instance_uid = StringView(doc, "sop_instance_uid")};
}

Bson FileRecordDocument(const FileRecord& record) {
  Bson doc;
  AppendUtf8(doc.get(), "_id", record.path);
  bson_append_int64(doc.get(), "size", 4, record.size);
  bson_append_int64(doc.get(), "mtime_ns", 8, record.mtime_ns);
  AppendUtf8(doc.get(), "status", record.status);
  if (record.sop_instance_uid.empty()) {
    bson_append_null(doc.get(), "sop_instance_uid", 16);
  } else {
    AppendUtf8(doc.get(), "sop_instance_uid", record.sop_instance_uid);
  }
  return doc;
}

// The server-side projection of a scan's fields: a superset of what query::Project keeps (the session projects
// again), without the paths a shorter one covers ({"a": 1, "a.b": 1} is a path collision to MongoDB). nullopt when a
// path is not a plain dotted path (the server then sends whole documents).
std::optional<Bson> ScanProjection(const std::vector<std::string>& fields) {
  // Top-level members only: servers differ on dotted paths through arrays (FerretDB keeps less than MongoDB).
  std::vector<std::string> paths;
  for (const std::string& field : fields) paths.push_back(field.substr(0, field.find('.')));
  paths.emplace_back("_id");
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  const auto covered = [&](const std::string& path) {
    return std::any_of(paths.begin(), paths.end(), [&](const std::string& shorter) {
      return path.size() > shorter.size() && path.compare(0, shorter.size(), shorter) == 0 &&
             path[shorter.size()] == '.';
    });
  };
  Bson projection;
  for (const std::string& path : paths) {
    if (path.empty() || path.front() == '.' || path.back() == '.' || path.find("..") != std::string::npos ||
        path.find('$') != std::string::npos || path.find('\0') != std::string::npos) {
      return std::nullopt;
    }
    if (!covered(path)) bson_append_int32(projection.get(), path.c_str(), static_cast<int>(path.size()), 1);
  }
  return projection;
}

// {"$and": [filter, {"_id": {"$gt": after}}]}.
Bson AfterId(const Bson& filter, const ObjectId& after) {
  Bson both;
  bson_t list, condition, range;
  bson_append_array_begin(both.get(), "$and", 4, &list);
  bson_append_document(&list, "0", 1, filter.get());
  bson_append_document_begin(&list, "1", 1, &condition);
  bson_append_document_begin(&condition, "_id", 3, &range);
  AppendObjectId(&range, "$gt", after);
  bson_append_document_end(&condition, &range);
  bson_append_document_end(&list, &condition);
  bson_append_array_end(both.get(), &list);
  return both;
}

}  // namespace

MongoSession::MongoSession(Connection& connection, mongoc_client_t* client, bool writing)
    : connection_(connection), client_(client), writing_(writing) {}

mongoc_collection_t* MongoSession::Collection(std::string_view name) {
  auto found = collections_.find(name);
  if (found != collections_.end()) return found->second.get();
  CollectionPtr collection(
      mongoc_client_get_collection(client_, connection_.database().c_str(), std::string(name).c_str()));
  return collections_.emplace(std::string(name), std::move(collection)).first->second.get();
}

mongoc_collection_t* MongoSession::Collection(Kind kind) { return Collection(CollectionName(kind)); }

const MongoSession::PendingDocument* MongoSession::Pending(Kind kind, const ObjectId& id) const {
  const auto& pending = pending_[Slot(kind)];
  const auto found = pending.find(id);
  return found == pending.end() ? nullptr : &found->second;
}

std::optional<Document> MongoSession::FromServer(Kind kind, const ObjectId& id) {
  std::vector<Document> docs =
      FindDocuments(Collection(kind), IdSelector(id), {.limit = 1}, "get from " + Name(kind));
  if (docs.empty()) return std::nullopt;
  return std::move(docs.front());
}

std::optional<Document> MongoSession::Get(Kind kind, const ObjectId& id) {
  if (const PendingDocument* pending = Pending(kind, id)) return pending->doc;
  return FromServer(kind, id);
}

std::optional<Document> MongoSession::GetByKey(Kind kind, std::string_view value) {
  std::vector<Document> docs = GetByKeys(kind, {std::string(value)});
  if (docs.empty()) return std::nullopt;
  return std::move(docs.front());
}

std::vector<Document> MongoSession::GetByKeys(Kind kind, const std::vector<std::string>& values) {
  const auto key = UniqueKey(kind);
  if (!key) throw Error(Errc::kInternal, Name(kind) + " has no unique key");
  std::vector<Document> found;
  std::vector<std::string> remote;
  for (const std::string& value : values) {
    const auto& keys = pending_keys_[Slot(kind)];
    if (const auto at = keys.find(value); at != keys.end()) {
      const PendingDocument* pending = Pending(kind, at->second);
      if (pending != nullptr && pending->doc && KeyOf(kind, *pending->doc) == value) {
        found.push_back(*pending->doc);
        continue;
      }
    }
    remote.push_back(value);
  }
  for (std::size_t begin = 0; begin < remote.size(); begin += kKeyChunk) {
    const Bson filter = InFilter(*key, remote, begin, AppendUtf8);
    for (Document& doc : FindDocuments(Collection(kind), filter, {}, "get from " + Name(kind) + " by key")) {
      // The unit's own writes win: a document it changed or removed answers from the overlay.
      if (const PendingDocument* pending = Pending(kind, IdOf(doc))) {
        if (pending->doc && KeyOf(kind, *pending->doc) == KeyOf(kind, doc)) found.push_back(*pending->doc);
        continue;
      }
      found.push_back(std::move(doc));
    }
  }
  return found;
}

FindResult MongoSession::Find(Kind kind, const query::Query& q) {
  if (q.skip < 0 || q.limit < 0) throw Error(Errc::kBadRequest, "skip and limit must be non-negative");
  if (!q.text.empty() && kind != Kind::kSeries) {
    throw Error(Errc::kBadRequest, "free text (q=) is only available on series", boost::json::object{{"path", "q"}});
  }
  FlushCatalog();
  const Bson filter = EncodeFilter(q.filter.get(), q.text, connection_.text_index());
  const int budget = connection_.options().query_budget_ms;
  FindResult result;
  if (q.limit > 0) {
    std::optional<Bson> sort;
    if (!q.sort.empty()) sort = EncodeSort(q.sort);
    result.results = FindDocuments(Collection(kind), filter,
                                   {.sort = sort ? &*sort : nullptr, .skip = q.skip, .limit = q.limit,
                                    .max_time_ms = budget},
                                   "find in " + Name(kind));
  }
  result.total = q.count_total ? CountOf(Collection(kind), filter, budget, "count in " + Name(kind)) : -1;
  if (q.projection) {
    for (Document& doc : result.results) doc = query::Project(doc, *q.projection);
  }
  if (q.as_json_text) {
    for (const Document& doc : result.results) result.json_texts.push_back(json::serialize(doc));
    result.results.clear();
  }
  return result;
}

void MongoSession::ScanPages(Kind kind, const ScanQuery& scan, const ScanVisitor& visit) {
  if (scan.page < 1 || scan.page > kMaxScanPage) {
    throw Error(Errc::kBadRequest, "a scan page holds 1 to " + std::to_string(kMaxScanPage) + " documents");
  }
  if (!scan.text.empty() && kind != Kind::kSeries) {
    throw Error(Errc::kBadRequest, "free text (q=) is only available on series", boost::json::object{{"path", "q"}});
  }
  FlushCatalog();
  const Bson filter = EncodeFilter(scan.filter.get(), scan.text, connection_.text_index());
  Bson sort;
  bson_append_int32(sort.get(), "_id", 3, 1);
  std::optional<Bson> projection;
  if (scan.fields) projection = ScanProjection(*scan.fields);
  const int budget = connection_.options().query_budget_ms;
  std::optional<ObjectId> after = scan.after;
  std::int64_t page_size = scan.page;
  for (;;) {
    const std::optional<Bson> paged = after ? std::optional<Bson>(AfterId(filter, *after)) : std::nullopt;
    std::vector<Document> page;
    // Keyset pages (`_id > last`), each its own short find whatever the depth; a page over the query budget (a slow
    // server, a busy machine) is asked again in halves, down to one document.
    for (;;) {
      try {
        page = FindDocuments(Collection(kind), paged ? *paged : filter,
                             {.sort = &sort, .limit = page_size, .projection = projection ? &*projection : nullptr,
                              .max_time_ms = budget},
                             "scan of " + Name(kind));
        break;
      } catch (const Error& error) {
        if (error.code() != Errc::kTimeout || page_size <= 1) throw;
        page_size = std::max<std::int64_t>(1, page_size / 2);
      }
    }
    if (page.empty()) return;
    const bool full = static_cast<std::int64_t>(page.size()) == page_size;
    after = IdOf(page.back());
    if (scan.fields) {
      for (Document& doc : page) doc = query::Project(doc, query::Projection{true, *scan.fields});
    }
    if (!visit(page) || !full) return;
  }
}

std::vector<Document> MongoSession::Children(Kind child_kind, const ObjectId& parent_id) {
  FlushCatalog();
  const Bson sort = ChildOrder(child_kind);
  return FindDocuments(Collection(child_kind), ParentFilter(child_kind, parent_id), {.sort = &sort},
                       "children in " + Name(child_kind));
}

std::int64_t MongoSession::CountChildren(Kind child_kind, const ObjectId& parent_id) {
  FlushCatalog();
  return CountOf(Collection(child_kind), ParentFilter(child_kind, parent_id), 0, "count in " + Name(child_kind));
}

std::vector<ObjectId> MongoSession::ChildIds(Kind child_kind, const ObjectId& parent_id) {
  FlushCatalog();
  const Bson sort = ChildOrder(child_kind);
  return FindIds(Collection(child_kind), ParentFilter(child_kind, parent_id), {.sort = &sort},
                 "children in " + Name(child_kind));
}

std::map<ObjectId, std::vector<ObjectId>> MongoSession::ChildIdsOf(Kind child_kind,
                                                                  const std::vector<ObjectId>& parents) {
  FlushCatalog();
  const std::string parent(*ParentField(child_kind));
  const std::string order(*ChildOrderField(child_kind));
  std::map<ObjectId, std::vector<ObjectId>> children;
  for (const ObjectId& id : parents) children[id];
  Bson sort;
  bson_append_int32(sort.get(), parent.c_str(), -1, 1);
  bson_append_int32(sort.get(), order.c_str(), -1, 1);
  bson_append_int32(sort.get(), "_id", 3, 1);
  for (std::size_t begin = 0; begin < parents.size(); begin += kKeyChunk) {
    const Bson filter = InFilter(parent, parents, begin, AppendObjectId);
    Bson opts = OptionsOf({.sort = &sort});
    bson_t projection;
    bson_append_document_begin(opts.get(), "projection", 10, &projection);
    bson_append_int32(&projection, "_id", 3, 1);
    bson_append_int32(&projection, parent.c_str(), -1, 1);
    bson_append_document_end(opts.get(), &projection);
    CursorPtr cursor(mongoc_collection_find_with_opts(Collection(child_kind), filter.get(), opts.get(), nullptr));
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor.get(), &doc)) {
      bson_iter_t id, owner;
      if (bson_iter_init_find(&id, doc, "_id") && BSON_ITER_HOLDS_OID(&id) &&
          bson_iter_init_find(&owner, doc, parent.c_str()) && BSON_ITER_HOLDS_OID(&owner)) {
        children[ToObjectId(*bson_iter_oid(&owner))].push_back(ToObjectId(*bson_iter_oid(&id)));
      }
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) Throw(error, "children in " + Name(child_kind));
  }
  return children;
}

std::vector<ObjectId> MongoSession::AllIds(Kind kind) {
  FlushCatalog();
  Bson sort;
  bson_append_int32(sort.get(), "_id", 3, 1);
  return FindIds(Collection(kind), Bson(), {.sort = &sort}, "ids of " + Name(kind));
}

std::int64_t MongoSession::Count(Kind kind) {
  FlushCatalog();
  return CountOf(Collection(kind), Bson(), 0, "count " + Name(kind));
}

void MongoSession::Stage(Kind kind, const Document& doc, bool insert) {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  const ObjectId id = IdOf(doc);
  PendingDocument& pending = pending_[Slot(kind)][id];
  pending.insert = insert;
  pending.doc = doc;
  if (const std::string key = KeyOf(kind, doc); !key.empty()) pending_keys_[Slot(kind)][key] = id;
}

void MongoSession::Insert(Kind kind, const Document& doc) {
  if (const PendingDocument* pending = Pending(kind, IdOf(doc)); pending != nullptr && pending->doc) {
    ThrowConflict(kind, doc);
  }
  // A unit that removed the id and inserts it again replaces it on the server.
  const PendingDocument* removed = Pending(kind, IdOf(doc));
  Stage(kind, doc, removed == nullptr);
}

void MongoSession::Replace(Kind kind, const Document& doc) {
  const PendingDocument* pending = Pending(kind, IdOf(doc));
  const bool was_insert = pending != nullptr && pending->insert;
  const bool stored = pending == nullptr || pending->stored;
  Stage(kind, doc, was_insert);
  pending_[Slot(kind)][IdOf(doc)].stored = stored && !was_insert;
}

void MongoSession::Put(Kind kind, const Document& doc) {
  const PendingDocument* pending = Pending(kind, IdOf(doc));
  const bool was_insert = pending != nullptr && pending->insert;
  const bool stored = pending != nullptr && pending->stored;
  Stage(kind, doc, was_insert);
  pending_[Slot(kind)][IdOf(doc)].stored = stored;
}

bool MongoSession::ReplaceIfUnchanged(Kind kind, const Document& doc, const Document& stored) {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  FlushCatalog();  // the unit's earlier writes first, in their order
  Bson selector = IdSelector(IdOf(doc));
  if (const auto* updated = stored.if_contains("updated_at")) {
    AppendValue(selector.get(), "updated_at", *updated, "updated_at");
  } else {  // made by a writer that stamps nothing: still unstamped
    bson_t absent;
    bson_append_document_begin(selector.get(), "updated_at", 10, &absent);
    bson_append_bool(&absent, "$exists", 7, false);
    bson_append_document_end(selector.get(), &absent);
  }
  const Bson replacement = EncodeDocument(doc);
  Bson reply;
  bson_error_t error;
  if (!mongoc_collection_replace_one(Collection(kind), selector.get(), replacement.get(), nullptr, reply.get(),
                                     &error)) {
    if (error.code == kDuplicateKey) ThrowConflict(kind, doc);
    Throw(error, "replace in " + Name(kind));
  }
  bson_iter_t iter;
  return bson_iter_init_find(&iter, reply.get(), "matchedCount") && bson_iter_as_int64(&iter) > 0;
}

bool MongoSession::Remove(Kind kind, const ObjectId& id) {
  const std::optional<Document> existing = Get(kind, id);
  if (!existing) return false;
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  PendingDocument& pending = pending_[Slot(kind)][id];
  const bool never_stored = pending.insert;
  pending = {};
  if (never_stored) pending_[Slot(kind)].erase(id);  // inserted and removed within the unit: nothing to send
  return true;
}

void MongoSession::FlushCatalog() {
  // Removals children first, writes parents first: an interrupted flush never leaves a child whose parent is gone.
  for (auto kind = std::rbegin(kAllKinds); kind != std::rend(kAllKinds); ++kind) {
    std::vector<WriteOp> ops;
    for (const auto& [id, pending] : pending_[Slot(*kind)]) {
      if (!pending.doc) ops.push_back(WriteOp::Delete(IdSelector(id)));
    }
    if (!ops.empty()) ApplyBulk(Collection(*kind), ops, "remove from " + Name(*kind), {});
  }
  // Researchers last: their jobs[] names jobs, written before it (a crash between them leaves a job the list lacks,
  // which catalog::RestoreResearcherJobs adds back when a server starts).
  constexpr Kind kWriteOrder[] = {Kind::kCollections, Kind::kStudies, Kind::kSeries,     Kind::kInstances,
                                  Kind::kAnnotations, Kind::kJobs,    Kind::kJobRecords, Kind::kResearchers};
  static_assert(std::size(kWriteOrder) == std::size(kAllKinds));
  for (Kind kind : kWriteOrder) {
    auto& pending = pending_[Slot(kind)];
    std::vector<WriteOp> ops;
    std::vector<const Document*> docs;
    for (const auto& [id, entry] : pending) {
      if (!entry.doc) continue;
      if (entry.insert) {
        ops.push_back(WriteOp::Insert(EncodeDocument(*entry.doc)));
      } else {
        ops.push_back(entry.stored ? WriteOp::ReplaceOrInsert(IdSelector(id), EncodeDocument(*entry.doc))
                                   : WriteOp::InsertOrReplace(IdSelector(id), EncodeDocument(*entry.doc)));
      }
      docs.push_back(&*entry.doc);
    }
    if (!ops.empty()) {
      ApplyBulk(Collection(kind), ops, "write to " + Name(kind), [&](const WriteOp& op) {
        ThrowConflict(kind, *docs[static_cast<std::size_t>(&op - ops.data())]);
      });
    }
    pending.clear();
    pending_keys_[Slot(kind)].clear();
  }
}

void MongoSession::Commit() {
  FlushCatalog();
  FlushLedger();
}

void MongoSession::FlushLedger() {
  // Digests first (a unit that writes them writes no file records), then the clearing of every touched directory's
  // digest, then the error register, then the file records: a digest is gone before the records it vouched for
  // change, and a failed file's register entry is there before the record that makes the next run leave it alone.
  std::vector<WriteOp> ops;
  for (const auto& [directory, digest] : digests_) {
    if (!digest) {
      ops.push_back(WriteOp::Delete(PathSelector(directory)));
      continue;
    }
    Bson doc;
    AppendUtf8(doc.get(), "_id", directory);
    bson_append_int64(doc.get(), "digest", 6, digest->first);
    bson_append_int64(doc.get(), "files", 5, digest->second);
    ops.push_back(WriteOp::ReplaceOrInsert(PathSelector(directory), std::move(doc)));
  }
  if (!ops.empty()) ApplyBulk(Collection(kDirectories), ops, "write directory digests", {});
  digests_.clear();

  ops.clear();
  for (const std::string& directory : touched_directories_) {
    Bson update;
    bson_t set, on_insert;
    bson_append_document_begin(update.get(), "$set", 4, &set);
    bson_append_null(&set, "digest", 6);
    bson_append_document_end(update.get(), &set);
    bson_append_document_begin(update.get(), "$setOnInsert", 12, &on_insert);
    bson_append_int64(&on_insert, "files", 5, 0);
    bson_append_document_end(update.get(), &on_insert);
    ops.push_back(WriteOp::UpdateOrInsert(PathSelector(directory), std::move(update)));
  }
  if (!ops.empty()) ApplyBulk(Collection(kDirectories), ops, "clear directory digests", {});
  touched_directories_.clear();


  ops.clear();
  for (const auto& [path, entry] : errors_) {
    if (entry.clear) {
      ops.push_back(WriteOp::Delete(PathSelector(path)));
      continue;
    }
    Bson update;
    bson_t set, on_insert;
    bson_append_document_begin(update.get(), "$set", 4, &set);
    AppendUtf8(&set, "reason", entry.reason);
    AppendUtf8(&set, "last_seen", entry.when);
    bson_append_document_end(update.get(), &set);
    bson_append_document_begin(update.get(), "$setOnInsert", 12, &on_insert);
    AppendUtf8(&on_insert, "first_seen", entry.first_when);
    bson_append_document_end(update.get(), &on_insert);
    ops.push_back(WriteOp::UpdateOrInsert(PathSelector(path), std::move(update)));
  }
  if (!ops.empty()) ApplyBulk(Collection(kErrors), ops, "write the error register", {});
  errors_.clear();
  ops.clear();
  for (const auto& [path, record] : files_) {
    if (record) {
      ops.push_back(WriteOp::InsertOrReplace(PathSelector(path), FileRecordDocument(*record)));
    } else {
      ops.push_back(WriteOp::Delete(PathSelector(path)));
    }
  }
  if (!ops.empty()) ApplyBulk(Collection(kFiles), ops, "write file records", {});
  files_.clear();
}

void MongoSession::VisitFileRecords(std::string_view path_prefix,
                                    const std::function<void(const FileRecordView&)>& visit) {
  Commit();  // the unit's own records (after its documents, as always)
  Bson sort;
  bson_append_int32(sort.get(), "_id", 3, 1);
  Scan(Collection(kFiles), PrefixFilter(path_prefix), {.sort = &sort}, "read file records",
       [&](const bson_t* doc) { visit(FileRecordOf(doc)); });
}

void MongoSession::PutFileRecord(const FileRecord& record) {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  files_[record.path] = record;
  touched_directories_.emplace(DirectoryOf(record.path));
}

void MongoSession::RemoveFileRecord(std::string_view path) {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  files_[std::string(path)] = std::nullopt;
  touched_directories_.emplace(DirectoryOf(path));
}

std::optional<FileRecord> MongoSession::GetFileRecord(std::string_view path) {
  if (const auto found = files_.find(path); found != files_.end()) return found->second;
  std::optional<FileRecord> record;
  Scan(Collection(kFiles), PathSelector(path), {.limit = 1}, "read a file record",
       [&](const bson_t* doc) { record = FileRecordOf(doc).Copy(); });
  return record;
}

void MongoSession::VisitDirectoryDigests(std::string_view path_prefix,
                                         const std::function<void(const DirectoryDigest&)>& visit) {
  Commit();
  Scan(Collection(kDirectories), PrefixFilter(path_prefix), {}, "read directory digests", [&](const bson_t* doc) {
    bson_iter_t iter;
    std::optional<std::int64_t> digest;
    if (bson_iter_init_find(&iter, doc, "digest") && BSON_ITER_HOLDS_NUMBER(&iter)) digest = bson_iter_as_int64(&iter);
    visit({.directory = StringView(doc, "_id"), .digest = digest, .files = IntField(doc, "files")});
  });
}

void MongoSession::PutDirectoryDigest(std::string_view directory, std::int64_t digest, std::int64_t files) {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  digests_[std::string(directory)] = std::make_pair(digest, files);
}

void MongoSession::RemoveDirectoryDigest(std::string_view directory) {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  digests_[std::string(directory)] = std::nullopt;
}

void MongoSession::PutError(std::string_view path, std::string_view reason, std::string_view when) {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  PendingError& entry = errors_[std::string(path)];
  if (entry.clear || entry.first_when.empty()) entry.first_when = std::string(when);
  entry.reason = std::string(reason);
  entry.when = std::string(when);
  entry.clear = false;
}

void MongoSession::ClearError(std::string_view path) {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
  errors_[std::string(path)] = {.reason = {}, .when = {}, .first_when = {}, .clear = true};
}

std::vector<ErrorRecord> MongoSession::Errors(std::int64_t skip, std::int64_t limit) {
  Commit();
  std::vector<ErrorRecord> errors;
  if (limit <= 0) return errors;
  Bson sort;
  bson_append_int32(sort.get(), "_id", 3, 1);
  Scan(Collection(kErrors), Bson(), {.sort = &sort, .skip = skip, .limit = limit}, "read the error register",
       [&](const bson_t* doc) {
         errors.push_back({.path = StringField(doc, "_id"),
                           .reason = StringField(doc, "reason"),
                           .first_seen = StringField(doc, "first_seen"),
                           .last_seen = StringField(doc, "last_seen")});
       });
  return errors;
}

std::int64_t MongoSession::CountErrors() {
  Commit();
  return CountOf(Collection(kErrors), Bson(), 0, "count the error register");
}

}  // namespace meta_db::mongo
