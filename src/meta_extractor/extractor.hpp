// Header-only DICOM metadata extraction: one file in, the study/series/instance documents out (never pixels).
// Thread-safety: an Extractor is immutable after construction; ExtractFile may run on many threads at once.
// Construction also sets process-wide DCMTK options (log level FATAL; dataset transfer syntax auto-detection;
// UN values read with the dictionary VR), so construct Extractors before other threads use DCMTK.
// Errors: per-file problems are values (FileOutcome::kError with a reason), never exceptions.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <string>

#include "meta_extractor/tag_profile.hpp"

namespace meta_db::extractor {
namespace detail {
struct TagIndex;
}

// One DICOM instance's metadata, split by level using the tag profiles. Field names follow the seed's schema:
// study:    study_instance_uid, accession_number, patient_id, study_date, metadata{...}
// series:   series_instance_uid, series_number, series_description, modality, metadata{...}
// instance: sop_instance_uid, sop_class_uid, acquisition_datetime, instance_number, metadata{...}
// Promoted fields are present only when the file has the attribute (missing stays missing).
struct ExtractedInstance {
  std::string path;
  boost::json::object study;
  boost::json::object series;
  boost::json::object instance;
};

enum class FileOutcome {
  kDicom,       // parsed; `record` filled
  kNotDicom,    // not recognised as DICOM by content (e.g. the .xml annotations); skipped
  kError,       // looked like DICOM but could not be used; `error` says why
  kIncomplete,  // parsed but lacks Study/Series/SOP Instance UID; `error` names what is missing
};

struct ExtractResult {
  FileOutcome outcome = FileOutcome::kNotDicom;
  ExtractedInstance record;
  std::string error;
};

struct ExtractorOptions {
  // Parse common little-endian headers with meta_db's own strict scanner (several times faster) and use DCMTK
  // for everything else; false = always DCMTK. Both give identical results (tests/extractor check it).
  bool fast_path = true;
};

class Extractor {
 public:
  explicit Extractor(ProfileSet profiles);
  Extractor(ProfileSet profiles, ExtractorOptions options);
  ExtractResult ExtractFile(const std::string& path) const;
  const ProfileSet& profiles() const { return profiles_; }

 private:
  ProfileSet profiles_;
  ExtractorOptions options_;
  std::shared_ptr<const detail::TagIndex> index_;  // tag -> destinations, built once from profiles_
};

// Serialises a result as the `meta_db extract` JSON line: {"path","study","series","instance"} or
// {"path","error"}.
boost::json::object ToExtractLine(const ExtractResult& result);

}  // namespace meta_db::extractor
