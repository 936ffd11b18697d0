// Ingest orchestration: root checks, incremental file selection, the parallel scan, progress and summary.
#include "driver/ingest.hpp"

#include "catalog/catalog.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/stable_hash.hpp"
#include "annotations/lidc_read.hpp"
#include "driver/annotation_link.hpp"
#include "driver/batch_writer.hpp"
#include "driver/directory_digests.hpp"
#include "driver/progress.hpp"
#include "meta_extractor/dicom_entry_points.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <filesystem>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <unordered_set>

namespace meta_db::driver {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

// The canonical root with a trailing '/', so prefix ranges select exactly the files under it. Symlinks in the root's
// own path are resolved here, once; the walk follows none below it.
std::string CanonicalRoot(const std::string& archive) {
  std::error_code ec;
  const fs::path root = fs::canonical(archive, ec);
  if (ec == std::errc::no_such_file_or_directory) {
    throw Error(Errc::kBadRequest, "archive root '" + archive +
                                       "' does not exist (is its file system mounted?); nothing was changed");
  }
  if (ec) throw Error(Errc::kBadRequest, "archive root '" + archive + "': " + ec.message() + "; nothing was changed");
  if (!fs::is_directory(root, ec)) {
    throw Error(Errc::kBadRequest, "archive root '" + archive + "' is not a directory; nothing was changed");
  }
  std::string text = root.string();
  if (text.back() != '/') text += '/';
  return text;
}

// The register's reasons for paths the walk could not see start with this, so a later run can tell them from files
// that failed to parse and clear them once it sees the path again.
constexpr std::string_view kNotSeen = "not seen by ingest: ";
constexpr std::size_t kMaxListedUnseen = 20;

// The register's key of an unseen path: a directory's ends with '/', as a directory's digest key does.
std::string RegisterKeyOf(const extractor::UnseenPath& unseen) {
  return unseen.directory ? unseen.path + '/' : unseen.path;
}

// The paths the walk could not see; a file record at or under one of them is unknown to this run.
class UnseenPaths {
 public:
  UnseenPaths(const std::vector<extractor::UnseenPath>& unseen, std::size_t root_size) : root_size_(root_size) {
    for (const extractor::UnseenPath& path : unseen) paths_.insert(path.path);
  }
  bool Covers(std::string_view path) const {
    if (paths_.empty()) return false;
    if (paths_.contains(std::string(path))) return true;
    // Each ancestor below the root, and the root itself (whose own listing may have failed).
    for (std::size_t slash = path.find('/', root_size_ - 1); slash != std::string_view::npos;
         slash = path.find('/', slash + 1)) {
      if (paths_.contains(std::string(path.substr(0, slash)))) return true;
    }
    return false;
  }

