// Header-only DICOM metadata extraction: one file in, the study/series/instance documents out (never pixels).
// Thread-safety: an Extractor is immutable after construction; ExtractFile may run on many threads at once.
// Construction also sets process-wide DCMTK options (log level FATAL; dataset transfer syntax auto-detection;
// UN values read with the dictionary VR), so construct Extractors before other threads use DCMTK.
// Errors: per-file problems are values (FileOutcome::kError with a reason), never exceptions.
#pragma once

#include <memory>
#include <string>

#include "meta_extractor/header_reader.hpp"
#include "meta_extractor/tag_profile.hpp"

namespace meta_db::extractor {
namespace detail {
struct TagIndex;
}

struct ExtractorOptions {
  // Parse common little-endian headers with meta_db's own strict scanner (several times faster) and use DCMTK
  // for everything else; false = always DCMTK. Both give identical results (tests/extractor check it).
  bool fast_path = true;
};

class Extractor final : public HeaderReader {
 public:
  explicit Extractor(ProfileSet profiles);
  Extractor(ProfileSet profiles, ExtractorOptions options);
  ExtractResult ExtractFile(const std::string& path) const override;
  const ProfileSet& profiles() const { return profiles_; }

 private:
  ProfileSet profiles_;
  ExtractorOptions options_;
  std::shared_ptr<const detail::TagIndex> index_;  // tag -> destinations, built once from profiles_
};

}  // namespace meta_db::extractor
