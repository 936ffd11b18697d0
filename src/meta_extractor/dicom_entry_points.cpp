// The DICOM library's own table of entry points.
#include "meta_extractor/dicom_entry_points.hpp"

#include "meta_extractor/extractor.hpp"

namespace meta_db::extractor {

const DicomEntryPoints& LinkedDicomEntryPoints() {
  static const DicomEntryPoints entry_points{
      .default_profiles = [] { return ProfileSet::Defaults(); },
      .load_profiles = [](const std::filesystem::path& dir) { return ProfileSet::Load(dir); },
      .make_reader = [](ProfileSet profiles) -> std::unique_ptr<HeaderReader> {
        return std::make_unique<Extractor>(std::move(profiles));
      },
      .write_synth_archive = [](const synth::SynthOptions& options) { return synth::WriteSynthArchive(options); },
      .lookup_dictionary = [](std::string_view text) { return LookupDictionary(text); },
  };
  return entry_points;
}

}  // namespace meta_db::extractor
