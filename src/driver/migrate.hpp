// `meta_db migrate --from URI --to URI`: copies a catalogue and its ingest ledger between stores (SQLite -> MongoDB
// is how a user who outgrows the embedded store moves), document for document, ids and timestamps kept.
// Idempotent and resumable: documents already equal in the target are skipped, others written with upserts; a
// re-run after an interruption finishes the copy. Documents only the target holds are left alone.
// Errors: the stores' (kConflict when the target holds another document with the same unique key).
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace meta_db::driver {

struct MigrateSummary {
  std::int64_t documents = 0, written = 0, unchanged = 0;  // catalogue documents
  std::int64_t file_records = 0, directory_digests = 0, errors = 0;
};

MigrateSummary Migrate(Store& from, Store& to, const std::function<void(const std::string&)>& progress);

}  // namespace meta_db::driver
