// The parallel extraction pipeline of `meta_db extract` and ingest: walk, prefetch, parse, caller's sink.
// Thread-safety: ScanArchive may be called concurrently with different sinks; the HeaderReader is shared read-only.
// Errors: a bad root throws Error(kBadRequest) (from WalkArchive); per-file failures are ScanItem values; an
// exception thrown by `sink` or `needs_parse` stops the scan promptly (all threads joined) and propagates.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>

#include "meta_extractor/archive_walk.hpp"
#include "meta_extractor/header_reader.hpp"

namespace meta_db::annotations {
struct LidcRead;
}

namespace meta_db::extractor {

struct ScanItem;

struct ScanOptions {
  int threads = 0;   // parser threads; 0 = hardware_concurrency
  int io_depth = 0;  // files prefetched ahead of the parsers (helps cold/network mounts); 0 = 32*threads, <0 = none
  int walkers = 0;   // threads walking the directory tree; 0 = 2
  // Called on the walker threads, concurrently (each file once): null = parse everything; false = a file to leave
  // alone (unchanged since the last ingest): neither prefetched nor parsed nor handed to the sink, only counted.
  std::function<bool(const WalkEntry&)> needs_parse{};
  // Optional, called like needs_parse (and only once it may be) with each directory's files before needs_parse sees
  // any of them: true = all of them are unchanged, declined without a needs_parse call each.
  std::function<bool(const DirectoryFiles&)> unchanged_directory{};
  // Optional, runs on the parser threads right after each item is made (so it must be thread-safe): per-item work
  // that should scale with the parsers instead of serialising on the caller, e.g. rendering ScanItem::text.
  std::function<void(ScanItem&)> prepare{};
  // Optional, called on the CALLING thread (like the sink) with how many more files needs_parse declined, in chunks
  // as the walk goes: a scan that parses nothing still reports progress.
  std::function<void(std::int64_t)> declined{};
  // When valid, needs_parse is not called before this is ready (it may still be loading what it decides from, e.g.
  // the last ingest's file records); the walk goes on meanwhile and holds back a bounded number of entries.
  std::shared_future<void> needs_parse_ready{};
};

struct ScanItem {
  WalkEntry entry;
  ExtractResult result;
  std::string text;  // free for ScanOptions::prepare (e.g. the serialised JSON line); empty otherwise
  // Set by ingest's prepare for a non-DICOM file that is an LIDC reader XML (docs/annotations.md).
  std::shared_ptr<const annotations::LidcRead> lidc{};
};

struct ScanStats {
  std::int64_t files = 0, parsed = 0, dicom = 0, not_dicom = 0, errors = 0, incomplete = 0, unreadable_dirs = 0;
  std::int64_t declined = 0;  // files needs_parse declined (files == parsed + declined)
  std::int64_t unseen_files = 0;
  std::vector<UnseenPath> unseen;  // what the walk could not see (WalkStats::unseen)
};

// Adds one parsed file with this outcome, as ScanArchive counts it (for sinks that keep live counts).
void CountParsed(ScanStats& stats, FileOutcome outcome);

// Walks root and parses files in parallel; `sink` is called on the CALLING thread, one item at a time, for every
// parsed file, in any order. Memory is bounded (bounded queues; the archive is never held in memory).
ScanStats ScanArchive(const std::string& root, const HeaderReader& extractor, const ScanOptions& options,
                      const std::function<void(ScanItem&&)>& sink);

// The same with the extractor made on first use (by the first file that needs parsing), so a scan that parses
// nothing — an unchanged archive re-ingested — never pays for building one (DCMTK's dictionary, profiles).
// `make_extractor` runs at most once, on a parser thread.
using ExtractorProvider = std::function<const HeaderReader&()>;
ScanStats ScanArchive(const std::string& root, const ExtractorProvider& extractor, const ScanOptions& options,
                      const std::function<void(ScanItem&&)>& sink);

}  // namespace meta_db::extractor
