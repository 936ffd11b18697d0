// Tag profiles: which DICOM attributes are stored at study, series and instance level.
// Plain text, one keyword (e.g. "SliceThickness") or "(gggg,eeee)" per line, '#' comments.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace meta_db::extractor {

struct ProfileTag {
  std::uint16_t group = 0;
  std::uint16_t element = 0;
  std::string keyword;  // dictionary keyword; for unknown (private) tags "gggg,eeee" hex
};

struct TagProfile {
  std::vector<ProfileTag> tags;
};

struct ProfileSet {
  TagProfile study, series, instance;
  // The shipped defaults (what LIDC-IDRI researchers filter on), compiled in.
  static ProfileSet Defaults();
  // Reads study.txt, series.txt and instance.txt from `dir`; a missing file keeps that level's default.
  // Throws Error(kUnprocessable) naming file and line for an unknown keyword or a malformed tag.
  static ProfileSet Load(const std::filesystem::path& dir);
};

}  // namespace meta_db::extractor
