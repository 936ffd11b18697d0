// Page-by-page copy between two stores: catalogue collections (parents first), then file records and the error
// register, then directory digests (last: writing a file record clears its directory's digest).
#include "driver/migrate.hpp"

#include "common/error.hpp"

#include <map>

namespace meta_db::driver {

namespace {

constexpr std::int64_t kPage = 1000;
constexpr std::size_t kLedgerChunk = 5000;
// Parents before children, so an interrupted copy never leaves a child without its parent.
constexpr Kind kCopyOrder[] = {Kind::kCollections, Kind::kResearchers, Kind::kStudies,    Kind::kSeries,
                               Kind::kInstances,   Kind::kJobs,        Kind::kJobRecords, Kind::kAnnotations};
static_assert(std::size(kCopyOrder) == std::size(kAllKinds));

}  // namespace

MigrateSummary Migrate(Store& from, Store& to, const std::function<void(const std::string&)>& progress) {
  MigrateSummary summary;
  for (Kind kind : kCopyOrder) {
    const std::string name(CollectionName(kind));
    std::int64_t total = 0, copied = 0;
    from.Read([&](Session& source) {
      total = source.Count(kind);
      source.VisitAll(kind, kPage, [&](std::vector<Document>& docs) {
        to.Write([&](Session& target) {
          std::vector<ObjectId> ids;
          ids.reserve(docs.size());
          for (const Document& doc : docs) ids.push_back(*ObjectId::Parse(doc.at("_id").as_string()));
          // What the target already holds of this page, in one query.
          query::Query q;
          boost::json::array hex;
          for (const ObjectId& id : ids) hex.emplace_back(id.ToHex());
          q.filter = query::ParseFilter(boost::json::object{{"_id", boost::json::object{{"$in", std::move(hex)}}}});
          q.limit = static_cast<std::int64_t>(docs.size());
          q.count_total = false;
          std::map<std::string, Document> held;
          for (Document& doc : target.Find(kind, q).results) {
            const std::string id(doc.at("_id").as_string());
            held.emplace(id, std::move(doc));
          }
          for (const Document& doc : docs) {
            const auto found = held.find(std::string(doc.at("_id").as_string()));
            if (found != held.end() && found->second == doc) {
              ++summary.unchanged;
              continue;
            }
            target.Put(kind, doc);
            ++summary.written;
          }
        });
        copied += static_cast<std::int64_t>(docs.size());
        summary.documents += static_cast<std::int64_t>(docs.size());
        progress(name + ": " + std::to_string(copied) + "/" + std::to_string(total));
      });
    });
  }

  std::vector<FileRecord> records;
  const auto flush_records = [&] {
    if (records.empty()) return;
    to.Write([&](Session& target) {
      for (const FileRecord& record : records) target.PutFileRecord(record);
    });
    summary.file_records += static_cast<std::int64_t>(records.size());
    progress("file records: " + std::to_string(summary.file_records));
    records.clear();
  };
  from.Read([&](Session& source) {
    source.VisitFileRecords("", [&](const FileRecordView& record) {
      records.push_back(record.Copy());
      if (records.size() >= kLedgerChunk) flush_records();
    });
  });
  flush_records();

  from.Read([&](Session& source) {
    for (std::int64_t skip = 0;; skip += static_cast<std::int64_t>(kLedgerChunk)) {
      const std::vector<ErrorRecord> errors = source.Errors(skip, static_cast<std::int64_t>(kLedgerChunk));
      if (errors.empty()) break;
      // Two units, so first_seen survives: the first write of an entry takes its time, a later one only moves
      // last_seen (a unit may fold several writes of one entry into its last).
      to.Write([&](Session& target) {
        for (const ErrorRecord& error : errors) target.PutError(error.path, error.reason, error.first_seen);
      });
      to.Write([&](Session& target) {
        for (const ErrorRecord& error : errors) target.PutError(error.path, error.reason, error.last_seen);
      });
      summary.errors += static_cast<std::int64_t>(errors.size());
    }
  });

  struct Row {
    std::string directory;
    std::int64_t digest, files;
  };
  std::vector<Row> digests;
  from.Read([&](Session& source) {
    source.VisitDirectoryDigests("", [&](const DirectoryDigest& row) {
      if (row.digest) digests.push_back({std::string(row.directory), *row.digest, row.files});
    });
  });
  to.Write([&](Session& target) {
    for (const Row& row : digests) target.PutDirectoryDigest(row.directory, row.digest, row.files);
  });
  summary.directory_digests = static_cast<std::int64_t>(digests.size());
  return summary;
}

}  // namespace meta_db::driver
