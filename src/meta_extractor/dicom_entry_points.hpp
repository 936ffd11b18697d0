// The DICOM half of meta_db (DCMTK: header parsing, tag profiles, synthetic archives) behind one table of entry
// points. The meta_db binary loads it as a module on first use: DCMTK and the libraries it pulls in (libxml2,
// ICU) cost every process ~1.3 ms to load and relocate, and most runs never read a header (an unchanged
// re-ingest, stats, serve). Tests link it in directly.
#pragma once

#include <boost/json/object.hpp>
#include <filesystem>
#include <memory>

#include "meta_extractor/dictionary.hpp"
#include "meta_extractor/header_reader.hpp"
#include "meta_extractor/tag_profile.hpp"
#include "synth/synth.hpp"

namespace meta_db::extractor {

struct DicomEntryPoints {
  ProfileSet (*default_profiles)();
  // Throws Error(kUnprocessable) naming file and line for a bad profile.
  ProfileSet (*load_profiles)(const std::filesystem::path& dir);
  std::unique_ptr<HeaderReader> (*make_reader)(ProfileSet profiles);
  boost::json::object (*write_synth_archive)(const synth::SynthOptions& options);
  std::optional<DictionaryEntry> (*lookup_dictionary)(std::string_view keyword_or_tag);
};

// The entry points of this program: loaded from the module beside the executable (meta_db_dicom.so) on the first
// call, or linked in — whichever library the program was linked with defines it. Thread-safe; throws
// Error(kInternal) when the module cannot be loaded.
const DicomEntryPoints& Dicom();

// The entry points as compiled into the DICOM library itself (what the module hands out).
const DicomEntryPoints& LinkedDicomEntryPoints();

}  // namespace meta_db::extractor