 private:
  std::unordered_set<std::string> paths_;
  std::size_t root_size_;
};

// Shards split the archive by patient directory (its first path component) so a study never spans shards.
// A stable hash rather than std::hash: every machine of a sharded ingest must agree, whatever its library.
bool InShard(std::string_view path, const std::string& root, const IngestOptions& options) {
  if (options.shard_count <= 1 || path.size() <= root.size()) return true;  // the root itself: every shard's
  const std::string_view relative = path.substr(root.size());
  const std::string_view top = relative.substr(0, relative.find('/'));
  return StableHash(top) % static_cast<std::uint64_t>(options.shard_count) ==
         static_cast<std::uint64_t>(options.shard_index);
}

// Unchanged size and mtime mean unchanged content — also for a file that failed to parse, whose register entry
// stands; unless its status says to read it every run.
bool IsUnchanged(const KnownFiles::File& known, const extractor::WalkEntry& entry) {
  return known.size == entry.size && known.mtime_ns == entry.mtime_ns && IsSettled(known.status);
}

// A directory below the root is in one shard with all its files; the root's own files are sharded one by one.
// Whether some of the files of `directory` (with its trailing '/') are this run's:
bool HasFilesInShard(std::string_view directory, const std::string& root, const IngestOptions& options) {
  return options.shard_count <= 1 || directory.size() == root.size() || InShard(directory, root, options);
}
// Whether all of them are, so this run may judge the directory as a whole:
bool JudgesDirectory(std::string_view directory, const std::string& root, const IngestOptions& options) {
  return options.shard_count <= 1 || (directory.size() > root.size() && InShard(directory, root, options));
}

std::optional<ObjectId> EnsureCollection(Store& store, const std::string& name) {
  if (name.empty()) return std::nullopt;
  std::optional<ObjectId> id;
  store.Read([&](Session& session) {
    if (auto existing = session.GetByKey(Kind::kCollections, name)) id = ObjectId::Parse(existing->at("_id").as_string());
  });
  if (id) return id;  // no write transaction when the collection exists
  try {
    store.Write([&](Session& session) {
      auto existing = session.GetByKey(Kind::kCollections, name);
      if (!existing) {
        Document doc;
        doc["name"] = name;
        doc["description"] = "Ingested by meta_db";
        existing = catalog::Create(session, Kind::kCollections, std::move(doc));
      }
      id = ObjectId::Parse(existing->at("_id").as_string());
    });
  } catch (const Error& error) {
    // Another ingest (a shard on another machine) created it meanwhile: use theirs.
    if (error.code() != Errc::kConflict) throw;
    store.Read([&](Session& session) {
      if (auto existing = session.GetByKey(Kind::kCollections, name)) id = ObjectId::Parse(existing->at("_id").as_string());
    });
    if (!id) throw;
  }
  return id;
}

// Names this run's unseen paths in the error register and clears the entries earlier runs made for paths this run
// saw (or found absent): the register then says exactly which paths the last ingest could not see. An unseen file
// that already has an entry (it failed to parse earlier) keeps it: its file record's failure still stands.
void RegisterUnseen(Store& store, const std::string& root, const std::vector<extractor::UnseenPath>& unseen,
                    const IngestOptions& options) {
  std::map<std::string, std::string> now_unseen;  // register key -> reason
  for (const extractor::UnseenPath& path : unseen) {
    std::string key = RegisterKeyOf(path);
    if (InShard(key, root, options)) now_unseen.emplace(std::move(key), std::string(kNotSeen) + path.reason);
  }
  std::vector<std::string> stale;
  store.Read([&](Session& session) {
    constexpr std::int64_t kPage = 5000;
    for (std::int64_t skip = 0;; skip += kPage) {
      const std::vector<ErrorRecord> errors = session.Errors(skip, kPage);
      for (const ErrorRecord& error : errors) {
        const bool under_root = error.path.starts_with(root) || error.path + '/' == root;
        if (!under_root || !InShard(error.path, root, options)) continue;
        const auto found = now_unseen.find(error.path);
        if (!error.reason.starts_with(kNotSeen)) {
          if (found != now_unseen.end()) now_unseen.erase(found);  // a parse failure's entry stands
        } else if (found == now_unseen.end()) {
          stale.push_back(error.path);
        }
      }
      if (static_cast<std::int64_t>(errors.size()) < kPage) break;
    }
  });
  if (now_unseen.empty() && stale.empty()) return;
  const std::string now = NowIsoUtc();
  store.Write([&](Session& session) {
    for (const auto& [path, reason] : now_unseen) session.PutError(path, reason, now);
    for (const std::string& path : stale) session.ClearError(path);
  });
}

}  // namespace

