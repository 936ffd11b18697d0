// Bulk execution, write-error parsing and retries for the MongoDB back-end.
#include "store/mongo/mongo_bulk.hpp"

#include "store/mongo/mongo_errors.hpp"

#include "common/error.hpp"

#include <chrono>
#include <thread>

namespace meta_db::mongo {

namespace {

constexpr int kAttempts = 3;
constexpr std::size_t kMaxUpdatesPerBulk = 20;
constexpr std::chrono::milliseconds kFirstBackoff{200};

struct WriteError {
  std::size_t index = 0;
  std::int32_t code = 0;
};

std::vector<WriteError> WriteErrorsOf(const bson_t* reply) {
  std::vector<WriteError> errors;
  bson_iter_t iter, list;
  if (!bson_iter_init_find(&iter, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&iter) ||
      !bson_iter_recurse(&iter, &list)) {
    return errors;
  }
  while (bson_iter_next(&list)) {
    bson_iter_t item;
    if (!BSON_ITER_HOLDS_DOCUMENT(&list) || !bson_iter_recurse(&list, &item)) continue;
    WriteError error;
    while (bson_iter_next(&item)) {
      const std::string_view key = bson_iter_key(&item);
      if (key == "index") error.index = static_cast<std::size_t>(bson_iter_as_int64(&item));
      if (key == "code") error.code = static_cast<std::int32_t>(bson_iter_as_int64(&item));
    }
    errors.push_back(error);
  }
  return errors;
}

bool Add(mongoc_bulk_operation_t* bulk, const WriteOp& op, bool as_replace, bson_error_t& error) {
  Bson opts;
  if (op.upsert) bson_append_bool(opts.get(), "upsert", 6, true);
  switch (op.type) {
    case WriteOp::Type::kInsert: return mongoc_bulk_operation_insert_with_opts(bulk, op.document.get(), nullptr, &error);
    case WriteOp::Type::kInsertOrReplace:
      if (!as_replace) return mongoc_bulk_operation_insert_with_opts(bulk, op.document.get(), nullptr, &error);
      [[fallthrough]];
    case WriteOp::Type::kReplace:
      return mongoc_bulk_operation_replace_one_with_opts(bulk, op.selector.get(), op.document.get(), opts.get(), &error);
    case WriteOp::Type::kUpdate:
      return mongoc_bulk_operation_update_one_with_opts(bulk, op.selector.get(), op.document.get(), opts.get(), &error);
    case WriteOp::Type::kDelete: return mongoc_bulk_operation_remove_one_with_opts(bulk, op.selector.get(), nullptr, &error);
  }
  return false;
}

bool IsInsert(const WriteOp& op, bool as_replace) {
  return op.type == WriteOp::Type::kInsert || (op.type == WriteOp::Type::kInsertOrReplace && !as_replace);
}

// An op of the next attempt: which op, and whether an insert-or-replace now goes as a replace.
struct Attempt {
  const WriteOp* op;
  bool as_replace;
};

// The outcome of sending one attempt's ops: write errors by op index, and a transient failure of some sub-bulk.
struct Sent {
  std::vector<WriteError> write_errors;
  bool transient = false;
  bson_error_t error{};
};

// Sends the ops as unordered bulks of at most kMaxUpdatesPerBulk replaces/updates each: FerretDB v1.24 keeps every update
// of a command on a pooled connection until the command ends and its pool holds 100, so an update command of a hundred
// updates (or several smaller ones at once) never answers; inserts and deletes it takes by the thousand.
Sent Send(mongoc_collection_t* collection, const std::vector<Attempt>& todo, std::string_view what) {
  Sent sent;
  std::size_t begin = 0;
  while (begin < todo.size()) {
    std::size_t end = begin, updates = 0;
    while (end < todo.size() && (updates < kMaxUpdatesPerBulk || IsInsert(*todo[end].op, todo[end].as_replace) ||
                                 todo[end].op->type == WriteOp::Type::kDelete)) {
      if (!IsInsert(*todo[end].op, todo[end].as_replace) && todo[end].op->type != WriteOp::Type::kDelete) ++updates;
      ++end;
    }
    Bson bulk_opts;
    bson_append_bool(bulk_opts.get(), "ordered", 7, false);
    BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(collection, bulk_opts.get()));
    bson_error_t error;
    for (std::size_t i = begin; i < end; ++i) {
      if (!Add(bulk.get(), *todo[i].op, todo[i].as_replace, error)) Throw(error, what);
    }
    Bson reply;
    if (mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error) == 0) {
      std::vector<WriteError> errors = WriteErrorsOf(reply.get());
      if (errors.empty()) {
        if (!IsTransient(error)) Throw(error, what);
        // The server went away: the rest would each wait out the server selection again. Everything is retried.
        sent.transient = true;
        sent.error = error;
        return sent;
      }
      for (WriteError& e : errors) {
        if (e.code != kDuplicateKey) Throw(error, what);
        e.index += begin;
        sent.write_errors.push_back(e);
      }
    }
    begin = end;
  }
  return sent;
}

