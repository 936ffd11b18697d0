// `meta_db extract ARCHIVE [--profile DIR] [--threads N]`: JSON lines of extracted metadata, no database.
#pragma once

#include <ostream>
#include <string>

namespace meta_db::driver {

// Prints one JSON line per DICOM, incomplete or failed file on `out` (non-DICOM files print nothing), then a
// one-line summary on `err`. Returns 0, or 2 after a one-line reason on `err` for a bad root or profile.
int RunExtract(const std::string& archive, const std::string& profile_dir, int threads, std::ostream& out,
               std::ostream& err);

}  // namespace meta_db::driver