IngestSummary RunIngest(const StoreOpener& open_store, const IngestOptions& options, std::ostream& progress_stream) {
  const auto started = std::chrono::steady_clock::now();
  const std::string root = CanonicalRoot(options.archive);
  // A given profile is read (and validated) now, so a bad keyword stops the run before it starts; the
  // extractor itself — and with it the DICOM module — is made by the first file that needs parsing.
  std::optional<extractor::ProfileSet> profiles;
  if (!options.profile_dir.empty()) profiles = extractor::Dicom().load_profiles(options.profile_dir);
  std::unique_ptr<extractor::HeaderReader> reader;
  std::once_flag reader_made;
  const extractor::ExtractorProvider provide_extractor = [&]() -> const extractor::HeaderReader& {
    std::call_once(reader_made, [&] {
      const extractor::DicomEntryPoints& dicom = extractor::Dicom();
      reader = dicom.make_reader(profiles ? std::move(*profiles) : dicom.default_profiles());
    });
    return *reader;
  };
  // The store opens and the directory digests load while the walk starts: the walkers hold entries back until
  // they are in. The last ingest's file records load only when some directory has to be judged file by file.
  std::unique_ptr<Store> store;
  DirectoryDigests digests;
  KnownFiles previous;
  std::once_flag previous_loaded;
  std::atomic<bool> previous_in{false};
  const auto load_previous = [&] {
    std::call_once(previous_loaded, [&] {
      store->Read([&](Session& session) { previous.Load(session, root); });
      previous_in = true;
    });
  };
  std::optional<ObjectId> collection_id;
  std::shared_future<void> ready = std::async(std::launch::async, [&] {
    store = open_store();
    store->Read([&](Session& session) { digests.Load(session, root); });
    collection_id = EnsureCollection(*store, options.collection);
  }).share();
  const auto judged = [&](std::string_view directory) { return JudgesDirectory(directory, root, options); };
  IngestSummary summary;
  // Made once the store is open: by the first parsed file (which waited for it), or after the walk.
  std::optional<BatchWriter> writer;
  const auto writer_ready = [&]() -> BatchWriter& {
    if (!writer) writer.emplace(*store, collection_id, previous, summary);
    return *writer;
  };
  Progress progress(progress_stream, options.progress);
  extractor::ScanOptions scan;
  scan.threads = options.threads;
  scan.needs_parse_ready = ready;
  // LIDC reader XML is recognised by content among the non-DICOM files and parsed on the parser threads.
  scan.prepare = [](extractor::ScanItem& item) {
    if (item.result.outcome != extractor::FileOutcome::kNotDicom) return;
    annotations::ReadOutcome read = annotations::ReadLidcFile(item.entry.path);
    if (!read.is_lidc) return;
    if (!read.error.empty()) {
      item.result.outcome = extractor::FileOutcome::kError;
      item.result.error = std::move(read.error);
      return;
    }
    item.lidc = std::make_shared<const annotations::LidcRead>(std::move(*read.read));
  };
  std::atomic<std::int64_t> unchanged{0};
  scan.unchanged_directory = [&](const extractor::DirectoryFiles& part) {
    if (part.files.empty()) return false;
    const std::string_view directory = DirectoryOf(part.files.front().path);
    if (!HasFilesInShard(directory, root, options)) return false;  // needs_parse declines each, unlooked-up
    if (digests.Unchanged(part, judged(directory))) {
      unchanged.fetch_add(static_cast<std::int64_t>(part.files.size()), std::memory_order_relaxed);
      return true;
    }
    load_previous();  // before needs_parse looks the files up
    return false;
  };
  scan.needs_parse = [&](const extractor::WalkEntry& entry) {
    if (!InShard(entry.path, root, options)) return false;
    // Runs on the walker threads; the one that meets a file is the only one to write its `seen`.
    const KnownFiles::File* known = previous.Find(entry.path);
    if (known == nullptr) return true;
    known->seen = true;
    if (!IsUnchanged(*known, entry)) return true;
    unchanged.fetch_add(1, std::memory_order_relaxed);
    return false;
  };
  // The parsed files counted live (the scan's own totals come only at its end), for the progress line.
  extractor::ScanStats parsed;
  const auto tally = [&] {
    summary.dicom_parsed = parsed.dicom;
    summary.not_dicom = parsed.not_dicom;
    summary.failed = parsed.errors;
    summary.incomplete = parsed.incomplete;
    summary.unchanged_files = unchanged.load(std::memory_order_relaxed);
    summary.files_seen = parsed.parsed + summary.unchanged_files;
  };
  // Runs on this thread after each parsed file and each count of declined ones — only once the file records are
  // in, since the walkers waited for them before deciding anything.
  const auto account = [&] {
    if (summary.files_seen == 0) {
      progress.Expect(std::max(digests.known_files(), static_cast<std::int64_t>(previous.size())));
    }
    tally();
    progress.Update(summary);
  };
  scan.declined = [&](std::int64_t) { account(); };
  const extractor::ScanStats stats = extractor::ScanArchive(root, provide_extractor, scan, [&](extractor::ScanItem&& item) {
    extractor::CountParsed(parsed, item.result.outcome);
    writer_ready().Add(std::move(item), options.batch_files);
    account();
  });
  ready.get();  // an empty or fully declined archive never made anything wait for it
  tally();
  if (writer) writer->Flush();
  summary.unreadable_dirs = stats.unreadable_dirs;
  summary.unseen_files = stats.unseen_files;
  for (const extractor::UnseenPath& unseen : stats.unseen) {
    if (summary.unseen.size() >= kMaxListedUnseen) break;
    summary.unseen.emplace_back(RegisterKeyOf(unseen), unseen.reason);
  }

  // The mount point of an unmounted file system is an empty directory: taking it at its word would empty the
  // catalogue. Nothing has been written yet that removes anything.
  if (stats.files == 0 && stats.unseen.empty() && !options.allow_empty) {
    load_previous();
    if (previous.size() > 0) {
      throw Error(Errc::kBadRequest, "archive root '" + root + "' is empty, but the catalogue holds " +
                                         std::to_string(previous.size()) +
                                         " files under it (is its file system mounted?); nothing was removed. "
                                         "Pass --allow-empty if the archive really is empty now");
    }
  }

  // Files gone since the last ingest: records the walk did not meet, outside the directories found unchanged as a
  // whole (whose records were never looked up) and outside what the walk could not see (unknown, not gone: only a
  // file missing from a directory listed to the end has disappeared). When every stored directory was met and
  // unchanged, there are none.
  if (previous_in || digests.MissedStored([&](std::string_view directory) {
        return HasFilesInShard(directory, root, options);
      })) {
    load_previous();
  }
  const UnseenPaths unseen(stats.unseen, root.size());
  std::vector<FileRecord> gone;
  for (const KnownFiles::File& known : previous.files()) {
    const std::string_view path = previous.PathOf(known);
    if (!known.seen && InShard(path, root, options) && !digests.IsUnchanged(DirectoryOf(path))) {
      if (unseen.Covers(path)) {
        ++summary.unknown_files;
      } else {
        gone.push_back(previous.RecordOf(known));
      }
    }
  }
  // An unchanged archive needs no writer at all (nothing parsed, nothing gone): no thread, no transaction.
  if (writer || !gone.empty()) {
    writer_ready().RemoveDisappeared(gone);
    for (extractor::WalkEntry& entry : writer->OrphanedDuplicates()) {
      extractor::ScanItem item{.entry = std::move(entry), .result = {}, .text = {}, .lidc = {}};
      item.result = provide_extractor().ExtractFile(item.entry.path);
      writer->Add(std::move(item), options.batch_files);
    }
    writer->Flush();
    writer->Finish();
  }
  {
    // Marks linked to the series that exist now (this run's, or earlier runs' still waiting for theirs).
    const AnnotationLinkSummary linked =
        writer ? LinkAnnotations(*store, writer->AnnotationSeries(), &writer->CreatedSlices())
               : LinkAnnotations(*store, std::set<std::string>{});
    summary.annotations_linked = linked.linked;
    summary.annotations_unlinked = linked.unlinked;
    summary.annotated_series = linked.series_refreshed;
  }
  RegisterUnseen(*store, root, stats.unseen, options);
  // The records of directories this run recorded first are known without reading them back.
  const KnownFiles* loaded = previous_in ? &previous : nullptr;
  digests.Save(*store, judged, [&](std::string_view directory) -> std::optional<RecordDigest> {
    if (!writer) return std::nullopt;
    return writer->Written().DigestOf(directory, loaded);
  });
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  summary.files_per_second = summary.seconds > 0 ? static_cast<double>(summary.files_seen) / summary.seconds : 0;
  progress.Done(summary);
  return summary;
}

