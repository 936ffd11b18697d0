// Bulk execution, write-error parsing and retries for the MongoDB back-end.
#include "store/mongo/mongo_bulk.hpp"

#include "store/mongo/mongo_errors.hpp"

#include <chrono>
#include <thread>

namespace meta_db::mongo {

namespace {

constexpr int kAttempts = 4;
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

}  // namespace

void ApplyBulk(mongoc_collection_t* collection, const std::vector<WriteOp>& ops, std::string_view what,
               const std::function<void(const WriteOp& op)>& on_conflict) {
  std::vector<Attempt> todo;
  todo.reserve(ops.size());
  for (const WriteOp& op : ops) todo.push_back({&op, false});
  auto backoff = kFirstBackoff;
  bool retried_transient = false;
  for (int attempt = 1; !todo.empty(); ++attempt) {
    Bson bulk_opts;
    bson_append_bool(bulk_opts.get(), "ordered", 7, false);
    BulkPtr bulk(mongoc_collection_create_bulk_operation_with_opts(collection, bulk_opts.get()));
    bson_error_t error;
    for (const Attempt& item : todo) {
      if (!Add(bulk.get(), *item.op, item.as_replace, error)) Throw(error, what);
    }
    Bson reply;
    if (mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error) != 0) return;
    const std::vector<WriteError> write_errors = WriteErrorsOf(reply.get());
    if (write_errors.empty()) {
      if (!IsTransient(error) || attempt >= kAttempts) Throw(error, what);
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
      retried_transient = true;
      // Everything again, each op idempotent: inserts that went through come back as duplicates, and an
      // insert-or-replace goes as the replace it may now be.
      for (Attempt& item : todo) item.as_replace = item.op->type == WriteOp::Type::kInsertOrReplace;
      continue;
    }
    std::vector<bool> failed(todo.size(), false);
    for (const WriteError& write_error : write_errors) {
      if (write_error.index >= todo.size() || write_error.code != kDuplicateKey) Throw(error, what);
      failed[write_error.index] = true;
    }
    std::vector<Attempt> again;
    for (std::size_t i = 0; i < todo.size(); ++i) {
      const Attempt& item = todo[i];
      if (IsInsert(*item.op, item.as_replace)) {
        if (!failed[i]) continue;  // inserted
        if (item.op->type == WriteOp::Type::kInsertOrReplace) {
          again.push_back({item.op, true});  // its _id is taken: replace what is there
        } else if (!retried_transient) {
          on_conflict(*item.op);  // an insert that must not find its key taken
        }
        continue;
      }
      if (failed[i] && attempt >= kAttempts) {
        // Still a duplicate after the retries: another document holds a unique key of this one.
        if (on_conflict) on_conflict(*item.op);
        Throw(error, what);
      }
      again.push_back(item);
    }
    todo = std::move(again);
  }
}

}  // namespace meta_db::mongo
