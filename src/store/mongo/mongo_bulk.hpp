// Unordered bulk writes with the retries the store's write semantics allow: every op is idempotent (upserts and
// deletes by _id, $set updates), so a transient failure (network, no primary) is retried whole with backoff, and
// a duplicate-key failure of an upsert (another writer inserted the same _id first) is retried as the update it
// then is. Thread-safety: one collection, one thread.
#pragma once

#include "store/mongo/mongo_handles.hpp"

#include <functional>
#include <string_view>
#include <vector>

namespace meta_db::mongo {

struct WriteOp {
  // kInsertOrReplace: sent as an insert (a server applies a batch of inserts far faster than upserts); one that
  // finds its _id taken is sent again as a replace.
  enum class Type { kInsert, kInsertOrReplace, kReplace, kUpdate, kDelete };
  Type type = Type::kReplace;
  Bson selector;  // replace, update, delete
  Bson document;  // insert, replace: the document; update: the update specification
  bool upsert = false;

  static WriteOp Insert(Bson document) { return Make(Type::kInsert, Bson(), std::move(document), false); }
  static WriteOp InsertOrReplace(Bson selector, Bson document) {
    return Make(Type::kInsertOrReplace, std::move(selector), std::move(document), true);
  }
  static WriteOp ReplaceOrInsert(Bson selector, Bson document) {
    return Make(Type::kReplace, std::move(selector), std::move(document), true);
  }
  static WriteOp UpdateOrInsert(Bson selector, Bson update) {
    return Make(Type::kUpdate, std::move(selector), std::move(update), true);
  }
  static WriteOp Delete(Bson selector) { return Make(Type::kDelete, std::move(selector), Bson(), false); }

 private:
  static WriteOp Make(Type type, Bson selector, Bson document, bool upsert) {
    WriteOp op;
    op.type = type;
    op.selector = std::move(selector);
    op.document = std::move(document);
    op.upsert = upsert;
    return op;
  }
};

// Applies `ops` (any order among them: the caller gives at most one op per _id). An insert that fails on a duplicate
// key is reported to `on_conflict` (which throws) unless a retry after a transient failure may have applied it
// already; so is an op still failing on one after the retries. Other failures throw (mongo_errors.hpp).
// After any write error every replace, update and delete of the bulk is sent again: some servers (FerretDB) stop an
// unordered bulk of updates at its first error without saying which ops were applied.
void ApplyBulk(mongoc_collection_t* collection, const std::vector<WriteOp>& ops, std::string_view what,
               const std::function<void(const WriteOp& op)>& on_conflict);

}  // namespace meta_db::mongo