std::string SummaryJson(const IngestSummary& summary) {
  auto level = [](const LevelCounts& counts) {
    return json::object{{"inserted", counts.inserted},
                        {"updated", counts.updated},
                        {"unchanged", counts.unchanged},
                        {"removed", counts.removed}};
  };
  json::array failures;
  for (const auto& [path, reason] : summary.failures) failures.push_back(json::object{{"path", path}, {"reason", reason}});
  json::array notes;
  for (const auto& [path, note] : summary.notes) notes.push_back(json::object{{"path", path}, {"note", note}});
  json::array unseen;
  for (const auto& [path, reason] : summary.unseen) unseen.push_back(json::object{{"path", path}, {"reason", reason}});
  json::object out{{"files_seen", summary.files_seen},
                   {"unchanged_files", summary.unchanged_files},
                   {"dicom_parsed", summary.dicom_parsed},
                   {"not_dicom", summary.not_dicom},
                   {"failed", summary.failed},
                   {"incomplete", summary.incomplete},
                   {"duplicates", summary.duplicates},
                   {"disappeared", summary.disappeared},
                   {"unreadable_dirs", summary.unreadable_dirs},
                   {"unseen_files", summary.unseen_files},
                   {"unknown_files", summary.unknown_files},
                   {"unseen", std::move(unseen)},
                   {"studies", level(summary.studies)},
                   {"series", level(summary.series)},
                   {"instances", level(summary.instances)},
                   {"failures", std::move(failures)},
                   {"noted", summary.noted},
                   {"notes", std::move(notes)},
                   {"annotations", json::object{{"files", summary.annotation_files},
                                                {"linked", summary.annotations_linked},
                                                {"unlinked", summary.annotations_unlinked},
                                                {"series", summary.annotated_series}}},
                   {"warnings", json::array(summary.warnings.begin(), summary.warnings.end())},
                   {"seconds", summary.seconds},
                   {"files_per_second", summary.files_per_second}};
  return json::serialize(out);
}