// After a transient failure an insert may have gone through before the reply was lost: a duplicate of it is ours
// only if what is stored under its _id is exactly the document we sent.
bool HoldsExactly(mongoc_collection_t* collection, const WriteOp& op) {
  bson_iter_t iter;
  if (!bson_iter_init_find(&iter, op.document.get(), "_id")) return false;
  Bson filter;
  bson_append_iter(filter.get(), "_id", 3, &iter);
  Bson opts;
  bson_append_int64(opts.get(), "limit", 5, 1);
  CursorPtr cursor(mongoc_collection_find_with_opts(collection, filter.get(), opts.get(), nullptr));
  const bson_t* stored = nullptr;
  return mongoc_cursor_next(cursor.get(), &stored) && bson_equal(stored, op.document.get());
}

}  // namespace

void ApplyBulk(mongoc_collection_t* collection, const std::vector<WriteOp>& ops, std::string_view what,
               const std::function<void(const WriteOp& op)>& on_conflict) {
  std::vector<Attempt> todo;
  todo.reserve(ops.size());
  for (const WriteOp& op : ops) todo.push_back({&op, false});
  auto backoff = kFirstBackoff;
  bool retried_transient = false;
  for (int attempt = 1; !todo.empty(); ++attempt) {
    const Sent sent = Send(collection, todo, what);
    if (sent.transient) {
      if (attempt >= kAttempts) Throw(sent.error, what);
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
      retried_transient = true;
      // Everything again, each op idempotent: inserts that went through come back as duplicates, and an
      // insert-or-replace goes as the replace it may now be.
      for (Attempt& item : todo) item.as_replace = item.op->type == WriteOp::Type::kInsertOrReplace;
      continue;
    }
    if (sent.write_errors.empty()) return;
    std::vector<bool> failed(todo.size(), false);
    for (const WriteError& write_error : sent.write_errors) {
      if (write_error.index < todo.size()) failed[write_error.index] = true;
    }
    std::vector<Attempt> again;
    for (std::size_t i = 0; i < todo.size(); ++i) {
      const Attempt& item = todo[i];
      if (IsInsert(*item.op, item.as_replace)) {
        if (!failed[i]) continue;  // inserted
        if (item.op->type == WriteOp::Type::kInsertOrReplace) {
          again.push_back({item.op, true});  // its _id is taken: replace what is there
        } else if (!(retried_transient && HoldsExactly(collection, *item.op))) {
          on_conflict(*item.op);  // an insert that must not find its key taken
          throw Error(Errc::kConflict, std::string("MongoDB: ") + std::string(what) + ": duplicate key");
        }
        continue;
      }
      if (failed[i] && attempt >= kAttempts) {
        // Still a duplicate after the retries: another document holds a unique key of this one.
        if (on_conflict) on_conflict(*item.op);
        throw Error(Errc::kConflict, std::string("MongoDB: ") + std::string(what) + ": duplicate key");
      }
      // Every replace, update and delete again (idempotent): some servers (FerretDB) stop an unordered bulk of
      // updates at its first error without saying which of the others were applied.
      again.push_back(item);
    }
    todo = std::move(again);
  }
}

}  // namespace meta_db::mongo
