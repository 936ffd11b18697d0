// API tokens and the audit log on MongoDB: two collections of their own, written directly (one document each).
#include "store/mongo/mongo_session.hpp"

#include "common/error.hpp"
#include "store/mongo/mongo_codec.hpp"
#include "store/mongo/mongo_errors.hpp"

#include <string>

namespace meta_db::mongo {

namespace {

constexpr std::string_view kTokens = "api_tokens";
constexpr std::string_view kAudit = "audit_log";

void Append(bson_t* out, std::string_view key, std::string_view value) {
  bson_append_utf8(out, key.data(), static_cast<int>(key.size()), value.data(), static_cast<int>(value.size()));
}

std::string Text(const bson_t* doc, const char* key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, doc, key) || !BSON_ITER_HOLDS_UTF8(&iter)) return {};
  std::uint32_t length = 0;
  const char* text = bson_iter_utf8(&iter, &length);
  return std::string(text, length);
}

std::int64_t Number(const bson_t* doc, const char* key) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, doc, key) || !BSON_ITER_HOLDS_NUMBER(&iter)) return 0;
  return bson_iter_as_int64(&iter);
}

Bson TokenSelector(std::string_view token_id) {
  Bson selector;
  Append(selector.get(), "_id", token_id);
  return selector;
}

TokenRecord TokenOf(const bson_t* doc) {
  return {.token_id = Text(doc, "_id"),
          .researcher = Text(doc, "researcher"),
          .label = Text(doc, "label"),
          .salt = Text(doc, "salt"),
          .hash = Text(doc, "hash"),
          .created_at = Text(doc, "created_at"),
          .revoked_at = Text(doc, "revoked_at")};
}

template <typename Visit>
void Scan(mongoc_collection_t* collection, const Bson& filter, const Bson& opts, std::string_view what, Visit&& visit) {
  CursorPtr cursor(mongoc_collection_find_with_opts(collection, filter.get(), opts.get(), nullptr));
  const bson_t* doc = nullptr;
  while (mongoc_cursor_next(cursor.get(), &doc)) visit(doc);
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) Throw(error, what);
}

Bson AuditFilter(const AuditQuery& query) {
  Bson filter;
  auto equal = [&](const char* field, const std::string& value) {
    if (!value.empty()) Append(filter.get(), field, value);
  };
  equal("actor", query.actor);
  equal("researcher_id", query.researcher_id);
  equal("token_id", query.token_id);
  equal("action", query.action);
  equal("kind", query.kind);
  equal("method", query.method);
  if (query.status) bson_append_int32(filter.get(), "status", 6, *query.status);
  if (!query.path_prefix.empty()) {
    // An anchored, fully escaped regular expression: the prefix's characters mean themselves.
    std::string pattern = "^";
    for (char c : query.path_prefix) {
      if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) pattern += '\\';
      pattern += c;
    }
    bson_append_regex(filter.get(), "path", 4, pattern.c_str(), "");
  }
  if (!query.since.empty() || !query.until.empty()) {
    bson_t range;
    bson_append_document_begin(filter.get(), "at", 2, &range);
    if (!query.since.empty()) Append(&range, "$gte", query.since);
    if (!query.until.empty()) Append(&range, "$lt", query.until);
    bson_append_document_end(filter.get(), &range);
  }
  return filter;
}

}  // namespace

void MongoSession::RequireWriting() const {
  if (!writing_) throw Error(Errc::kInternal, "write outside a write unit");
}

void MongoSession::PutToken(const TokenRecord& token) {
  RequireWriting();
  Bson doc;
  Append(doc.get(), "_id", token.token_id);
  Append(doc.get(), "researcher", token.researcher);
  Append(doc.get(), "label", token.label);
  Append(doc.get(), "salt", token.salt);
  Append(doc.get(), "hash", token.hash);
  Append(doc.get(), "created_at", token.created_at);
  Append(doc.get(), "revoked_at", token.revoked_at);
  bson_error_t error;
  if (!mongoc_collection_insert_one(Collection(kTokens), doc.get(), nullptr, nullptr, &error)) {
    if (error.code == kDuplicateKey) throw Error(Errc::kConflict, "token id " + token.token_id + " exists");
    Throw(error, "store an API token");
  }
}

std::optional<TokenRecord> MongoSession::GetToken(std::string_view token_id) {
  std::optional<TokenRecord> token;
  Scan(Collection(kTokens), TokenSelector(token_id), Bson(), "read an API token",
       [&](const bson_t* doc) { token = TokenOf(doc); });
  return token;
}

