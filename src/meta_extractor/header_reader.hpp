// What reading one file's DICOM header gives (the documents or why not), and the interface that reads it.
// DCMTK-free on purpose: the walk, the scan and the driver use these types without loading the DICOM module.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <string>

namespace meta_db::extractor {

// At most this many bytes of one file's header are read into memory (PS3.10: the meta header and the dataset up to
// Pixel Data, or the whole file when it has none). Values longer than 64 KiB are skipped, not read, and do not
// count, so an SR, an encapsulated PDF or a huge private OB value costs no memory; a file whose header is longer
// still is registered as an error saying so. Memory per parser thread is bounded by this, never by file size.
inline constexpr std::size_t kMaxHeaderBytes = std::size_t{64} << 20;

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

// Reads one file's header into documents. Implementations are immutable and thread-safe; per-file problems are
// values (FileOutcome::kError with a reason), never exceptions.
class HeaderReader {
 public:
  virtual ~HeaderReader() = default;
  virtual ExtractResult ExtractFile(const std::string& path) const = 0;
};

// Serialises a result as the `meta_db extract` JSON line: {"path","study","series","instance"} or
// {"path","error"}.
boost::json::object ToExtractLine(const ExtractResult& result);

}  // namespace meta_db::extractor