void PrintSummary(const IngestSummary& s, std::ostream& out) {
  auto level = [&](const char* name, const LevelCounts& c) {
    out << "  " << name << ": " << c.inserted << " inserted, " << c.updated << " updated, " << c.unchanged
        << " unchanged, " << c.removed << " removed\n";
  };
  out << "ingest: " << s.files_seen << " files seen (" << s.unchanged_files << " unchanged since last ingest), "
      << s.dicom_parsed << " DICOM parsed, " << s.not_dicom << " non-DICOM skipped, " << s.failed << " failed, "
      << s.incomplete << " incomplete, " << s.duplicates << " duplicate SOP Instance UIDs, " << s.disappeared
      << " disappeared\n";
  level("studies", s.studies);
  level("series", s.series);
  level("instances", s.instances);
  for (const auto& [path, reason] : s.failures) out << "  failed: " << path << ": " << reason << "\n";
  for (const auto& [path, note] : s.notes) out << "  read with a note: " << path << ": " << note << "\n";
  if (s.unreadable_dirs + s.unseen_files > 0) {
    out << "  not seen: " << s.unreadable_dirs << " directories and " << s.unseen_files
        << " files could not be read; the " << s.unknown_files
        << " files the catalogue holds there are kept as they were (unknown, not gone) until an ingest sees them\n";
    for (const auto& [path, reason] : s.unseen) out << "  not seen: " << path << ": " << reason << "\n";
    const auto listed = static_cast<std::int64_t>(s.unseen.size());
    if (s.unreadable_dirs + s.unseen_files > listed) {
      out << "  not seen: ... and " << s.unreadable_dirs + s.unseen_files - listed << " more (see the error register)\n";
    }
  }
  if (s.annotation_files + s.annotations_linked + s.annotations_unlinked > 0) {
    out << "  annotations: " << s.annotation_files << " LIDC XML files read, " << s.annotations_linked
        << " marks linked to their series, " << s.annotations_unlinked
        << " kept without a series (not in the catalogue yet), " << s.annotated_series << " series summarised\n";
  }
  for (const std::string& warning : s.warnings) out << "  warning: " << warning << "\n";
  out << "  " << s.seconds << " s, " << static_cast<long long>(s.files_per_second) << " files/s\n";
}

}  // namespace meta_db::driver