std::vector<TokenRecord> MongoSession::Tokens(std::string_view researcher) {
  Bson filter;
  if (!researcher.empty()) Append(filter.get(), "researcher", researcher);
  Bson opts;
  bson_t sort;
  bson_append_document_begin(opts.get(), "sort", 4, &sort);
  bson_append_int32(&sort, "created_at", 10, 1);
  bson_append_int32(&sort, "_id", 3, 1);
  bson_append_document_end(opts.get(), &sort);
  std::vector<TokenRecord> tokens;
  Scan(Collection(kTokens), filter, opts, "list API tokens", [&](const bson_t* doc) { tokens.push_back(TokenOf(doc)); });
  return tokens;
}

bool MongoSession::RevokeToken(std::string_view token_id, std::string_view when) {
  RequireWriting();
  auto token = GetToken(token_id);
  if (!token) return false;
  if (!token->revoked_at.empty()) return true;
  Bson update;
  bson_t set;
  bson_append_document_begin(update.get(), "$set", 4, &set);
  Append(&set, "revoked_at", when);
  bson_append_document_end(update.get(), &set);
  bson_error_t error;
  if (!mongoc_collection_update_one(Collection(kTokens), TokenSelector(token_id).get(), update.get(), nullptr, nullptr,
                                    &error)) {
    Throw(error, "revoke an API token");
  }
  return true;
}

void MongoSession::AppendAudit(const AuditRecord& record) {
  RequireWriting();
  Bson doc;
  if (auto id = ObjectId::Parse(record.id)) {
    AppendObjectId(doc.get(), "_id", *id);
  } else {
    throw Error(Errc::kInternal, "audit record without a valid id");
  }
  Append(doc.get(), "at", record.at);
  Append(doc.get(), "actor", record.actor);
  Append(doc.get(), "researcher_id", record.researcher_id);
  Append(doc.get(), "token_id", record.token_id);
  Append(doc.get(), "action", record.action);
  Append(doc.get(), "kind", record.kind);
  Append(doc.get(), "method", record.method);
  Append(doc.get(), "path", record.path);
  bson_append_int32(doc.get(), "status", 6, record.status);
  bson_append_int64(doc.get(), "documents", 9, record.documents);
  bson_t ids;
  bson_append_array_begin(doc.get(), "document_ids", 12, &ids);
  for (std::size_t i = 0; i < record.document_ids.size(); ++i) Append(&ids, std::to_string(i), record.document_ids[i]);
  bson_append_array_end(doc.get(), &ids);
  Append(doc.get(), "client", record.client);
  Append(doc.get(), "detail", record.detail);
  bson_error_t error;
  if (!mongoc_collection_insert_one(Collection(kAudit), doc.get(), nullptr, nullptr, &error)) {
    Throw(error, "append to the audit log");
  }
}

AuditPage MongoSession::FindAudit(const AuditQuery& query) {
  const Bson filter = AuditFilter(query);
  AuditPage page;
  bson_error_t error;
  page.total = mongoc_collection_count_documents(Collection(kAudit), filter.get(), nullptr, nullptr, nullptr, &error);
  if (page.total < 0) Throw(error, "count the audit log");
  if (query.limit <= 0) return page;
  Bson opts;
  bson_t sort;
  bson_append_document_begin(opts.get(), "sort", 4, &sort);
  bson_append_int32(&sort, "at", 2, -1);
  bson_append_int32(&sort, "_id", 3, -1);
  bson_append_document_end(opts.get(), &sort);
  if (query.skip > 0) bson_append_int64(opts.get(), "skip", 4, query.skip);
  bson_append_int64(opts.get(), "limit", 5, query.limit);
  Scan(Collection(kAudit), filter, opts, "read the audit log", [&](const bson_t* doc) {
    AuditRecord record;
    record.at = Text(doc, "at");
    record.actor = Text(doc, "actor");
    record.researcher_id = Text(doc, "researcher_id");
    record.token_id = Text(doc, "token_id");
    record.action = Text(doc, "action");
    record.kind = Text(doc, "kind");
    record.method = Text(doc, "method");
    record.path = Text(doc, "path");
    record.status = static_cast<int>(Number(doc, "status"));
    record.documents = Number(doc, "documents");
    record.client = Text(doc, "client");
    record.detail = Text(doc, "detail");
    bson_iter_t iter, child;
    if (bson_iter_init_find(&iter, doc, "_id") && BSON_ITER_HOLDS_OID(&iter)) {
      record.id = ToObjectId(*bson_iter_oid(&iter)).ToHex();
    }
    if (bson_iter_init_find(&iter, doc, "document_ids") && BSON_ITER_HOLDS_ARRAY(&iter) &&
        bson_iter_recurse(&iter, &child)) {
      while (bson_iter_next(&child)) {
        if (!BSON_ITER_HOLDS_UTF8(&child)) continue;
        std::uint32_t length = 0;
        const char* text = bson_iter_utf8(&child, &length);
        record.document_ids.emplace_back(text, length);
      }
    }
    page.records.push_back(std::move(record));
  });
  return page;
}

}  // namespace meta_db::mongo
