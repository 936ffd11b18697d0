// Deterministic LIDC-IDRI-like archive generator for tests, demos and benchmarks (`meta_db synth`).
// Thread-safety: WriteSynthArchive is reentrant (no shared state); two calls must not share `out`.
// Errors: Error(kBadRequest) for bad options; Error(kInternal) when a file cannot be written.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>

namespace meta_db::synth {

struct SynthOptions {
  int patients = 10;
  std::string out;     // archive root; created if missing
  bool small = false;  // 16x16 pixels instead of 512x512 (headers and slice counts unchanged)
  std::uint64_t seed = 1;
};

// Writes LIDC-IDRI-NNNN/<StudyUID>/<SeriesUID>/000001.dcm ... (one CT study of 80-300 slices per patient, ~15% of
// patients with an extra CR or DX study, one .xml reader annotation per CT series, every 50th image without
// extension, and per started 10 patients one zero-byte, one garbage and one header-truncated `.dcm`), then
// manifest.json at the root with the exact expected counts, which is also returned:
// {"patients","studies","series","instances","dicom_files","non_dicom_files","broken_files":{"zero_bytes",
//  "garbage","truncated","malformed_xml"},"annotations":{"files","malformed","readers","annotations","nodules",
//  "small_nodules","non_nodules","series_with_nodules"},"files_total","modalities":{"CT","CR","DX"} (series per
//  modality),"seed","small",
//  "qc_flags":{"<SeriesInstanceUID>": [expected series qc.flags]}} (geometry defects: synth/geometry_defects.hpp).
// The reader XML (synth/lidc_xml.hpp) marks nodules on the series' own slices; per
// started 10 patients one more read is cut short (malformed_xml, also counted in non_dicom_files).
// "non_dicom_files" counts the .xml files, not manifest.json; "files_total" counts every file incl. the manifest.
// The same options always produce byte-identical files.
boost::json::object WriteSynthArchive(const SynthOptions& options);

}  // namespace meta_db::synth
